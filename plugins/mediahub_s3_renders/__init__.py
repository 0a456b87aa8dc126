"""The s3-renders plugin: an S3-compatible storage backend, and audio renders attached to thread messages."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mediahub import hookimpl


class RendersSettings(BaseModel):
    """`[plugins.s3_renders]` in the config file."""

    model_config = {"extra": "forbid"}
    # The seed's snapshot / snapshot_metadata JSON of one message, serialised, at most this big.
    max_snapshot_bytes: int = Field(256 * 1024, ge=1024, le=4 * 1024 * 1024)
    # How many waveform peaks a render gets (computed once, when it is stored).
    waveform_peaks: int = Field(200, ge=16, le=2000)
    # Longer renders are refused (422 audio_too_long), whatever their size: a few KB of FLAC
    # can hold hours of silence, and measuring it means decoding all of it.
    max_duration_seconds: float = Field(4 * 3600, gt=0)


@hookimpl
def register_storage_backends():
    from mediahub_s3_renders.backend import S3Storage

    return {"s3": S3Storage.from_settings}


@hookimpl
def register_config_sections():
    return {"s3_renders": RendersSettings}


@hookimpl
def register_models():
    return {"s3_renders": {"models": "mediahub_s3_renders.models",
                           "migrations": "mediahub_s3_renders.migrations"}}


@hookimpl
def register_routes(app):
    from mediahub_s3_renders.routes import blueprint

    return [blueprint]


@hookimpl
def register_nav_items(request):
    if getattr(request, "mediahub_user", None) is None:
        return []
    return [{"label": "Threads", "href": "/threads"}]


@hookimpl
async def cleanup(now):
    from mediahub_s3_renders import store

    return {"unattached_renders": await store.sweep_unattached(now)}
