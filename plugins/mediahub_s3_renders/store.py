"""Threads, messages and renders in the database, and who may see or change them."""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from datetime import datetime, timezone

from mediahub import BadRequest, Forbidden, NotFound, User, current_host
from mediahub_s3_renders.models import Message, Render, Thread, ThreadMember

log = logging.getLogger("mediahub.s3_renders")

MAX_MEMBERS = 200
MAX_MESSAGES_LISTED = 200  # the newest ones
MAX_THREADS_LISTED = 200


def settings():
    return current_host().plugin_config("s3_renders")


def parse_uuid(value: str, what: str) -> uuid.UUID:
    """An id from a URL or body; anything that is not a uuid is simply unknown (404)."""
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"no such {what}") from None


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- threads ------------------------------------------------------------------------------


async def is_member(thread: Thread, user: User | None) -> bool:
    if user is None:
        return False
    return await ThreadMember.exists(thread_id=thread.id, user_id=user.id)


async def readable_thread(thread_id: str, user: User | None) -> Thread:
    """The thread if `user` may read it; a private thread is 404 to non-members (no leak)."""
    thread = await Thread.get_or_none(id=parse_uuid(thread_id, "thread"))
    if thread is None or (thread.is_private and not await is_member(thread, user)):
        raise NotFound("no such thread")
    return thread


async def create_thread(owner: User, title: str, is_private: bool, usernames: list[str]) -> Thread:
    names = sorted({name for name in usernames if name != owner.username})
    if len(names) >= MAX_MEMBERS:
        raise BadRequest(f"a thread has at most {MAX_MEMBERS} members")
    users = await User.filter(username__in=names) if names else []
    missing = sorted(set(names) - {user.username for user in users})
    if missing:
        raise BadRequest(f"unknown usernames: {', '.join(missing[:10])}", code="unknown_user")
    thread = await Thread.create(title=title, owner=owner, is_private=is_private)
    await ThreadMember.bulk_create([ThreadMember(thread=thread, user=user)
                                    for user in [owner, *users]])
    return thread


async def thread_json(thread: Thread) -> dict:
    members = await ThreadMember.filter(thread_id=thread.id).prefetch_related("user")
    return {"id": str(thread.id), "title": thread.title, "owner_id": str(thread.owner_id),
            "is_private": thread.is_private, "created_at": iso(thread.created_at),
            "members": sorted(member.user.username for member in members)}


async def threads_for(user: User) -> list[Thread]:
    ids = await ThreadMember.filter(user_id=user.id).values_list("thread_id", flat=True)
    return await Thread.filter(id__in=list(ids)).order_by("-created_at").limit(MAX_THREADS_LISTED)


# -- messages -----------------------------------------------------------------------------


def encode_snapshot(snapshot: dict | None, metadata: dict | None) -> tuple[str, str | None]:
    """The snapshot JSON texts, refused when together they exceed the configured cap."""
    snapshot_text = json.dumps(snapshot or {}, separators=(",", ":"), ensure_ascii=False)
    metadata_text = (None if metadata is None
                     else json.dumps(metadata, separators=(",", ":"), ensure_ascii=False))
    limit = settings().max_snapshot_bytes
    size = len(snapshot_text.encode()) + len((metadata_text or "").encode())
    if size > limit:
        raise BadRequest(f"snapshot and snapshot_metadata are {size} bytes, over the "
                         f"{limit} byte limit", code="snapshot_too_large")
    return snapshot_text, metadata_text


async def post_message(thread: Thread, author: User, text: str, snapshot: dict | None,
                       metadata: dict | None) -> Message:
    if thread.is_private and not await is_member(thread, author):
        raise NotFound("no such thread")
    snapshot_text, metadata_text = encode_snapshot(snapshot, metadata)
    return await Message.create(thread=thread, author=author, text=text, snapshot=snapshot_text,
                                snapshot_metadata=metadata_text)


async def message_json(message: Message, thread: Thread, renders: list[Render]) -> dict:
    return {
        "id": str(message.id), "parent_thread": str(thread.id),
        "user_id": str(message.author_id), "author": message.author.username,
        "text": message.text, "created_at": iso(message.created_at),
        "timestamp": iso(message.created_at),
        "snapshot": json.loads(message.snapshot),
        "snapshot_metadata": (None if message.snapshot_metadata is None
                              else json.loads(message.snapshot_metadata)),
        "renders": [await render_json(render, thread) for render in renders],
    }


