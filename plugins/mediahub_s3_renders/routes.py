"""The seed's render endpoints, threads and messages, and the thread pages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import uuid

from quart import Blueprint, render_template, request
from quart_schema import (DataSource, document_request, document_response, security_scheme,
                          validate_querystring, validate_request)

from mediahub import (BadRequest, DecodeTooLong, MediaObject, NotAudio, Unauthorized,
                      UnsupportedMediaType, UploadRejected, User, check_duration,
                      csrf_token_in_body, current_host, current_user, decode_slot, html_page,
                      media_response, media_route, probe, require_user, user_for_access_token)
from mediahub_s3_renders import formats, store, upload_form, waveform
from mediahub_s3_renders.models import Render
from mediahub_s3_renders.schemas import (AttachRender, AudioUpload, MessageCreate, MessageDeleted,
                                         MessageList, MessageOut, RenderAttached, RenderOut,
                                         ThreadCreate, ThreadList, ThreadOut, TokenQuery)

blueprint = Blueprint("renders", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/renders/static")

BEARER = [{"bearer": []}]
UNAUTHORIZED = Unauthorized("sign in first", headers={"WWW-Authenticate": "Bearer"})


async def acting_user(token: str | None = None) -> User:
    """The signed-in user: bearer header or cookie session, else the seed's `token` field."""
    user = await current_user()
    if user is None and token:
        user = await user_for_access_token(token)
    if user is None:
        raise UNAUTHORIZED
    return user


# -- threads and messages -------------------------------------------------------------------


@blueprint.post("/api/v1/threads")
@security_scheme(BEARER)
@validate_request(ThreadCreate)
@document_response(ThreadOut, 201)
@require_user
async def create_thread(data: ThreadCreate):
    """Create a thread; `members` are usernames (the creator is always a member and its owner)."""
    thread = await store.create_thread(await current_user(), data.title.strip() or "Untitled",
                                       data.is_private, data.members)
    return await store.thread_json(thread), 201


@blueprint.get("/api/v1/threads")
@security_scheme(BEARER)
@document_response(ThreadList, 200)
@require_user
async def list_threads():
    """The threads the signed-in user is a member of, newest first."""
    threads = await store.threads_for(await current_user())
    return {"threads": [await store.thread_json(thread) for thread in threads]}


@blueprint.get("/api/v1/threads/<thread_id>")
@security_scheme(BEARER)
@document_response(ThreadOut, 200)
@require_user
async def get_thread(thread_id: str):
    """One thread (a private one only for its members)."""
    return await store.thread_json(await store.readable_thread(thread_id, await current_user()))


@blueprint.post("/api/v1/threads/<thread_id>/messages")
@security_scheme(BEARER)
@validate_request(MessageCreate)
@document_response(MessageOut, 201)
@require_user
async def post_message(thread_id: str, data: MessageCreate):
    """Post a message with the seed's `snapshot` / `snapshot_metadata` (renders are attached after)."""
    user = await current_user()
    thread = await store.readable_thread(thread_id, user)
    message = await store.post_message(thread, user, data.text, data.snapshot, data.snapshot_metadata)
    message.author = user
    return await store.message_json(message, thread, []), 201


@blueprint.get("/api/v1/threads/<thread_id>/messages")
@security_scheme(BEARER)
@document_response(MessageList, 200)
@require_user
async def list_messages(thread_id: str):
    """The thread's messages, oldest first, each with its renders (URLs that expire)."""
    thread = await store.readable_thread(thread_id, await current_user())
    return {"messages": await store.list_messages(thread)}


# -- renders --------------------------------------------------------------------------------


@blueprint.post("/api/v1/upload/audio")
@security_scheme(BEARER)
@document_request(AudioUpload, source=DataSource.FORM_MULTIPART)
@document_response(RenderOut, 200)
@csrf_token_in_body
async def upload_audio():
    """Store an audio render at `{prefix}renders/{uuid}.{format}` and return the Render object.

    The file must really be audio of the declared `format` (default mp3). The duration and
    the waveform come from the file itself. Authenticate with a bearer token or the seed's
    `token` form field.
    """
    media, checked = await upload_form.read(await current_user())
    try:
        render = await store_render(media, checked)
    except BaseException:
        await asyncio.shield(current_host().ledger.discard(media))
        raise
    return await store.render_json(render, None)


