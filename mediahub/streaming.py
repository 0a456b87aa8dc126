"""Serve stored media over HTTP: Range/conditional rules, signed /media/ URLs, two emitters.

The rules (which status, which headers) live in pure functions: `parse_range` and
`plan_response`. Two emitters share them:

* `MediaGateway`, raw ASGI middleware in front of Quart, serves `GET/HEAD
  /media/<backend>/<key>?exp=&sig=` (the signed URLs local-disk hands out). It skips
  Quart's request machinery entirely: Quart's response path reads small buffers, cuts
  slow downloads at RESPONSE_TIMEOUT and costs ~10x the CPU per request.
* `media_response(media)` for plugin routes (e.g. `/api/track/<id>` behind auth).

The rules themselves (Range parsing, 200/206/304/412/416) are pure functions in
mediahub.ranges.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import os
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping
from urllib.parse import quote, unquote, unquote_plus

from quart import Blueprint, Response, request

from mediahub._compat.hypercorn import (header_block, raw_http11, send_file_range,
                                        send_file_response)
from mediahub.datatypes import ASGIApp, Receive, Scope, Send
from mediahub.errors import NotFound, StorageUnavailable
# Re-exported: plugins and hookspecs name ByteRange and the rules from here too.
from mediahub.ranges import (ByteRange, ResponsePlan, Unsatisfiable, error_body,  # noqa: F401
                             http_date, is_digits, parse_range, plan_response)
from mediahub.storage import InvalidKey, ObjectStat

if TYPE_CHECKING:
    from mediahub.host import Host
    from mediahub.models import MediaObject, User

log = logging.getLogger("mediahub.streaming")

blueprint = Blueprint("media", __name__)

CHUNK_SIZE = 1024 * 1024  # large reads: a 1 MiB pread costs about as much as an 8 KiB one
MEDIA_PREFIX = "/media/"


# --------------------------------------------------------------------------------------
# Signed media URLs (local-disk hands them out, the gateway checks them)
# --------------------------------------------------------------------------------------


def media_signature(secret: bytes, backend: str, key: str, expires: int) -> str:
    # Keys and backend names never contain a newline, so the message is unambiguous.
    message = f"{backend}\n{key}\n{expires}".encode()
    # hmac.digest is OpenSSL's one-shot HMAC: 1-2 us, against ~8 us for hmac.new(...)
    # (two hash objects made in Python), once per /media/ request.
    return hmac.digest(secret, message, "sha256").hex()


def signed_media_url(secret: bytes, backend: str, key: str, expires: int) -> str:
    """Host-relative `/media/<backend>/<key>?exp=<unix>&sig=<hex>`."""
    signature = media_signature(secret, backend, key, expires)
    return f"{MEDIA_PREFIX}{quote(backend, safe='')}/{quote(key, safe='/')}?exp={expires}&sig={signature}"


def check_media_signature(secret: bytes, backend: str, key: str, exp: str | None,
                          sig: str | None, now: float) -> str | None:
    """None if the URL is valid now, else why not (for the 403 message)."""
    if not exp or not sig or not is_digits(exp) or len(exp) > 12:
        return "missing or malformed signature"
    expected = media_signature(secret, backend, key, int(exp))
    if not hmac.compare_digest(expected, sig):
        return "bad signature"
    if int(exp) < now:
        return "link expired"
    return None


def split_media_path(raw_path: str) -> tuple[str, str] | None:
    """`/media/<backend>/<key>` (still percent-encoded) -> (backend, key), or None."""
    rest = raw_path[len(MEDIA_PREFIX):]
    backend, slash, key = rest.partition("/")
    if not slash or not backend or not key:
        return None
    try:
        return (unquote(backend, errors="strict"), unquote(key, errors="strict"))
    except UnicodeDecodeError:
        return None


# --------------------------------------------------------------------------------------
# Emitter 1: the raw ASGI gateway for /media/ URLs
# --------------------------------------------------------------------------------------


class MediaGateway:
    """ASGI middleware: GET/HEAD under /media/ is answered here, everything else by Quart."""

    def __init__(self, asgi_app: ASGIApp, host: Host):
        self.asgi_app = asgi_app
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] in ("GET", "HEAD")
                and scope["path"].startswith(MEDIA_PREFIX)):
            await self.serve(scope, receive, send)
        else:
            await self.asgi_app(scope, receive, send)

    async def serve(self, scope, receive, send) -> None:
        raw_path = scope.get("raw_path")
        raw_path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        where = split_media_path(raw_path)
        if where is None:
            return await send_json_error(send, 404, "not_found", "no such media")
        backend_name, key = where
        exp, sig = signature_params(scope.get("query_string", b""))
        problem = check_media_signature(self.host.secret_key, backend_name, key, exp, sig,
                                        time.time())
        if problem:
            return await send_json_error(send, 403, "forbidden", problem)
        backend = (self.host.storage.backends if self.host.storage else {}).get(backend_name)
        if backend is None:
            return await send_json_error(send, 404, "not_found", "no such media")
        method = scope["method"]
        headers = conditional_headers(scope["headers"])
        accel = getattr(backend, "accel_redirect", None)
        location = accel(key) if accel is not None else None
        # Zero-copy where the connection allows it (plain HTTP/1.1 under Hypercorn).
        raw = raw_http11(send) if location is None and method == "GET" else None
        try:
            stat, plan, body = await stat_and_plan(backend, key, method, headers,
                                                   read_small=location is None,
                                                   open_cached=raw is not None)
        except Exception:
            log.exception("storage %s failed on %r", backend_name, key)
            return await send_json_error(send, 503, "storage_unavailable", "storage unavailable")
        if stat is None:
            return await send_json_error(send, 404, "not_found", "no such media")
        remaining = max(int(exp) - int(time.time()), 0)
        plan.headers.append(("Cache-Control", f"private, max-age={remaining}"))
        if plan.send_body and location is not None:
            # nginx serves the bytes itself (and redoes Range) from its internal location.
            return await send_accel_redirect(send, plan, location)
        if isinstance(body, CachedFile):
            return await send_cached_file(send, plan, raw, body)
        await send_plan(send, receive, plan, backend, key, stat.size, method, body)


# What plan_response reads of a request (all the other headers are skipped unread).
CONDITIONAL_HEADERS = frozenset((b"range", b"if-range", b"if-match", b"if-none-match",
                                 b"if-modified-since", b"if-unmodified-since"))


def conditional_headers(raw_headers) -> dict[str, str]:
    """The request headers plan_response reads, by lowercase name (ASGI names are lowercase)."""
    return {name.decode("latin-1"): value.decode("latin-1")
            for name, value in raw_headers if name in CONDITIONAL_HEADERS}


def signature_params(query_string: bytes) -> tuple[str | None, str | None]:
    """`exp` and `sig` of a signed link's query (the last of each, as parse_qsl would give)."""
    exp = sig = None
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"exp" or name == b"sig":
            text = value.decode("latin-1")
            if "%" in text or "+" in text:
                text = unquote_plus(text)
            if name == b"exp":
                exp = text or None
            else:
                sig = text or None
    return exp, sig


