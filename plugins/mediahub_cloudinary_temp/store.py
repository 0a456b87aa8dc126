"""Temporary uploads: record, find duplicates, decide who may delete, delete one or a session, sweep."""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import DoesNotExist, IntegrityError

from mediahub import MediaObject
from mediahub_cloudinary_temp.models import TempSession, TempUpload

if TYPE_CHECKING:
    from mediahub import Host

log = logging.getLogger("mediahub.cloudinary_temp")

PURPOSE = "temp"
PUBLIC_ID = re.compile(r"^[0-9a-f]{32}$")
# A played URL may outlive the upload by this much (a song started just before expiry ends).
URL_GRACE = 300


def settings(host: Host):
    return host.plugin_config("cloudinary_temp")


def public_id_of_key(key: str) -> str:
    """The client-facing publicId: the key's last segment without extension (a server-made uuid)."""
    return key.rsplit("/", 1)[-1].split(".", 1)[0]


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def may_delete(upload: TempUpload, user_id: Any, session_host_id: Any) -> bool:
    """Only the uploader or the session's host."""
    return user_id is not None and user_id in (upload.uploader_id, session_host_id)


async def session_host(session_id: str) -> Any:
    record = await TempSession.get_or_none(session_id=session_id)
    return record.host_id if record else None


async def claim_session(session_id: str, user_id: Any, now: float) -> Any:
    """The session's host: the first uploader of a session id becomes it (unless already set)."""
    try:
        record, _ = await TempSession.get_or_create(
            session_id=session_id, defaults={"host_id": user_id, "last_activity": now})
    except IntegrityError:  # two first uploads at once: the other one won
        record = await TempSession.get(session_id=session_id)
    await TempSession.filter(id=record.id).update(last_activity=now)
    return record.host_id


async def set_session_host(session_id: str, user_id: Any, now: float | None = None) -> None:
    """Name the real host of a session (listen-party's `session_host_changed`; overrides the first uploader)."""
    now = time.time() if now is None else now
    updated = await TempSession.filter(session_id=session_id).update(host_id=user_id,
                                                                     last_activity=now)
    if not updated:
        try:
            await TempSession.create(session_id=session_id, host_id=user_id, last_activity=now)
        except IntegrityError:
            await TempSession.filter(session_id=session_id).update(host_id=user_id)


async def record(host: Host, media: MediaObject, *, session_id: str, uploader_id: Any, song_title: str,
                 expires_at: float) -> tuple[TempUpload, bool]:
    """Record a stored upload; if this uploader already put these bytes in the session, return
    that one instead (another user's copy is never theirs to find or to keep alive).

    Returns (upload, created). When not created the caller discards `media`.
    """
    existing = await find_duplicate(host, session_id, uploader_id, media.sha256)
    if existing is not None:
        return existing, False
    try:
        upload = await TempUpload.create(
            public_id=public_id_of_key(media.key), media_id=media.id, session_id=session_id,
            uploader_id=uploader_id, song_title=song_title, sha256=media.sha256,
            expires_at=expires_at)
    except IntegrityError:  # the same bytes finished uploading at the same moment
        existing = await find_duplicate(host, session_id, uploader_id, media.sha256)
        if existing is None:
            raise
        return existing, False
    return upload, True


async def find_duplicate(host: Host, session_id: str, uploader_id: Any, sha256: str) -> TempUpload | None:

    upload = await TempUpload.get_or_none(session_id=session_id, uploader_id=uploader_id, sha256=sha256)
    if upload is None:
        return None
    media = await MediaObject.get_or_none(id=upload.media_id, state="stored")
    if media is None or upload.expires_at <= time.time():
        # Being deleted or about to be: let the new copy replace it.
        await delete_upload(host, upload)
        return None
    return upload


async def extend(host: Host, upload: TempUpload, expires_at: float) -> None:
    """A duplicate upload restarts the clock of the existing one."""

    upload.expires_at = expires_at
    await TempUpload.filter(id=upload.id).update(expires_at=expires_at)
    await MediaObject.filter(id=upload.media_id).update(expires_at=utc(expires_at))


