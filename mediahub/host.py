"""The services one running app offers its plugins: settings, plugins, storage, bus, jobs."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quart import current_app

from mediahub.config import Settings
from mediahub.plugins import PluginHost
from mediahub.signin_cache import SignInCache

if TYPE_CHECKING:
    from mediahub.bus import Bus
    from mediahub.jobs import JobQueue
    from mediahub.scheduler import Scheduler
    from mediahub.ledger import Ledger
    from mediahub.storage import StorageRegistry


class Host:
    """Everything a plugin may use, reachable as `mediahub.current_host()` inside a request."""

    def __init__(self, settings: Settings, plugins: PluginHost):
        self.settings = settings
        self.plugins = plugins
        self.storage: StorageRegistry | None = None
        self.ledger: Ledger | None = None
        self.bus: Bus | None = None
        self.jobs: JobQueue | None = None
        self.scheduler: Scheduler | None = None
        self.secret_key = load_secret_key(settings)
        self.page_policy: str | None = None  # the pages' CSP, with the storage hosts (at start)
        self.signin_cache = SignInCache(settings.auth.sign_in_cache_seconds)
        self.signin_cache_follower = None  # the task forgetting what the bus announces

    def plugin_config(self, section: str) -> Any:
        return self.plugins.plugin_config(section)

    async def call_hook(self, name: str, **kwargs) -> list[Any]:
        return await self.plugins.call_hook(name, **kwargs)

    async def first_result(self, name: str, **kwargs) -> Any:
        return await self.plugins.first_result(name, **kwargs)


def load_secret_key(settings: Settings) -> bytes:
    """The configured secret, else one generated once and kept in data_dir/secret_key."""
    if settings.server.secret_key is not None:
        return settings.server.secret_key.get_secret_value().encode()
    path = Path(settings.server.data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting together must agree on one key.
        with open(path, "x", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
        path.chmod(0o600)
    except FileExistsError:
        pass
    return path.read_text(encoding="ascii").strip().encode()


def current_host() -> Host:
    return current_app.extensions["mediahub"]
