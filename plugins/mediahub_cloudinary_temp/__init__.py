"""The cloudinary-temp plugin: session-scoped temporary uploads that delete themselves (seed 000)."""

from __future__ import annotations

import uuid

from mediahub import current_host, hookimpl

TEMP_UPLOAD = "temp-upload"  # the listen-party track source this plugin owns


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


# -- listen-party's hooks (optional: this plugin loads without listen-party) ---------------


@hookimpl(optionalhook=True)
def party_track_sources(user):
    return [{"source": TEMP_UPLOAD, "label": "A file from your device", "picker": "upload"}]


@hookimpl(optionalhook=True)
async def party_track_resolve(source, track_id, session_id, user):
    """A live temporary upload of the party's session (whoever uploaded it into the session:
    the party's host may play it). `media_id` and `publicId` let `track_changed` find it again."""
    if source != TEMP_UPLOAD:
        return None
    from mediahub_cloudinary_temp import store

    upload = await store.session_upload(current_host(), str(session_id), track_id)
    if upload is None:
        return None
    return {"trackId": upload["publicId"], "title": upload["songTitle"] or "track",
            "url": upload["url"], "durationSec": None, "media_id": upload["media_id"],
            "publicId": upload["publicId"]}


@hookimpl(optionalhook=True)
async def session_host_changed(session_id, host_id):
    """The party's host may delete every temporary upload of its session."""
    from mediahub_cloudinary_temp import store

    await store.set_session_host(str(session_id), uuid.UUID(str(host_id)))


@hookimpl(optionalhook=True)
async def track_changed(session_id, previous, current):
    """The previous track's temporary upload is no longer needed (unless it plays again)."""
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


@hookimpl(optionalhook=True)
async def session_ended(session_id, reason):
    from mediahub_cloudinary_temp import store

    if session_id:
        await store.delete_session(current_host(), str(session_id))


@hookimpl
async def cleanup(now):
    from mediahub_cloudinary_temp import store

    return await store.sweep(current_host(), now)
