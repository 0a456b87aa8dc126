"""The cloudinary-temp plugin: session-scoped temporary uploads that delete themselves (seed 000)."""

from __future__ import annotations

from mediahub import hookimpl


@hookimpl
def register_config_sections():
    from mediahub_cloudinary_temp.settings import TempUploadSettings

    return {"cloudinary_temp": TempUploadSettings}


@hookimpl
def register_storage_backends():
    from mediahub_cloudinary_temp.cloudinary_backend import CloudinaryStorage

    return {"cloudinary": CloudinaryStorage.from_settings}


@hookimpl
async def startup(app):
    """`backend = "cloudinary"` without a `[storage.cloudinary]` table: add that backend now."""
    from mediahub_cloudinary_temp.cloudinary_backend import add_implicit_backend

    await add_implicit_backend(app.extensions["mediahub"])


@hookimpl
def register_models():
    return {"cloudinary_temp": {"models": "mediahub_cloudinary_temp.models",
                                "migrations": "mediahub_cloudinary_temp.migrations"}}


@hookimpl
def register_routes(app):
    from mediahub_cloudinary_temp.routes import blueprint

    return [blueprint]


@hookimpl
async def track_changed(session_id, previous, current):
    """The previous track's temporary upload is no longer needed (unless it plays again)."""
    from mediahub.host import current_host
    from mediahub_cloudinary_temp import store

    if not isinstance(previous, dict) or not session_id:
        return None
    if isinstance(current, dict) and same_track(previous, current):
        return None
    await store.delete_media_of_track(current_host(), str(session_id), previous)
    return None


def same_track(previous: dict, current: dict) -> bool:
    for key in ("media_id", "publicId", "public_id"):
        if previous.get(key) and previous.get(key) == current.get(key):
            return True
    return False


@hookimpl
async def session_ended(session_id, reason):
    from mediahub.host import current_host
    from mediahub_cloudinary_temp import store

    if session_id:
        await store.delete_session(current_host(), str(session_id))


# -- public seam for the listen-party plugin (it calls these through the loaded plugin object) --


async def set_session_host(session_id, user_id) -> None:
    """Name a session's host: they may delete every temporary upload of the session."""
    from mediahub_cloudinary_temp import store

    await store.set_session_host(str(session_id), user_id)


async def session_upload(session_id, public_id) -> dict | None:
    """A live temporary upload of this session as `{publicId, media_id, url, songTitle}`, else None.

    `url` plays with Range until a few minutes after the upload expires (signed if private);
    `media_id` and `publicId` are what `track_changed` uses to find the upload again.
    """
    import time

    from tortoise.exceptions import DoesNotExist

    from mediahub.host import current_host
    from mediahub_cloudinary_temp import store
    from mediahub_cloudinary_temp.models import TempUpload
    from mediahub_cloudinary_temp.routes import PUBLIC_ID

    if not isinstance(public_id, str) or not PUBLIC_ID.match(public_id):
        return None
    upload = await TempUpload.get_or_none(session_id=str(session_id), public_id=public_id)
    now = time.time()
    if upload is None or upload.expires_at <= now:
        return None
    try:
        url = await store.play_url(current_host(), upload, now)
    except (LookupError, DoesNotExist):  # being deleted, or a backend that gives no URLs
        return None
    return {"publicId": upload.public_id, "media_id": str(upload.media_id), "url": url,
            "songTitle": upload.song_title}


@hookimpl
async def cleanup(now):
    from mediahub.host import current_host
    from mediahub_cloudinary_temp import store

    return await store.sweep(current_host(), now)
