"""Quart: request bodies with back-pressure and a cap on every byte, chunked bodies included.

`BoundedBody` replaces Quart's request `Body` (it keeps Body's private `_complete`,
`_has_data` and `_max_content_length`) and `BoundedHTTPConnection` Quart's ASGI connection
(`_create_request_from_scope`, `handle_messages`, `handle_request`). `install(app)` puts them
in place after checking those internals; when it cannot, Quart's own classes stay (bodies are
then buffered whole and chunked ones escape the cap) and the reason is logged.
"""

from __future__ import annotations

import asyncio
import logging

from quart.asgi import ASGIHTTPConnection
from quart.utils import cancel_tasks, raise_task_exceptions
from quart.wrappers.request import Body
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

from mediahub._compat import cannot_apply, in_tested_range
from mediahub.body_pace import BodyPace

log = logging.getLogger("mediahub.compat")

DISTRIBUTION = "quart"
TESTED = ">=0.22,<0.23"

# A client that sends nothing for this long while uploading gets 408 (Quart's BODY_TIMEOUT
# only covers get_data() and forms, not streamed bodies).
IDLE_TIMEOUT = 60.0
# A streaming consumer (ingest) is woken when this much has arrived: each wake-up costs a
# task switch, so not per network message.
STREAM_CHUNK = 1024 * 1024
# What it is then handed at a time: the messages as they arrived (no joining copy; a copy
# of every byte costs more than the Python work per chunk), small ones joined up to this.
HAND_OUT_MIN = 64 * 1024

