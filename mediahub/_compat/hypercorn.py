"""Hypercorn: WebSockets without permessage-deflate (a Handshake swap), and the raw transport under a socket.

Hypercorn accepts permessage-deflate whenever a client offers it (every browser does) and has
no setting for it. Measured here (DESIGN.md): at 1,000 guests compression doubles broadcast
latency and triples memory, for messages of a few hundred bytes that barely shrink.
The party's fan-out writes pre-encoded frames straight to the transport under an accepted
socket (mediahub.websocket_fanout), found by walking Hypercorn's and Quart's private objects.
"""

from __future__ import annotations

import functools
import os
import re
import time

from mediahub._compat import cannot_apply, in_tested_range

DISTRIBUTION = "hypercorn"
TESTED = ">=0.18,<0.19"

_hypercorn_handshake = None

try:
    from wsproto.connection import ConnectionState

    _OPEN = ConnectionState.OPEN
except ImportError:  # raw_websocket then finds nothing and fan-out uses websocket.send
    _OPEN = object()


def _handshake_classes():
    """(Hypercorn's own Handshake, ours without extensions), made once."""
    global _hypercorn_handshake
    from hypercorn.protocol import ws_stream

    if _hypercorn_handshake is None:
        _hypercorn_handshake = ws_stream.Handshake

        class UncompressedHandshake(_hypercorn_handshake):
            """Hypercorn's handshake, ignoring the client's offered extensions (none is accepted)."""

            def __init__(self, headers, http_version) -> None:
                super().__init__(headers, http_version)
                self.extensions = None

        _handshake_classes.uncompressed = UncompressedHandshake
    return _hypercorn_handshake, _handshake_classes.uncompressed


def set_websocket_compression(enabled: bool) -> bool:
    """Choose for every WebSocket this process accepts from now on; False (logged) if it cannot."""
    in_tested_range(DISTRIBUTION, TESTED)
    try:
        from hypercorn.protocol import ws_stream

        original, uncompressed = _handshake_classes()
        probe = original([], "1.1")
        probe.extensions  # noqa: B018 - the attribute the swap clears must exist
    except (ImportError, AttributeError, TypeError) as exc:
        return cannot_apply(DISTRIBUTION, "turn WebSocket compression off", exc)
    ws_stream.Handshake = original if enabled else uncompressed
    return True


def websocket_compression_off() -> bool:
    from hypercorn.protocol import ws_stream

    return ws_stream.Handshake is not _handshake_classes()[0]


def raw_websocket(websocket):
    """(Hypercorn's WSStream, the asyncio transport) under Quart's accepted `websocket`
    (the object, not the proxy) on plain HTTP/1.1 without extensions; else None."""
    try:
        from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream

        # Quart: websocket._send = partial(ASGIWebsocketConnection.send_data, send) and
        # Hypercorn's `send` is the bound WSStream.app_send.
        stream = websocket._send.args[0].__self__
        if type(stream) is not WSStream or stream.state != ASGIWebsocketState.CONNECTED:
            return None
        if stream.connection.state != _OPEN or stream.connection._proto.extensions:
            return None
        # WSStream.send -> H11Protocol.stream_send; H11Protocol.send -> TCPServer.protocol_send.
        protocol = stream.send.__self__
        if type(protocol).__name__ != "H11Protocol":
            return None
        transport = protocol.send.__self__.writer.transport
        transport.get_write_buffer_size  # noqa: B018 - must exist (asyncio and uvloop)
    except (AttributeError, IndexError, TypeError, ImportError):
        return None
    return stream, transport


def stream_is_open(stream) -> bool:
    """The WSStream has sent no close frame (wsproto's connection state is OPEN). Per frame
    of a fan-out: no import here."""
    return not stream.closed and stream.connection.state == _OPEN


class _BodySpan:
    """Stands for `length` body bytes that are sent past h11 (by sendfile): h11 counts
    them against Content-Length (its documented sendfile support) and never reads them."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length


class _FdFile:
    """The least of a file object that asyncio's `loop.sendfile` uses: a binary mode and a fileno."""

    mode = "rb"

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


def raw_http11(send):
    """(HTTPStream, H11Protocol, TCPServer) under Hypercorn's ASGI `send` of a plain-TCP
    HTTP/1.1 request, what `send_file_response` writes through; None for anything else (TLS,
    HTTP/2, another server, other versions' internals). Per request: no import."""
    try:
        # Hypercorn: the app's `send` is the bound HTTPStream.app_send; HTTPStream.send is
        # H11Protocol.stream_send; H11Protocol.send is TCPServer.protocol_send.
        stream = send.__self__
        if type(stream).__name__ != "HTTPStream":
            return None
        protocol = stream.send.__self__
        if type(protocol).__name__ != "H11Protocol" or protocol.ssl:
            return None
        server = protocol.send.__self__
        transport = server.writer.transport
        if type(transport).__name__ != "_SelectorSocketTransport":
            return None  # uvloop or TLS: send bytes the ordinary way
        protocol.connection.send_with_data_passthrough  # noqa: B018 - h11's sendfile API
        server.send_lock  # noqa: B018
        transport._sock.send  # noqa: B018 - the socket under asyncio's selector transport
        stream.state  # noqa: B018 - advanced past the start here, as app_send would
    except AttributeError:
        return None
    return stream, protocol, server


# A header block mediahub writes itself must be what h11 would have accepted: lowercase
# token names, values without control characters (no CR/LF: no header injection) nor
# surrounding whitespace. Anything else takes Hypercorn's path, which refuses it as before.
_HEADER_BLOCK = re.compile(
    rb"(?:[!#$%&'*+\-.^_`|~0-9a-z]+: (?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*"
    rb"[\x21-\x7e\x80-\xff])?)?\r\n)*")