async def store_render(media: MediaObject, checked: dict) -> Render:
    """Check the stored file against the declared format, measure it, and record the render."""
    declared = checked["format"]
    sniffed = formats.sniffed_type_of_key(media.key)
    if not formats.matches(declared, sniffed):
        raise UnsupportedMediaType(f"format is {declared!r} but the file is {sniffed}",
                                   code="format_mismatch")
    decoded = await decode_object(media)
    duration = formats.reconcile_duration(checked["duration"], decoded.duration)
    owner: User = checked["user"]
    if media.owner_id is None:  # authenticated by the form's token, after the file
        await MediaObject.filter(id=media.id).update(owner_id=owner.id)
    render_id = uuid.UUID(media.key.rpartition("/")[2].partition(".")[0])
    return await Render.create(
        id=render_id, owner=owner, media_id=media.id, format=declared,
        bitrate=formats.reconcile_bitrate(checked["bitrate"], media.size or 0, duration),
        duration=duration, size_bytes=media.size or 0, peaks=json.dumps(decoded.peaks))


async def decode_object(media: MediaObject) -> waveform.Decoded:
    """Decode the stored object (any backend) from a temporary local copy, off the event loop."""
    storage = current_host().storage.get(media.backend)
    handle, path = tempfile.mkstemp(prefix="render-", suffix="." + media.key.rpartition(".")[2])
    try:
        with os.fdopen(handle, "wb") as copy:
            if media.size:
                async for chunk in storage.open_range(media.key, 0, media.size - 1):
                    await asyncio.to_thread(copy.write, chunk)
        config = store.settings()
        # What the file's own headers claim is checked before any decoding; the decode
        # itself stops past the limit, so a file that lies is caught too.
        with contextlib.suppress(NotAudio):
            claimed = await asyncio.to_thread(probe, path)
            check_duration(claimed.duration, config.max_duration_seconds, "the render")
        async with decode_slot() as time_limit:
            try:
                return await asyncio.to_thread(waveform.decode, path, config.waveform_peaks,
                                               max_seconds=config.max_duration_seconds,
                                               timeout=time_limit)
            except waveform.TooLong as exc:
                raise DecodeTooLong(f"the render was refused: {exc}") from None
            except waveform.Undecodable as exc:
                raise UploadRejected(f"the file could not be decoded as audio: {exc}",
                                     code="undecodable_audio") from None
    finally:
        os.unlink(path)


@blueprint.get("/api/v1/renders/<render_id>")
@security_scheme(BEARER)
@document_response(RenderOut, 200)
@require_user
async def get_render(render_id: str):
    """One render with a fresh URL: its owner's, or one on a message the viewer may read."""
    render, thread = await store.readable_render(render_id, await current_user())
    return await store.render_json(render, thread)


@blueprint.get("/api/v1/renders/<render_id>/audio")
@security_scheme(BEARER)
@media_route
@require_user
async def render_audio(render_id: str):
    """The render's bytes through the host (Range), for backends that give no direct URL."""
    render, _ = await store.readable_render(render_id, await current_user())
    return await media_response(await current_host().ledger.get(render.media_id),
                                await current_user())


@blueprint.post("/api/v1/messages/<message_id>/renders")
@security_scheme(BEARER)
@validate_request(AttachRender)
@document_response(RenderAttached, 200)
async def attach_render(message_id: str, data: AttachRender):
    """Attach one of your renders to one of your messages."""
    user = await acting_user(data.token)
    message = await store.attach(message_id, data.render.id, user)
    return {"status": "render_attached", "message_id": str(message.id)}


@blueprint.delete("/api/v1/messages/<message_id>")
@security_scheme(BEARER)
@validate_querystring(TokenQuery)
@document_response(MessageDeleted, 200)
async def delete_message(message_id: str, query_args: TokenQuery):
    """Delete a message and its renders' files (its author or the thread's owner only)."""
    user = await acting_user(query_args.token)
    deleted_id, count = await store.delete_message(message_id, user)
    return {"status": "deleted", "id": deleted_id, "renders_deleted": count}


# -- pages ----------------------------------------------------------------------------------


@blueprint.get("/threads")
@html_page
@require_user
async def threads_page():
    threads = await store.threads_for(await current_user())
    return await render_template("renders/threads.html", threads=threads)


@blueprint.get("/threads/<thread_id>")
@html_page
@require_user
async def thread_page(thread_id: str):
    thread = await store.readable_thread(thread_id, await current_user())
    return await render_template("renders/thread.html", thread=thread)
