"""Broadcast to many WebSockets cheaply: encode a text frame once, write it straight to each socket.

Sending through Quart and Hypercorn (`await websocket.send(text)`) costs each socket an
extra event-loop turn and a trip through Quart's ASGI wrapper, Hypercorn's stream and
protocol objects and wsproto's framing, before the one `send()` system call that matters:
about 50 µs of Python per guest, 50 ms for a party of 1,000 (bench/party.py). A server frame
is not masked, so the bytes are the same for every uncompressed socket: `text_frame` builds
them once and `DirectSocket.try_write` hands them to the socket's transport without awaiting.

This reaches into Hypercorn's objects (there is no ASGI way to write raw bytes), through
`mediahub._compat.hypercorn`. `DirectSocket.of` checks every link it relies on and returns None when anything differs
(another server, HTTP/2, a negotiated extension such as permessage-deflate, another
Hypercorn version); callers then use the ordinary `websocket.send`. `try_write` returns
False whenever the ordinary path must be used for that message (the socket is closing, or
its send buffer is backed up: the ordinary path waits for the slow reader, this one never
waits). tests/test_websocket_fanout.py runs it under a real Hypercorn.
"""

from __future__ import annotations

import struct

from mediahub._compat.hypercorn import raw_websocket, stream_is_open

# A transport holding more than this unsent (the kernel's socket buffer is already full)
# belongs to a slow reader: leave it to the ordinary path, which awaits drain() for it alone.
MAX_BUFFERED = 64 * 1024


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked WebSocket text frame (RFC 6455 5.2) carrying `text`."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class DirectSocket:
    """The raw transport under one accepted Hypercorn WebSocket (HTTP/1.1, no extensions)."""

    def __init__(self, stream, transport) -> None:
        self._stream = stream
        self._transport = transport

    @classmethod
    def of(cls, websocket) -> DirectSocket | None:
        """For Quart's `websocket` (the object, not the proxy), after accept(); else None."""
        found = raw_websocket(websocket)
        if found is None:
            return None
        stream, transport = found
        return cls(stream, transport)

    def try_write(self, frame: bytes) -> bool:
        """Write a whole frame now if the socket can take it; False: use websocket.send."""
        stream, transport = self._stream, self._transport
        if transport.is_closing() or not stream_is_open(stream):  # closed, or a close frame sent
            return False
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            return False
        transport.write(frame)
        return True
