"""Track rows and their objects: init (presigned uploads), complete (checks, enqueue), JSON, delete."""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING

from mediahub import (SNIFF_BYTES, Conflict, Host, NotFound, PayloadTooLarge, StorageUnavailable,
                      UnsupportedMediaType, UploadRejected, current_host, detect_audio_type,
                      media_signature)
from mediahub_hls_transcode.models import Track
from mediahub_hls_transcode.settings import HlsSettings

if TYPE_CHECKING:
    from mediahub import User

log = logging.getLogger("mediahub.hls_transcode")

PENDING, PROCESSING, READY, FAILED = "pending", "processing", "ready", "failed"
# Seed 004's TrackProcessingStatus words for each state, on its upload endpoints.
SEED_STATUS = {PENDING: "pending", PROCESSING: "processing", READY: "completed", FAILED: "failed"}
# Extension the uploader declares -> the Content-Type pinned in the upload policy.
AUDIO_EXTENSIONS = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac",
                    "ogg": "audio/ogg", "opus": "audio/ogg", "oga": "audio/ogg",
                    "m4a": "audio/mp4", "aac": "audio/aac", "webm": "audio/webm"}
ARTWORK_EXTENSIONS = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
                      "webp": "image/webp"}
SIGNING_NAMESPACE = "hls"


def settings(host: Host | None = None) -> HlsSettings:
    return (host or current_host()).plugin_config("hls_transcode")


def storage_for(track: Track, host: Host | None = None):
    return (host or current_host()).storage.get(track.backend)


def prefix_of(track_id: uuid.UUID) -> str:
    return f"tracks/{track_id}/"


def hls_key(track: Track, name: str) -> str:
    """Key of a file under the track's hls/ folder (`master.m3u8`, `a96k/seg_00001.m4s`)."""
    return f"{track.prefix}hls/{name}"