def header_block(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """`name: value\r\n` lines of the response's headers but Content-Length (h11 writes
    that one), or None when one of them is not a header h11 would send as given."""
    lines = [b"%s: %s\r\n" % pair for pair in headers if pair[0] != b"content-length"]
    block = b"".join(lines)
    # One line per header: a value with a line break in it would pass as two good lines.
    if block.count(b"\n") != len(lines) or not _HEADER_BLOCK.fullmatch(block):
        return None
    return block


async def send_file_response(raw, status: int, headers: list[tuple[bytes, bytes]],
                             block: bytes, fd: int, offset: int, count: int) -> bool | None:
    """Start the response and send `count` bytes of the open file `fd` from `offset` as
    its body, zero-copy (the kernel's sendfile). True when every byte went out; False when
    the connection is gone (it is then closed, send nothing more); None when nothing was
    sent because this stream is not at its response's start (send it the ordinary way).
    The caller then ends the response with an empty body message, as any ASGI app does.

    The status line and headers skip Hypercorn's and h11's header handling (~20 us for
    ten headers, a fifth of a 64 KiB range's CPU): h11 is given only what decides its state
    (Content-Length, and Connection: close where Hypercorn would add it) and its bytes go
    out with `block` (from `header_block`) and Hypercorn's own date/server headers; the
    stream is moved past the response start as its app_send would (the access log and the
    end of the response then work as for any response).

    Every byte must be in the page cache: sendfile reads the file on the event loop.
    """
    import h11
    from hypercorn.protocol.http_stream import ASGIHTTPState

    stream, protocol, server = raw
    connection = protocol.connection
    if stream.state is not ASGIHTTPState.REQUEST or connection.our_state is not h11.SEND_RESPONSE:
        return None
    config = protocol.config
    # Connection: close where Hypercorn's stream_send would add it; h11 adds it itself where
    # the client asked for it (or is HTTP/1.0).
    closing = protocol.keep_alive_requests >= config.keep_alive_max_requests
    async with server.send_lock:
        try:
            head = connection.send(_framing_response(status, count, closing))
        except h11.LocalProtocolError:
            if connection.their_state is not h11.ERROR:
                raise
            return None  # the client's side broke; Hypercorn's path ignores the response too
        stream.response = {"type": "http.response.start", "status": status, "headers": headers}
        stream.state = ASGIHTTPState.RESPONSE
        head = b"".join((head[:-2], block, _server_headers(config), b"\r\n"))
        return await _send_body(protocol, server, head, fd, offset, count)


@functools.lru_cache(maxsize=256)
def _framing_response(status: int, count: int, closing: bool):
    """The h11 event that moves h11 as the whole response would: its framing alone (h11's
    events are immutable, so one is made per status and length)."""
    import h11

    framing = [(b"content-length", b"%d" % count)]
    if closing:
        framing.append((b"connection", b"close"))
    return h11.Response(status_code=status, headers=framing)


_server_headers_made = (None, None, b"")  # (second, Hypercorn's config, its header lines)


def _server_headers(config) -> bytes:
    """Hypercorn's own response headers (Date, Server, ...) as header lines. Date has a
    resolution of a second, so they are made once a second, not once a response."""
    global _server_headers_made
    second = int(time.time())
    made_at, made_for, lines = _server_headers_made
    if made_at != second or made_for is not config:
        lines = b"".join([b"%s: %s\r\n" % pair for pair in config.response_headers("h11")])
        _server_headers_made = (second, config, lines)
    return lines


async def send_file_range(raw, fd: int, offset: int, count: int) -> bool:
    """The body alone, as `send_file_response` sends it, after a response start the app
    sent through Hypercorn. True when every byte went out; False when the connection is gone."""
    _, protocol, server = raw
    async with server.send_lock:
        return await _send_body(protocol, server, b"", fd, offset, count)


async def _send_body(protocol, server, head: bytes, fd: int, offset: int, count: int) -> bool:
    """Under the send lock: account the body in h11, write `head`, sendfile the span."""
    import asyncio
    import socket

    import h11
    from hypercorn.events import Closed

    transport = server.writer.transport
    try:
        framed = protocol.connection.send_with_data_passthrough(h11.Data(data=_BodySpan(count)))
        if len(framed) != 1:
            raise h11.LocalProtocolError("sendfile needs Content-Length framing")
        sent = 0
        if not transport.get_write_buffer_size() and not transport.is_closing():
            # Most bodies fit the socket's buffer: no transport pause, and with MSG_MORE
            # the head leaves in the body's first segment (the client reads it once).
            sock = transport._sock  # asyncio's TransportSocket wrapper has no send()
            written = 0
            if head:
                try:
                    written = sock.send(head, socket.MSG_MORE)
                except BlockingIOError:
                    pass
            if written < len(head):
                transport.write(head[written:])  # loop.sendfile waits for it to drain
            else:
                try:
                    sent = os.sendfile(sock.fileno(), fd, offset, count)
                except BlockingIOError:
                    pass
        elif head:
            transport.write(head)
        if sent < count:
            sent += await asyncio.get_running_loop().sendfile(
                transport, _FdFile(fd), offset + sent, count - sent, fallback=False)
        if sent < count:
            raise ConnectionError("the file ended before its Content-Length")
        return True
    except (ConnectionError, RuntimeError):
        await protocol.handle(Closed())
        transport.abort()
        return False
