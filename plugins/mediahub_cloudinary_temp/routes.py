"""The seed's temp-upload API (upload, delete one, delete a session) and the page that shares a
song with one of the person's parties."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from pydantic import BaseModel, Field
from quart import Blueprint, jsonify, render_template, request
from quart_schema import DataSource, document_request, document_response, security_scheme
from quart_schema.pydantic import File

from mediahub import (NO_NUL, BadRequest, Forbidden, NotFound, StorageUnavailable, current_host,
                      current_user, discard, html_page, ingest_multipart, require_user)
from mediahub_cloudinary_temp import store
from mediahub_cloudinary_temp.cloudinary_backend import upload_tags
from mediahub_cloudinary_temp.models import TempUpload
from mediahub_cloudinary_temp.party_choice import MAX_ASKED, choices

blueprint = Blueprint("cloudinary_temp", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/temp-upload/static")

BEARER = [{"bearer": []}]
# Session ids double as Cloudinary tags: no commas, nothing a URL path would mangle.
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
PUBLIC_ID = store.PUBLIC_ID
MAX_TITLE = 300


class UploadForm(BaseModel):
    audio: File = Field(description="the audio file (sniffed: mp3, aac, ogg/opus, flac, wav...)")
    sessionId: str = Field(min_length=1, max_length=128, pattern=SESSION_ID.pattern)
    songTitle: str | None = Field(None, max_length=MAX_TITLE, pattern=NO_NUL)


class TempUploadOut(BaseModel):
    url: str = Field(description="plays with Range requests until a few minutes after expiresAt")
    publicId: str
    expiresAt: str = Field(description="ISO 8601 UTC")


class Message(BaseModel):
    message: str


class SessionDeleted(BaseModel):
    message: str
    count: int


def check_fields(fields: dict[str, str]) -> None:
    session_id = fields.get("sessionId", "")
    if not session_id:
        raise BadRequest("sessionId is required", code="missing_session")
    if not SESSION_ID.match(session_id):
        raise BadRequest("sessionId: 1-128 letters, digits, '_', '.', ':' or '-'")
    if len(fields.get("songTitle", "")) > MAX_TITLE:
        raise BadRequest(f"songTitle: at most {MAX_TITLE} characters")
    if "\x00" in fields.get("songTitle", ""):
        # PostgreSQL cannot store NUL in a text column: refuse it here, not with a 500 there.
        raise BadRequest("songTitle: must not contain NUL characters")


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@blueprint.post("/api/temp-upload/upload-temp")
@security_scheme(BEARER)
@document_request(UploadForm, source=DataSource.FORM_MULTIPART)
@document_response(TempUploadOut, 200)
@require_user
async def upload_temp():
    """Upload a song for a listening session; it is deleted when the track changes, the
    session ends, or at the latest after the TTL. The same bytes in the same session
    return the existing upload."""
    host = current_host()
    user = await current_user()
    config = store.settings(host)
    if config.backend is not None and config.backend not in host.storage.backends:
        raise StorageUnavailable(f"storage backend {config.backend!r} is not available")
    expires_at = time.time() + config.ttl
    token = upload_tags.set(("temp", "session"))
    try:
        media, fields = await ingest_multipart(
            request, file_field="audio", validate_fields=check_fields, purpose=store.PURPOSE,
            # Announced below, once we know this copy is kept (a duplicate is discarded).
            announce=False,
            user=user, backend=config.backend, key_prefix=config.folder + "/",
            max_bytes=config.max_bytes, expires_at=store.utc(expires_at))
    finally:
        upload_tags.reset(token)
    session_id = fields["sessionId"]
    try:
        await store.claim_session(session_id, user.id, time.time())
        upload, created = await store.record(
            host, media, session_id=session_id, uploader_id=user.id,
            song_title=fields.get("songTitle", ""), expires_at=expires_at)
    except BaseException:
        await discard(host, media)
        raise
    if created:
        await tag_with_session(host, media, session_id)
        await host.call_hook("upload_received", media=media, purpose=store.PURPOSE, user=user)
    else:
        # The seed's "cache check": one copy per session, its clock restarted.
        await host.ledger.discard(media)
        await store.extend(host, upload, expires_at)
    url = await store.play_url(host, upload, time.time())
    return jsonify({"url": url, "publicId": upload.public_id, "expiresAt": iso(upload.expires_at)})


async def tag_with_session(host, media, session_id: str) -> None:
    """Cloudinary: the session id is a tag too (the form's fields come after the file)."""
    add_tags = getattr(host.storage.get(media.backend), "add_tags", None)
    if add_tags is None:
        return
    try:
        await add_tags(media.key, [session_id])
    except Exception as exc:  # the database still knows the session: only the tag is missing
        store.log.warning("could not tag %s with its session: %r", media.key, exc)


@blueprint.delete("/api/temp-upload/temp/<public_id>")
@security_scheme(BEARER)
@document_response(Message, 200)
@require_user
async def delete_temp(public_id: str):
    """Delete one temporary upload: its uploader or the session's host only."""
    host = current_host()
    user = await current_user()
    upload = await TempUpload.get_or_none(public_id=public_id) if PUBLIC_ID.match(public_id) else None
    if upload is None:
        raise NotFound("no such temporary upload")
    if not store.may_delete(upload, user.id, await store.session_host(upload.session_id)):
        raise Forbidden("only the uploader or the session's host may delete this upload")
    await store.delete_upload(host, upload)
    return jsonify({"message": "File deleted"})


@blueprint.delete("/api/temp-upload/session/<session_id>")
@security_scheme(BEARER)
@document_response(SessionDeleted, 200)
@require_user
async def delete_session(session_id: str):
    """Delete a session's temporary uploads: all of them for its host, your own otherwise."""
    host = current_host()
    user = await current_user()
    if not SESSION_ID.match(session_id):
        raise NotFound("no such session")
    if await store.session_host(session_id) == user.id:
        count = await store.delete_session(host, session_id)
    else:
        uploads = await TempUpload.filter(session_id=session_id)
        own = [upload for upload in uploads if upload.uploader_id == user.id]
        if uploads and not own:
            raise Forbidden("only the session's host may delete its uploads")
        count = 0
        for upload in own:
            count += await store.delete_upload(host, upload)
    return jsonify({"message": "Session files deleted", "count": count})


@blueprint.get("/temp-upload")
@html_page
@require_user
async def upload_page():
    """Share a song with one of your parties (picked from your list, or by its code or link)."""
    config = store.settings(current_host())
    asked = request.args.get("party", "")
    offer = await choices(await current_user(), asked, request.remote_addr)
    return await render_template("temp_upload/page.html", ttl_hours=round(config.ttl / 3600, 2),
                                 asked=asked[:MAX_ASKED], **offer)