class CachedFile(int):
    """An open file descriptor whose bytes to send are all in the page cache (sendfile them)."""


async def stat_and_plan(backend, key: str, method: str, headers: Mapping[str, str],
                        read_small: bool = True, open_cached: bool = False
                        ) -> tuple[ObjectStat | None, ResponsePlan | None, bytes | CachedFile | None]:
    """Stat the object and plan the response in one step (one thread hop at most).

    With a backend's optional fast paths: `stat_and_open` (open_cached=True) gives an open
    file whose bytes are all cached, to sendfile (a CachedFile the caller must close), or a
    small body it read; `stat_and_read` reads a small body in the same thread hop. Without
    a body to read (read_small=False: nginx sends it), `stat_and_open` stats on the loop
    (open + fstat, as for every other /media/ request) instead of a thread hop per request."""
    plans: list[ResponsePlan] = []

    def choose(stat: ObjectStat) -> tuple[int, int] | None:
        plan = plan_response(method, headers, stat)
        plans.append(plan)
        if not read_small or not plan.send_body or method == "HEAD":
            return None
        span = plan.byte_range or ByteRange(0, stat.size - 1)
        return span.start, span.end

    body: bytes | CachedFile | None = None
    opener = getattr(backend, "stat_and_open", None) if open_cached or not read_small else None
    fast = getattr(backend, "stat_and_read", None) if read_small else None
    try:
        if opener is not None:
            stat, _, fd, body = await opener(key, choose, CHUNK_SIZE)
            if fd is not None:
                body = CachedFile(fd)
        elif fast is not None:
            stat, _, body = await fast(key, choose, CHUNK_SIZE)
        else:
            stat = await backend.stat(key)
            if stat is not None:
                choose(stat)
    except InvalidKey:
        return None, None, None
    return stat, (plans[-1] if plans else None), body


