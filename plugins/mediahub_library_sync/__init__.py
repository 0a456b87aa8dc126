"""The library-sync plugin: favorites, history, queue, playlists, preferences and searches across devices."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mediahub import hookimpl


class LibrarySyncSettings(BaseModel):
    """`[plugins.library_sync]` in the config file."""

    model_config = {"extra": "forbid"}
    # How long a deletion is remembered; a device away longer gets a full replacement.
    tombstone_retention: float = Field(90 * 24 * 3600, gt=0)
    # The cap on one library request body (a full sync of a large library is several MB).
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # A device session without a ping for this long no longer counts as active.
    session_ttl: float = Field(300, gt=0)


@hookimpl
def register_hookspecs():
    from mediahub_library_sync import hookspecs

    return hookspecs


@hookimpl
def library_service():
    from mediahub_library_sync.service import service

    return service


@hookimpl
def register_config_sections():
    return {"library_sync": LibrarySyncSettings}


@hookimpl
def register_models():
    return {"library_sync": {"models": "mediahub_library_sync.models",
                             "migrations": "mediahub_library_sync.migrations"}}


@hookimpl
def register_routes(app):
    from mediahub_library_sync.live import blueprint as live
    from mediahub_library_sync.routes import blueprint as api

    return [api, live]


@hookimpl
def register_nav_items(request):
    if getattr(request, "mediahub_user", None) is None:
        return []
    return [{"label": "Library", "href": "/library"}]


@hookimpl
async def cleanup(now):
    from mediahub_library_sync import store

    return await store.sweep(now)
