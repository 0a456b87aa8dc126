"""Whether WebSockets negotiate permessage-deflate: off by default, because party messages are tiny.

Hypercorn accepts permessage-deflate whenever a client offers it (every browser does) and has
no setting for it. Measured here (DESIGN.md): at 1,000 guests compression doubles broadcast
latency and triples memory, for messages of a few hundred bytes that barely shrink.
"""

from __future__ import annotations

from hypercorn.protocol import ws_stream

_HypercornHandshake = ws_stream.Handshake


class UncompressedHandshake(_HypercornHandshake):
    """Hypercorn's handshake, ignoring the client's offered extensions (so none is accepted)."""

    def __init__(self, headers, http_version) -> None:
        super().__init__(headers, http_version)
        self.extensions = None


def set_websocket_compression(enabled: bool) -> None:
    """Choose for every WebSocket this process accepts from now on."""
    ws_stream.Handshake = _HypercornHandshake if enabled else UncompressedHandshake