async def send_cached_file(send, plan: ResponsePlan, raw, fd: CachedFile) -> None:
    """The planned response with its body sent by sendfile from the page cache, its head
    written past Hypercorn's header handling where the connection allows it."""
    try:
        headers = _encode(plan.headers)
        span = plan.byte_range
        start, length = (span.start, span.length) if span else (0, plan_length(plan))
        block = header_block(headers)
        sent = None
        if block is not None:
            sent = await send_file_response(raw, plan.status, headers, block, fd, start, length)
        if sent is None:
            await send({"type": "http.response.start", "status": plan.status, "headers": headers})
            sent = await send_file_range(raw, fd, start, length)
        if sent:
            await send({"type": "http.response.body", "body": b""})
    finally:
        os.close(fd)


def plan_length(plan: ResponsePlan) -> int:
    return int(next(value for name, value in plan.headers if name == "Content-Length"))


async def send_json_error(send, status: int, code: str, message: str,
                          headers: list[tuple[str, str]] = ()) -> None:
    body = error_body(code, message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"accept-ranges", b"bytes"), (b"x-content-type-options", b"nosniff"), *_encode(headers)]})
    await send({"type": "http.response.body", "body": body})


def _encode(headers) -> list[tuple[bytes, bytes]]:
    return [(_header_name(name), value.encode("latin-1")) for name, value in headers]


@functools.lru_cache(maxsize=256)
def _header_name(name: str) -> bytes:
    """A header name as ASGI wants it (lowercase bytes); the few names there are, made once."""
    return name.lower().encode("latin-1")


async def send_accel_redirect(send, plan: ResponsePlan, location: str) -> None:
    # nginx redoes Range and the lengths for the file it sends. The hand-off itself is an
    # empty body of Content-Length 0: without a length h11 would frame it chunked, a second
    # write (the last chunk) and more header work per request (measured: ~35% of its CPU).
    keep = [(n, v) for n, v in plan.headers
            if n not in ("Content-Length", "Content-Range", "Accept-Ranges")]
    await send({"type": "http.response.start", "status": 200,
                "headers": _encode(keep + [("Content-Length", "0"),
                                           ("X-Accel-Redirect", location)])})
    await send({"type": "http.response.body", "body": b""})