async def play_url(host: Host, upload: TempUpload, now: float) -> str:
    """A URL a browser can play with Range until a few minutes after the upload expires."""

    media = await MediaObject.get(id=upload.media_id)
    lifetime = max(1, int(upload.expires_at - now) + URL_GRACE)
    url = await host.storage.get(media.backend).url(media.key, lifetime)
    if url is None:
        raise LookupError(f"storage {media.backend} gives no URL for {media.key}")
    return url


async def delete_upload(host: Host, upload: TempUpload) -> bool:
    """Delete the object (through the ledger: a failure is retried by its sweep) and the record."""

    media = await MediaObject.get_or_none(id=upload.media_id)
    if media is not None:
        await host.ledger.delete(media)
    deleted = await TempUpload.filter(id=upload.id).delete()
    return bool(deleted)


async def delete_session(host: Host, session_id: str) -> int:
    """Delete every temporary upload of a session; return how many."""

    uploads = await TempUpload.filter(session_id=session_id)
    backends = set()
    count = 0
    for upload in uploads:
        media = await MediaObject.get_or_none(id=upload.media_id)
        if media is not None:
            backends.add(media.backend)
        count += await delete_upload(host, upload)
    for name in backends:
        # Cloudinary: also whatever carries the session's tag (belt and braces).
        delete_tagged = getattr(host.storage.backends.get(name), "delete_tagged", None)
        if delete_tagged is not None:
            try:
                await delete_tagged(session_id)
            except Exception:
                log.warning("could not delete the objects tagged %s on %s", session_id, name)
    return count


async def delete_media_of_track(host: Host, session_id: str, track: dict) -> int:
    """The temporary upload a track (`{"media_id"...}` or `{"publicId"...}`) refers to, deleted."""
    conditions: dict[str, Any] = {"session_id": session_id}
    media_id = track.get("media_id")
    public_id = track.get("publicId") or track.get("public_id")
    if media_id:
        conditions["media_id"] = str(media_id)
    elif public_id:
        conditions["public_id"] = str(public_id)
    else:
        return 0
    try:
        upload = await TempUpload.get_or_none(**conditions)
    except (ValueError, TypeError):  # not a uuid: cannot be one of ours
        return 0
    if upload is None:
        return 0
    return int(await delete_upload(host, upload))


async def sweep(host: Host, now: float) -> dict[str, int]:
    """Expired uploads (even ones that expired while the server was down), and forgotten sessions."""

    expired = 0
    for upload in await TempUpload.filter(expires_at__lt=now).limit(500):
        expired += await delete_upload(host, upload)
    # Records whose ledger row the ledger's own sweep already removed.
    known = await TempUpload.all().limit(500).values_list("id", "media_id")
    if known:
        alive = set(await MediaObject.filter(id__in=[m for _, m in known]).values_list("id", flat=True))
        gone = [pk for pk, media_id in known if media_id not in alive]
        if gone:
            expired += await TempUpload.filter(id__in=gone).delete()
    ttl = settings(host).ttl
    active = set(await TempUpload.all().distinct().values_list("session_id", flat=True))
    stale = await TempSession.filter(last_activity__lt=now - ttl).values_list("id", "session_id")
    forgotten = [pk for pk, session in stale if session not in active]
    if forgotten:
        await TempSession.filter(id__in=forgotten).delete()
    return {"temp_uploads_expired": expired, "temp_sessions_forgotten": len(forgotten)}


async def session_upload(host: Host, session_id: str, public_id: object) -> dict | None:
    """A live temporary upload of this session as `{publicId, media_id, url, songTitle}`, else None.

    `url` plays with Range until a few minutes after the upload expires (signed if private).
    """
    if not isinstance(public_id, str) or not PUBLIC_ID.match(public_id):
        return None
    upload = await TempUpload.get_or_none(session_id=session_id, public_id=public_id)
    now = time.time()
    if upload is None or upload.expires_at <= now:
        return None
    try:
        url = await play_url(host, upload, now)
    except (LookupError, DoesNotExist):  # being deleted, or a backend that gives no URLs
        return None
    return {"publicId": upload.public_id, "media_id": str(upload.media_id), "url": url,
            "songTitle": upload.song_title}
