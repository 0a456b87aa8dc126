"""docs/plugins.md and docs/library-sync.md say what `library_service()` and `queue_state` really
are: every method of the service, and the keys a real queue answer and a real library carry."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from mediahub import first_result
from mediahub.models import User
from mediahub.testing import login

ROOT = Path(__file__).resolve().parents[2]
PLUGINS_DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
SYNC_DOC = (ROOT / "docs" / "library-sync.md").read_text(encoding="utf-8")
QUEUE_KEYS = {"items", "current", "positionSec", "updatedAt", "device"}


def hook_section(name: str) -> str:
    """The paragraph under `#### \\`name()\\`` in docs/plugins.md."""
    match = re.search(rf"^#### `{name}\(\)`\n(.*?)(?=^#|\Z)", PLUGINS_DOC, flags=re.M | re.S)
    assert match, f"docs/plugins.md has no `{name}()` section"
    return match.group(1)


async def test_the_service_and_its_queue_are_documented_as_they_are(mediahub_app_factory):
    app = await mediahub_app_factory()
    client = app.test_client()
    device = await login(client, "documented")
    async with app.app_context():
        service = await first_result("library_service")
        user = await User.get(username="documented")
        saved = await service.save_queue(user, [{"videoId": "tr-1"}, {"videoId": "tr-2"}],
                                         current=1, position_sec=30.5, device="laptop")
        queue = await service.queue(user)
    # The real answer has exactly the documented keys, and both documents name them.
    assert set(saved) == set(queue) == QUEUE_KEYS
    assert (queue["current"], queue["positionSec"]) == (1, 30.5)
    section = hook_section("library_service")
    documented = '{"items", "current", "positionSec", "updatedAt", "device"}'
    assert documented in section and documented in SYNC_DOC
    # Every public method of the service is named in its hook's documentation.
    methods = {name for name, _ in inspect.getmembers(type(service), inspect.isfunction)
               if not name.startswith("_")}
    assert methods and all(f"`{name}(" in section for name in methods), \
        sorted(name for name in methods if f"`{name}(" not in section)
    # queue_state over HTTP: the keys library-sync.md's example shows.
    library = await (await client.get("/api/me/library", headers=device)).get_json()
    assert set(library["queue_state"]) == QUEUE_KEYS - {"items"}
    example = re.search(r'"queue_state": \{(.*?)\}', SYNC_DOC, flags=re.S).group(1)
    assert set(re.findall(r'"(\w+)":', example)) == QUEUE_KEYS - {"items"}
    assert "library_service()" in SYNC_DOC
