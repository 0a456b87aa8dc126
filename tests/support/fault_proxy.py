"""A loopback TCP proxy that a test can cut and restore, to make a real service unreachable.

    with FaultProxy("127.0.0.1", 5432) as proxy:   # forwards 127.0.0.1:proxy.port -> :5432
        ...point the app at proxy.port...
        proxy.cut()       # every open connection is reset, new ones are reset at once
        proxy.restore()   # forwards again; the service itself never noticed

It runs its own asyncio loop in a daemon thread, so sync tests, async tests and a
`mediahub serve` subprocess can all use it. "Cut" resets connections (RST, like a dead
host behind a firewall that rejects) instead of silently dropping packets, so clients see
the failure at once; `blackhole()` instead accepts and never answers, for timeout paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading

FORWARD, CUT, BLACKHOLE = "forward", "cut", "blackhole"
COPY_CHUNK = 256 * 1024


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0): the peer gets ECONNRESET, not a polite EOF."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = FORWARD
        self.connections_made = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()

    # -- control (from any thread) -----------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start_server())
        return self

    def stop(self) -> None:
        self._call(self._stop_server())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut(self) -> None:
        """Reset every open connection and every new one until restore()."""
        self._call(self._set_mode(CUT))

    def blackhole(self) -> None:
        """Accept connections but never forward or answer (a hung network path)."""
        self._call(self._set_mode(BLACKHOLE))

    def restore(self) -> None:
        self._call(self._set_mode(FORWARD))

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    # -- the proxy loop ----------------------------------------------------------------

    async def _start_server(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_server(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            reset(writer)
        self._open.clear()

    async def _set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode != FORWARD:
            # Established connections die too: a pooled client must notice on its next use.
            for writer in list(self._open):
                reset(writer)
            self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_made += 1
        if self.mode == CUT:
            reset(writer)
            return
        self._open.add(writer)
        if self.mode == BLACKHOLE:
            return  # held open, never read: the client waits for its own timeout
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._open.discard(writer)
            reset(writer)
            return
        self._open.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._open.discard(writer)
        self._open.discard(up_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(COPY_CHUNK):
                if self.mode != FORWARD:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if self.mode == FORWARD:
                with contextlib.suppress(OSError, RuntimeError):
                    writer.close()
            else:
                reset(writer)
