"""Every patch of a library's internals (Quart, Hypercorn, Tortoise ORM), one module per library.

Each shim names the library, the versions it was tested with (`TESTED`), and an `apply`
that checks the installed version, checks that the internals it touches still exist, and
logs — never raises — when it cannot apply (the feature it adds is then off, the server
still runs). Nothing is patched at import: `create_app` and `db.init_db` apply them.
pyproject.toml pins each library inside its shim's range; tests/test_compat.py fails when
an installed version leaves it, so a new release is re-verified before it is allowed.
"""

from __future__ import annotations

import importlib.metadata
import logging

from packaging.specifiers import SpecifierSet
from packaging.version import Version

log = logging.getLogger("mediahub.compat")


def installed_version(distribution: str) -> Version | None:
    try:
        return Version(importlib.metadata.version(distribution))
    except importlib.metadata.PackageNotFoundError:
        return None


def in_tested_range(distribution: str, tested: str) -> bool:
    """True if the installed version is one the shim was verified with; logs if not."""
    version = installed_version(distribution)
    if version is not None and version in SpecifierSet(tested):
        return True
    log.warning("%s %s is outside the versions mediahub's shim was tested with (%s); "
                "applying it only where the internals it needs are still there",
                distribution, version, tested)
    return False


def cannot_apply(distribution: str, what: str, error: BaseException) -> bool:
    """Log that a shim is off (what is lost, and why); always False."""
    log.error("%s %s: cannot %s (%r); that protection is off", distribution,
              installed_version(distribution), what, error)
    return False