class BoundedBody(Body):
    """Quart's request body, with a bounded buffer and a cap on the total bytes received.

    Quart's Body buffers whatever arrives and only checks the size of what is currently
    buffered, so a streamed (chunked) body escapes MAX_CONTENT_LENGTH and a slow consumer
    lets memory grow without bound. Here the receiving side pauses (`room` is cleared,
    see BoundedHTTPConnection) while `high_water` bytes wait, and while the body is over
    `limit`; whoever reads it then gets 413. Awaiting the whole body (`get_data`,
    `get_json`) still works: it lifts the pause and relies on the cap.

    The cap is only judged when the body is read, because a route may raise it first
    (`set_limit`, as ingest does): bytes that arrived before that are kept, not dropped.

    For streaming consumers (ingest), `min_chunk` makes iteration wait until that much has
    arrived and then hand out what arrived, message by message without copying them
    (small ones joined up to HAND_OUT_MIN), and `idle_timeout` answers 408 when the
    consumer has waited that long without a byte arriving.

    Every body, streamed or awaited, also keeps `pace` (mediahub.body_pace): too slow on
    average, or not complete by the deadline, and whoever reads it gets 408. The clock runs
    only while the receiver waits on the client (`room` set), not while the body is paused.
    """

    high_water = 2 * 1024 * 1024

    def __init__(self, expected_content_length: int | None, max_content_length: int | None,
                 pace: BodyPace | None = None) -> None:
        super().__init__(expected_content_length, max_content_length)
        self._must_raise = None  # unused: the cap is judged by `over_limit` when read
        self._chunks: list[bytes] = []
        self._buffered = 0
        self.expected_length = expected_content_length
        self.received = 0
        self.min_chunk = 0
        self.idle_timeout: float | None = None
        self._starved_since: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._timeout_message = "no data received from the client for too long"
        self.pace = pace
        self._pace_timer: asyncio.TimerHandle | None = None
        self._waited = 0.0  # seconds spent waiting on the client, up to _ready_since
        self._ready_since: float | None = None  # set while waiting on the client now
        self._wants_everything = False
        self._dropping = False
        self._handing_out = False  # a streaming consumer is being handed what is buffered
        self.room = asyncio.Event()
        self._update_room()

    @property
    def limit(self) -> int | None:
        return self._max_content_length

    def set_limit(self, limit: int | None) -> None:
        """Raise (or lower) the cap on the whole body, e.g. to an upload's own maximum."""
        self._max_content_length = limit
        self._update_room()

    @property
    def over_limit(self) -> bool:
        limit = self._max_content_length
        return limit is not None and (self.received > limit or (self.expected_length or 0) > limit)

    @property
    def complete(self) -> bool:
        return self._complete.is_set()

    def drop_rest(self) -> None:
        """Nobody will read the body: take in whatever still arrives and forget it at once."""
        self._dropping = True
        self.clear()

    def _update_room(self) -> None:
        if self._complete.is_set() or self._dropping:
            self.room.set()  # nothing more to read but the disconnect, which must be seen
            self._stop_pace()
        elif self.over_limit or (self._buffered >= self.high_water and not self._wants_everything):
            self.room.clear()
            self._pause_pace()
        else:
            self.room.set()
            self._resume_pace()

    # -- pace: the clock of time spent waiting on the client -----------------------------

    def start_pace(self) -> None:
        """Start the clock (the receiver calls this when it starts, inside the event loop)."""
        if self.pace is not None and self.room.is_set():
            self._resume_pace()

    def waited(self) -> float:
        """Seconds spent so far waiting on the client for this body."""
        if self._ready_since is None:
            return self._waited
        return self._waited + asyncio.get_running_loop().time() - self._ready_since

    def _resume_pace(self) -> None:
        if self.pace is None or self._ready_since is not None or self._timed_out:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside a request (no loop yet): start_pace starts it
        self._ready_since = loop.time()
        self._arm_pace(loop)

    def _pause_pace(self) -> None:
        if self._ready_since is not None:
            self._waited = self.waited()
            self._ready_since = None
        self._cancel_pace_timer()

    def _stop_pace(self) -> None:
        self._pause_pace()
        self.pace = None

    def _cancel_pace_timer(self) -> None:
        if self._pace_timer is not None:
            self._pace_timer.cancel()
            self._pace_timer = None

    def _arm_pace(self, loop) -> None:
        # One timer, at the moment the body would break a rule if nothing more arrived;
        # bytes arriving meanwhile only move that moment on, which the check then sees.
        self._cancel_pace_timer()
        due = self.pace.due_in(self.received, self.waited())
        self._pace_timer = loop.call_later(max(due, 0.0) + 0.01, self._check_pace)

    def _check_pace(self) -> None:
        self._pace_timer = None
        if self.pace is None or self._ready_since is None:
            return
        waited = self.waited()
        if self.pace.due_in(self.received, waited) > 0:
            self._arm_pace(asyncio.get_running_loop())
            return
        self._timeout_message = self.pace.refusal(self.received, waited)
        log.info("request body refused (408): %s", self._timeout_message)
        self._timed_out = True
        self._pause_pace()
        self._has_data.set()  # wake the consumer, which raises

    def append(self, data: bytes) -> None:
        if not data or self._complete.is_set() or self._dropping:
            return
        # Counted over the whole body, not the buffer: chunked bodies are capped too.
        self.received += len(data)
        # Kept as they come and joined once when taken: no copy per arriving message.
        self._chunks.append(bytes(data) if isinstance(data, (bytearray, memoryview)) else data)
        self._buffered += len(data)
        self._starved_since = None
        # Waking the consumer for less than it will take costs a task switch per message.
        if self._buffered >= self._wanted() or self.over_limit:
            self._has_data.set()
        self._update_room()

    def set_complete(self) -> None:
        self._complete.set()
        self._has_data.set()
        self._update_room()

    def clear(self) -> None:
        self._chunks = []
        self._buffered = 0
        self._handing_out = False
        self._update_room()

    def _take(self) -> bytes:
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        self._buffered = 0
        return data

    def _take_some(self) -> bytes:
        """The oldest message(s): one as it arrived, or small ones joined to HAND_OUT_MIN."""
        chunks = self._chunks
        if len(chunks[0]) >= HAND_OUT_MIN or len(chunks) == 1:
            data = chunks.pop(0)
        else:
            count, size = 0, 0
            while count < len(chunks) and size < HAND_OUT_MIN:
                size += len(chunks[count])
                count += 1
            data = b"".join(chunks[:count])
            del chunks[:count]
        self._buffered -= len(data)
        self._handing_out = bool(chunks)
        return data

    def _check_readable(self) -> None:
        if self.over_limit:
            self.clear()
            raise RequestEntityTooLarge()
        if self._timed_out:
            raise RequestTimeout(self._timeout_message)

    def _wanted(self) -> int:
        # Never wait for more than the receiver will buffer before pausing; awaiting the
        # whole body only needs waking at the end.
        if self._wants_everything:
            return 1 << 62
        return max(1, min(self.min_chunk, self.high_water))

    async def __anext__(self) -> bytes:
        wanted = self._wanted()
        while True:
            self._check_readable()
            if self._chunks and (self._handing_out or self._buffered >= wanted
                                 or self._complete.is_set()):
                data = self._take_some() if self.min_chunk else self._take()
                self._update_room()
                return data
            if self._complete.is_set():
                raise StopAsyncIteration()
            await self._wait_for_data()

    async def _wait_for_data(self) -> None:
        self._has_data.clear()
        if self.idle_timeout is not None:
            loop = asyncio.get_running_loop()
            if self._starved_since is None:
                self._starved_since = loop.time()
            if self._watchdog is None:
                # One timer per idle period, not one per wait: waits happen per message.
                self._watchdog = loop.call_later(self.idle_timeout, self._check_idle)
        await self._has_data.wait()

    def _check_idle(self) -> None:
        self._watchdog = None
        if self._starved_since is None or self._complete.is_set():
            return  # not waiting now; the next wait arms a new timer
        loop = asyncio.get_running_loop()
        starved = loop.time() - self._starved_since
        if starved >= self.idle_timeout:
            self._timed_out = True
            self._has_data.set()  # wake the consumer, which raises
        else:
            self._watchdog = loop.call_later(self.idle_timeout - starved, self._check_idle)

    def __await__(self):
        return self._read_all().__await__()

    async def _read_all(self) -> bytes:
        # Whoever awaits the whole body wants it buffered: stop pausing (the cap still holds).
        self._wants_everything = True
        self._update_room()
        while True:
            self._check_readable()
            if self._complete.is_set():
                data = self._take()
                self._chunks, self._buffered = [data], len(data)  # awaiting again gives it again
                return data
            await self._wait_for_data()