async def send_plan(send, receive, plan: ResponsePlan, backend, key: str, size: int,
                    method: str, body: bytes | None = None) -> None:
    if plan.error:
        code, message = plan.error
        return await send_json_error(send, plan.status, code, message,
                                     [h for h in plan.headers
                                      if h[0] not in ("Content-Type", "Accept-Ranges")])
    await send({"type": "http.response.start", "status": plan.status,
                "headers": _encode(plan.headers)})
    if not plan.send_body or method == "HEAD":
        return await send({"type": "http.response.body", "body": b""})
    if body is not None:
        return await send({"type": "http.response.body", "body": body})
    span = plan.byte_range or ByteRange(0, size - 1)
    if span.length <= CHUNK_SIZE:
        # One read, one send: nothing to stop early, so no disconnect watcher is needed.
        body = b"".join([chunk async for chunk in backend.open_range(key, span.start, span.end)])
        return await send({"type": "http.response.body", "body": body})
    await pump_until_disconnect(send, receive, backend.open_range(key, span.start, span.end))


async def pump_until_disconnect(send, receive, chunks: AsyncIterator[bytes]) -> None:
    """Send chunks as they are read; stop reading the moment the client goes away.

    Hypercorn silently drops what an app sends after a disconnect, so without this an
    aborted download would keep reading the object to its end.
    """
    async def pump() -> None:
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                # A send to a closed connection returns at once; yield so the watcher runs.
                await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    pumping = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (watching, pumping):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if pumping in done:
        pumping.result()  # a storage error mid-body: let the server drop the connection


async def wait_for_disconnect(receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


# --------------------------------------------------------------------------------------
# Emitter 2: Quart responses for plugin routes
# --------------------------------------------------------------------------------------


async def media_response(media: MediaObject, user: User | None = None, *,
                         backend: Any = None) -> Response:
    """Serve a ledger object from a Quart route with the same Range/conditional rules.

    Raises NotFound if the object is missing. Calls the `stream_started` hook when bytes
    are about to be sent. The response is never cut by RESPONSE_TIMEOUT.

    `backend` (anything with the Storage methods `stat` and `open_range`) serves
    `media.key` from outside the configured storage, e.g. a plugin's read-only folder
    (music-library's collection); `media` is then an unsaved row describing the file.
    """
    from mediahub.errors_http import error_response
    from mediahub.host import current_host

    host = current_host()
    if media is None or media.state != "stored":
        raise NotFound("no such media")
    if backend is None:
        try:
            backend = host.storage.get(media.backend)
        except KeyError:
            raise NotFound("no such media") from None
    try:
        stat = await backend.stat(media.key)
    except InvalidKey:
        stat = None
    except Exception as exc:
        log.exception("storage %s failed to stat %r", media.backend, media.key)
        raise StorageUnavailable("storage unavailable") from exc
    if stat is None:
        raise NotFound("no such media")
    if media.content_type:
        stat = ObjectStat(stat.key, stat.size, stat.etag, stat.last_modified, media.content_type)
    plan = plan_response(request.method, request.headers, stat)
    if plan.error:
        code, message = plan.error
        return error_response(plan.status, code, message,
                              {n: v for n, v in plan.headers if n != "Content-Type"})
    body: Any = b""
    # Every method but HEAD gets the body its headers announce: a Subsonic app POSTs its
    # stream requests (formPost), and a Content-Length without the bytes breaks the connection.
    if plan.send_body and request.method != "HEAD":
        await host.call_hook("stream_started", media=media, user=user, byte_range=plan.byte_range)
        span = plan.byte_range or ByteRange(0, stat.size - 1)
        body = backend.open_range(media.key, span.start, span.end)
    response = Response(body, status=plan.status)
    for name, value in plan.headers:
        response.headers[name] = value
    if plan.status == 304:
        response.headers.pop("Content-Length", None)
    response.timeout = None  # a slow listener must get every byte
    return response


async def play_url(media: MediaObject, user: User | None = None) -> str | None:
    """Where a client should fetch `media`: a plugin's `stream_url`, else the backend's own
    signed URL (None only if neither can give one; then serve it with media_response)."""
    from mediahub.host import current_host

    host = current_host()
    direct = await host.first_result("stream_url", media=media, user=user)
    if direct:
        return direct
    return await host.storage.get(media.backend).url(media.key, host.settings.server.media_url_ttl)