def image_type(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def normalise_extension(extension: str, allowed: dict[str, str], what: str) -> str:
    extension = extension.strip().lower().lstrip(".")
    if extension not in allowed:
        raise UnsupportedMediaType(f"{what} extension must be one of {', '.join(sorted(allowed))}")
    return extension


async def init_upload(user: User, *, title: str, artist_name: str, file_extension: str,
                      file_size: int, artwork_extension: str | None) -> dict:
    """Create the pending track and its ledger row, and presign its uploads."""
    host = current_host()
    config = settings(host)
    extension = normalise_extension(file_extension, AUDIO_EXTENSIONS, "file")
    artwork = (normalise_extension(artwork_extension, ARTWORK_EXTENSIONS, "artwork")
               if artwork_extension else None)
    max_bytes = host.settings.server.max_upload_bytes
    if file_size > max_bytes:
        raise PayloadTooLarge(f"the file is larger than the {max_bytes} byte limit")
    storage = host.storage.get(config.backend)
    track_id = uuid.uuid4()
    prefix = prefix_of(track_id)
    audio_key = f"{prefix}original.{extension}"
    artwork_key = f"{prefix}artwork.{artwork}" if artwork else None
    try:
        audio_post = await storage.presign_upload(audio_key, AUDIO_EXTENSIONS[extension],
                                                  file_size, config.upload_url_ttl)
        artwork_post = (await storage.presign_upload(artwork_key, ARTWORK_EXTENSIONS[artwork],
                                                     config.max_artwork_bytes, config.upload_url_ttl)
                        if artwork_key else None)
    except NotImplementedError:
        raise StorageUnavailable(f"storage {storage.name} cannot take presigned uploads") from None
    # The ledger row owns the whole prefix: original, artwork and every rendition.
    media = await host.ledger.begin(backend=storage.name, key=prefix, purpose="hls_track",
                                    content_type="application/vnd.apple.mpegurl",
                                    owner_id=user.id)
    await Track.create(id=track_id, owner=user, title=title.strip(), artist_name=artist_name.strip(),
                       backend=storage.name, prefix=prefix, media_id=media.id,
                       audio_key=audio_key, declared_size=file_size, artwork_key=artwork_key)
    answer = {"track_id": str(track_id), "audio_upload_url": audio_post.url,
              "audio_upload_fields": dict(audio_post.fields)}
    if artwork_post is not None:
        answer["artwork_upload_url"] = artwork_post.url
        answer["artwork_upload_fields"] = dict(artwork_post.fields)
    return answer


async def owned_track(track_id: str, user: User) -> Track:
    """The user's track; another user's track is as unknown as a missing one."""
    try:
        parsed = uuid.UUID(str(track_id))
    except ValueError:
        raise NotFound("no such track") from None
    track = await Track.get_or_none(id=parsed, owner_id=user.id)
    if track is None:
        raise NotFound("no such track")
    return track


async def read_head(storage, key: str, size: int) -> bytes:
    chunks = []
    try:
        async for chunk in storage.open_range(key, 0, min(size, SNIFF_BYTES) - 1):
            chunks.append(chunk)
    except Exception as exc:
        log.warning("storage %s failed to read %s: %r", storage.name, key, exc)
        raise StorageUnavailable("storage is unavailable, try again later") from exc
    return b"".join(chunks)


async def delete_object(storage, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception as exc:
        log.warning("storage %s failed to delete %s: %r", storage.name, key, exc)
        raise StorageUnavailable("storage is unavailable, try again later") from exc


async def delete_objects(storage, *keys: str) -> None:
    for key in keys:
        await delete_object(storage, key)


async def seal(storage, key: str, size: int, name: str) -> str:
    """Copy the uploaded object at key to `<prefix>sealed/<name>-<random>.<ext>`, a key no
    upload policy names, and remove the original; the new key."""
    folder, _, file_name = key.rpartition("/")
    extension = file_name.rpartition(".")[2]
    sealed = f"{folder}/sealed/{name}-{uuid.uuid4().hex}.{extension}"
    content_type = AUDIO_EXTENSIONS.get(extension) or ARTWORK_EXTENSIONS.get(extension)
    try:
        copied = await storage.put(sealed, storage.open_range(key, 0, size - 1),
                                   content_type or "application/octet-stream", None)
    except Exception as exc:
        log.warning("storage %s failed to copy %s: %r", storage.name, key, exc)
        raise StorageUnavailable("storage is unavailable, try again later") from exc
    await delete_object(storage, key)
    if copied.size != size:  # replaced by a shorter file between the check and the copy
        await delete_object(storage, sealed)
        raise UploadRejected("the uploaded file changed while it was checked; upload it again")
    return sealed


async def stat(storage, key: str):
    try:
        return await storage.stat(key)
    except Exception as exc:
        log.warning("storage %s failed to stat %s: %r", storage.name, key, exc)
        raise StorageUnavailable("storage is unavailable, try again later") from exc


async def complete_upload(track: Track) -> Track:
    """Check the uploaded bytes, then move the track to processing and enqueue its job."""
    host = current_host()
    if track.status != PENDING:
        raise Conflict(f"this upload was already completed (the track is {track.status})")
    media = await host.ledger.get(track.media_id)
    if media is None:
        raise Conflict("this upload expired; start a new one")
    storage = storage_for(track, host)
    audio = await stat(storage, track.audio_key)
    if audio is None:
        raise Conflict("the file has not been uploaded yet; upload it, then complete")
    if audio.size != track.declared_size:
        raise UploadRejected(f"the uploaded file is {audio.size} bytes, "
                             f"{track.declared_size} were declared")
    # The upload policies stay valid until they expire, and storage (S3 above all) cannot
    # retire one: what is checked, transcoded and served is a sealed copy under a key no
    # policy names, so posting through the policy again changes nothing of this track.
    audio_key = await seal(storage, track.audio_key, audio.size, "source")
    if detect_audio_type(await read_head(storage, audio_key, audio.size)) is None:
        await delete_objects(storage, audio_key, track.audio_key)
        raise UnsupportedMediaType("the uploaded file is not an audio format we accept")
    artwork_key = None
    if track.artwork_key:
        artwork = await stat(storage, track.artwork_key)
        if artwork is not None:
            artwork_key = await seal(storage, track.artwork_key, artwork.size, "cover")
            if image_type(await read_head(storage, artwork_key, artwork.size)) is None:
                await delete_objects(storage, audio_key, artwork_key, track.artwork_key)
                raise UnsupportedMediaType("the artwork is not a JPEG, PNG or WebP image")
    # Conditional: of two concurrent completes exactly one moves the track on.
    moved = await Track.filter(id=track.id, status=PENDING).update(
        status=PROCESSING, has_artwork=artwork_key is not None, audio_key=audio_key,
        artwork_key=artwork_key or track.artwork_key)
    if not moved:
        raise Conflict("this upload was already completed")
    track.audio_key, track.artwork_key = audio_key, artwork_key or track.artwork_key
    has_artwork = artwork_key is not None
    try:
        await host.ledger.finalise(media, size=audio.size, sha256=None)
    except LookupError:
        await Track.filter(id=track.id).update(status=PENDING)
        raise Conflict("this upload expired; start a new one") from None
    job = await host.jobs.enqueue("hls_transcode", {"track_id": str(track.id)},
                                  key=f"hls:{track.id}")
    await Track.filter(id=track.id).update(job_id=job.id)
    track.status, track.has_artwork, track.job_id = PROCESSING, has_artwork, job.id
    return track


async def progress_of(track: Track) -> tuple[str, float, str | None]:
    """(status, progress, error); a job that died out of tries shows as failed."""
    if track.status == READY:
        return READY, 100.0, None
    if track.status != PROCESSING or track.job_id is None:
        return track.status, 0.0, track.error
    job = await current_host().jobs.get(track.job_id)
    if job is None:
        return track.status, 0.0, track.error
    if job.state == "failed":
        error = track.error or "processing failed"
        await Track.filter(id=track.id, status=PROCESSING).update(status=FAILED, error=error)
        return FAILED, float(job.progress or 0), error
    return PROCESSING, round(float(job.progress or 0), 1), track.error


def playlist_signature(track_id, name: str, expires: int) -> str:
    return media_signature(current_host().secret_key, SIGNING_NAMESPACE, f"{track_id}/{name}", expires)


def signed_playlist_url(track: Track, name: str, ttl: int) -> str:
    """`/tracks/<id>/hls/<name>?exp=&sig=`: playable without a session (players send none)."""
    expires = int(time.time()) + ttl
    return (f"/tracks/{track.id}/hls/{name}?exp={expires}"
            f"&sig={playlist_signature(track.id, name, expires)}")


async def track_json(track: Track) -> dict:
    host = current_host()
    status, progress, error = await progress_of(track)
    ttl = host.settings.server.media_url_ttl
    artwork_url = None
    if track.has_artwork and track.artwork_key:
        artwork_url = await storage_for(track, host).url(track.artwork_key, ttl)
    master_url = signed_playlist_url(track, "master.m3u8", ttl) if track.master_ready else None
    return {"track_id": str(track.id), "title": track.title, "artist_name": track.artist_name,
            "album": track.album, "status": status, "progress": progress, "error": error,
            "duration_seconds": track.duration_seconds, "loudness_lufs": track.loudness_lufs,
            "gain_db": track.gain_db, "artwork_url": artwork_url, "hls_master_url": master_url,
            "renditions": [int(kbps) for kbps in track.renditions or []],
            "created_at": track.created_at.isoformat()}


async def delete_track(track: Track) -> None:
    """Every object under the track's prefix leaves storage, then the rows go."""
    host = current_host()
    media = await host.ledger.get(track.media_id) if track.media_id else None
    if media is not None and not await host.ledger.delete(media):
        raise StorageUnavailable("storage is unavailable; the track was not deleted, try again")
    if media is None:
        try:
            await storage_for(track, host).delete_prefix(track.prefix)
        except Exception as exc:
            log.warning("could not delete %s: %r", track.prefix, exc)
            raise StorageUnavailable("storage is unavailable; the track was not deleted, try again") from exc
    await Track.filter(id=track.id).delete()


async def forget_abandoned() -> int:
    """Pending tracks whose upload was never completed: once the ledger sweep discarded their
    prefix row (after orphan_grace), the rows go too."""
    from mediahub import MediaObject

    removed = 0
    pending = await Track.filter(status=PENDING).limit(500).values_list("id", "media_id")
    if not pending:
        return 0
    alive = set(await MediaObject.filter(id__in=[m for _, m in pending if m]).values_list("id", flat=True))
    for track_id, media_id in pending:
        if media_id not in alive:
            removed += await Track.filter(id=track_id, status=PENDING).delete()
    return removed