def may_have_body(request) -> bool:
    """False for the HTTP/1.x requests that have no body by definition (RFC 9112: neither
    Content-Length nor Transfer-Encoding, or Content-Length 0): most requests, GETs, need no
    pace clock. HTTP/2 may send a body without announcing a length, so it always may."""
    if request.content_length:
        return True
    if not request.http_version.startswith("1"):
        return True
    return request.content_length is None and "Transfer-Encoding" in request.headers


class BoundedHTTPConnection(ASGIHTTPConnection):
    """Quart's ASGI HTTP connection, reading the body only as fast as the handler consumes it.

    Not calling `receive()` makes Hypercorn stop reading the socket, so TCP pushes back
    on the client and a 1 GiB upload costs a megabyte of buffer, not a gigabyte.
    """

    def _create_request_from_scope(self, send):
        request = super()._create_request_from_scope(send)
        pace = self.app.config.get("MEDIAHUB_BODY_PACE") if may_have_body(request) else None
        request.body = BoundedBody(request.content_length, self.app.config["MAX_CONTENT_LENGTH"], pace)
        return request

    async def __call__(self, receive, send) -> None:
        request = self._create_request_from_scope(send)
        receiver = asyncio.ensure_future(self.handle_messages(request, receive))
        handler = asyncio.ensure_future(
            self.handle_request(request, self.dropping_unread_body(request, send)))
        done, pending = await asyncio.wait([handler, receiver], return_when=asyncio.FIRST_COMPLETED)
        await cancel_tasks(pending)
        raise_task_exceptions(done)

    @staticmethod
    def dropping_unread_body(request, send):
        """`send`, but the end of the response lets the receiver drain what the handler left.

        A response (413, 415, 403...) may go out while the client is still sending. Hypercorn
        then queues the client's next body messages and, when the response ends, queues a
        disconnect behind them, waiting for room, inside the handler's last `send`. With the
        receiver paused that wait never ends, and the client never gets its response.
        """
        async def send_then_drop(message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                request.body.drop_rest()
            await send(message)
        return send_then_drop

    async def handle_messages(self, request, receive) -> None:
        body = request.body
        bounded = isinstance(body, BoundedBody)
        if bounded:
            body.start_pace()
        while True:
            if bounded and not body.room.is_set() and not body.complete:
                await body.room.wait()
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body.set_complete()
            elif message["type"] == "http.disconnect":
                # Returning makes Quart cancel the handler: an abandoned upload stops there.
                return


def install(app) -> bool:
    """Serve `app`'s requests through BoundedHTTPConnection; False (logged) if Quart's internals moved."""
    in_tested_range(DISTRIBUTION, TESTED)
    try:
        for name in ("_create_request_from_scope", "handle_messages", "handle_request"):
            if not callable(getattr(ASGIHTTPConnection, name, None)):
                raise AttributeError(f"ASGIHTTPConnection.{name}")
        probe = Body(None, None)
        for name in ("_complete", "_has_data", "_max_content_length", "_must_raise"):
            getattr(probe, name)
    except (AttributeError, TypeError) as exc:
        return cannot_apply(DISTRIBUTION, "bound request bodies", exc)
    app.asgi_http_class = BoundedHTTPConnection
    return True


def set_body_limit(body, limit: int | None) -> None:
    """Raise (or lower) the cap on a request's whole body, bounded or Quart's own."""
    if isinstance(body, BoundedBody):
        body.set_limit(limit)
    else:  # Quart's own Body (an app without mediahub's bounded connection)
        body._max_content_length = limit
