"""The Subsonic endpoints by name; each module registers its own with @endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mediahub import User, first_result

from mediahub_subsonic_api.params import Params
from mediahub_subsonic_api.wire import SubsonicError


@dataclass
class Call:
    """One request to an endpoint: its parameters, who asks, and the collaborators."""

    params: Params
    user: User | None
    _cache: dict[str, Any] = field(default_factory=dict)

    async def catalog(self):
        if "catalog" not in self._cache:
            self._cache["catalog"] = await first_result("music_catalog")
        catalog = self._cache["catalog"]
        if catalog is None:
            raise SubsonicError(SubsonicError.GENERIC, "the music library is not enabled on this server")
        return catalog

    async def library(self):
        if "library" not in self._cache:
            self._cache["library"] = await first_result("library_service")
        library = self._cache["library"]
        if library is None:
            raise SubsonicError(SubsonicError.GENERIC, "library sync is not enabled on this server")
        return library

    async def parties(self):
        if "parties" not in self._cache:
            self._cache["parties"] = await first_result("party_service")
        parties = self._cache["parties"]
        if parties is None:
            raise SubsonicError(SubsonicError.GENERIC, "listening parties are not enabled on this server")
        return parties

    async def optional_library(self):
        try:
            return await self.library()
        except SubsonicError:
            return None

    def memo(self, key: str) -> dict:
        return self._cache.setdefault(key, {})


Handler = Callable[[Call], Awaitable[Any]]


@dataclass
class Endpoint:
    name: str
    handler: Handler
    auth: str  # "required" | "optional" (checked only when credentials are sent) | "none"


ENDPOINTS: dict[str, Endpoint] = {}


def endpoint(name: str, *, auth: str = "required"):
    def register(handler: Handler) -> Handler:
        ENDPOINTS[name] = Endpoint(name, handler, auth)
        return handler
    return register


def load_all() -> dict[str, Endpoint]:
    # Importing the modules registers their endpoints.
    from mediahub_subsonic_api.endpoints import (browsing, library, lists, media,  # noqa: F401
                                                 party, system)

    return ENDPOINTS
