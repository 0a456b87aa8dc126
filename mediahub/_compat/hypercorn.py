"""Hypercorn: WebSockets without permessage-deflate (a Handshake swap), and the raw transport under a socket.

Hypercorn accepts permessage-deflate whenever a client offers it (every browser does) and has
no setting for it. Measured here (DESIGN.md): at 1,000 guests compression doubles broadcast
latency and triples memory, for messages of a few hundred bytes that barely shrink.
The party's fan-out writes pre-encoded frames straight to the transport under an accepted
socket (mediahub.websocket_fanout), found by walking Hypercorn's and Quart's private objects.
"""

from __future__ import annotations

import os

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
    """(H11Protocol, TCPServer) under Hypercorn's ASGI `send` of a plain-TCP HTTP/1.1 request,
    the pair `send_file_range` writes through; None for anything else (TLS, HTTP/2, another
    server, other versions' internals). Per request: no import."""
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
    except AttributeError:
        return None
    return protocol, server


async def send_file_range(raw, fd: int, offset: int, count: int) -> bool:
    """Send `count` bytes of the open file `fd` from `offset` as response body, zero-copy
    (the kernel's sendfile). The response start must have been sent. True when every byte
    went out; False when the connection is gone (it is then closed, send nothing more).

    Every byte must be in the page cache: sendfile reads the file on the event loop.
    """
    import asyncio

    import h11
    from hypercorn.events import Closed

    protocol, server = raw
    transport = server.writer.transport
    async with server.send_lock:
        try:
            framed = protocol.connection.send_with_data_passthrough(h11.Data(data=_BodySpan(count)))
            if len(framed) != 1:
                raise h11.LocalProtocolError("sendfile needs Content-Length framing")
            sent = 0
            if not transport.get_write_buffer_size() and not transport.is_closing():
                # Most bodies fit the socket's buffer: one syscall, no transport pause.
                try:
                    sent = os.sendfile(transport.get_extra_info("socket").fileno(), fd,
                                       offset, count)
                except BlockingIOError:
                    sent = 0
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