async def list_messages(thread: Thread) -> list[dict]:
    newest = await (Message.filter(thread_id=thread.id).order_by("-created_at")
                    .limit(MAX_MESSAGES_LISTED).prefetch_related("author"))
    messages = newest[::-1]
    renders = await Render.filter(message_id__in=[m.id for m in messages]).order_by("created_at")
    by_message: dict[uuid.UUID, list[Render]] = {}
    for render in renders:
        by_message.setdefault(render.message_id, []).append(render)
    return [await message_json(m, thread, by_message.get(m.id, [])) for m in messages]


# -- renders ------------------------------------------------------------------------------


async def render_url(render: Render, public: bool) -> str:
    """A presigned/signed URL with an expiry; a public thread may get the CDN URL instead."""
    host = current_host()
    media = await host.ledger.get(render.media_id)
    if media is None or media.state != "stored":
        return ""
    backend = host.storage.get(media.backend)
    ttl = host.settings.server.media_url_ttl
    url = None
    if public and "public" in inspect.signature(backend.url).parameters:
        url = await backend.url(media.key, ttl, public=True)
    if url is None:
        url = await backend.url(media.key, ttl)
    # A backend that cannot hand out URLs: the host streams it, checking access each time.
    return url or f"/api/v1/renders/{render.id}/audio"


async def render_json(render: Render, thread: Thread | None) -> dict:
    public = thread is not None and not thread.is_private
    return {"id": str(render.id), "url": await render_url(render, public), "format": render.format,
            "bitrate": render.bitrate, "duration": render.duration,
            "size_bytes": render.size_bytes, "created_at": iso(render.created_at),
            "message_id": str(render.message_id) if render.message_id else None,
            "peaks": json.loads(render.peaks)}


async def readable_render(render_id: str, user: User) -> tuple[Render, Thread | None]:
    """A render its owner may always read; an attached one, whoever may read its thread."""
    render = await Render.get_or_none(id=parse_uuid(render_id, "render"))
    if render is None:
        raise NotFound("no such render")
    thread = None
    if render.message_id is not None:
        message = await Message.get(id=render.message_id)
        thread = await Thread.get(id=message.thread_id)
        if thread.is_private and not await is_member(thread, user):
            raise NotFound("no such render")
    elif render.owner_id != user.id:
        raise NotFound("no such render")
    return render, thread


async def attach(message_id: str, render_id: str, user: User) -> Message:
    message = await Message.get_or_none(id=parse_uuid(message_id, "message"))
    if message is None:
        raise NotFound("no such message")
    thread = await Thread.get(id=message.thread_id)
    if thread.is_private and not await is_member(thread, user):
        raise NotFound("no such message")
    if message.author_id != user.id:
        raise Forbidden("only the message's author may attach renders to it")
    render = await Render.get_or_none(id=parse_uuid(render_id, "render"))
    if render is None or render.owner_id != user.id:
        # Someone else's render is indistinguishable from a missing one.
        raise NotFound("no such render")
    if render.message_id is not None and render.message_id != message.id:
        raise BadRequest("this render is already attached to another message", code="render_attached")
    render.message_id = message.id
    await render.save(update_fields=["message_id"])
    return message


async def delete_message(message_id: str, user: User) -> tuple[str, int]:
    """Delete a message and its renders' objects; a storage failure leaves them to the sweep."""
    message = await Message.get_or_none(id=parse_uuid(message_id, "message"))
    if message is None:
        raise NotFound("no such message")
    thread = await Thread.get(id=message.thread_id)
    if thread.is_private and not await is_member(thread, user):
        raise NotFound("no such message")
    if user.id not in (message.author_id, thread.owner_id):
        raise Forbidden("only the message's author or the thread's owner may delete it")
    renders = await Render.filter(message_id=message.id)
    for render in renders:
        await remove_render(render)
    await message.delete()
    return str(message.id), len(renders)


async def remove_render(render: Render) -> None:
    """The render's row, then its object through the ledger (which keeps a row to retry)."""
    host = current_host()
    await render.delete()
    media = await host.ledger.get(render.media_id)
    if media is not None and not await host.ledger.delete(media):
        log.warning("render %s: object %s not deleted yet; the sweep retries", render.id, media.key)


async def sweep_unattached(now: float) -> int:
    """Renders uploaded but never attached to a message within the grace period."""
    grace = current_host().settings.server.orphan_grace
    cutoff = datetime.fromtimestamp(now - grace, tz=timezone.utc)
    removed = 0
    for render in await Render.filter(message_id__isnull=True, created_at__lt=cutoff).limit(500):
        await remove_render(render)
        removed += 1
    return removed
