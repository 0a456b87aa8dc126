"""The shared world of the hostile-input catalogue: one app per database for the whole package.

Most cases share one app per database (a fresh app costs about a second; there are a
thousand cases), run once on SQLite and once on PostgreSQL: `world` is package-scoped and
parametrized, so pytest runs every module's SQLite cases on one app, then every PostgreSQL
case on another. "Nothing stored" is checked as "nothing changed": a snapshot of the ledger,
the plugins' rows and the files on disk is taken before the case and compared after it.
Cases that need an app of their own are in test_00_own_apps.py, which runs before the shared
app starts (only one app can run at a time)."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio

from mediahub.testing import make_settings, running_app
from tests.support.hostile_input import build_world, database_url, shared_overrides


# Cases that fail because of a known bug not fixed yet: `"test_name[case id]": "why"`
# (none today). strict: the day the bug is fixed, the xfail turns into a failure and the
# entry must go.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def known_failure(request):
    # The same case on either database: "test_x[sqlite-a-b]" -> "test_x[a-b]".
    case = re.sub(r"\[(sqlite|postgres)-?", "[", request.node.name).replace("[]", "")
    reason = KNOWN_FAILURES.get(case)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


# The whole catalogue runs on both databases: PostgreSQL refuses some text that SQLite
# stores (NUL characters), so a 500 can hide on one of them only.
@pytest_asyncio.fixture(scope="package", loop_scope="package", params=["sqlite", "postgres"])
async def world(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"hostile_{request.param}")
    root = base / "media"
    outside = base / "outside-secret.txt"
    outside.write_text("TOP-SECRET-OUTSIDE-THE-ROOT")
    (base / "media-evil").mkdir()
    (base / "media-evil" / "x").write_text("TOP-SECRET-SIBLING")
    overrides = shared_overrides(root)
    async with database_url(request.param) as url:
        if url:
            overrides["database"] = {"url": url}
        async with running_app(make_settings(base / "data", overrides)) as app:
            yield await build_world(app, root, outside)
