"""A small asyncio WebSocket client on wsproto (no extra dependency), for party tests and bench/party.py.

`offer_deflate=True` sends `Sec-WebSocket-Extensions: permessage-deflate` the way every
browser does (and Hypercorn accepts it); False is a client that asks for no compression.

Every message is stamped with the `time.perf_counter()` of the moment its bytes reached this
process (`receive_stamped`), taken when the event loop reads the socket and not when a task
gets round to parsing it: with a thousand clients in one process, the parsing of the others
would otherwise be counted as the server's delivery latency.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, CloseConnection, Ping, RejectConnection, Request,
                            TextMessage)
from wsproto.extensions import PerMessageDeflate


class Closed(Exception):
    """The server closed the socket (`code`) or refused the handshake."""

    def __init__(self, code: int | None):
        super().__init__(f"closed ({code})")
        self.code = code


class StampedReader(asyncio.StreamReader):
    """A StreamReader that remembers when the event loop last handed it bytes."""

    fed_at = 0.0
    _watch: tuple[bytes, int, asyncio.Future] | None = None

    def feed_data(self, data: bytes) -> None:
        self.fed_at = time.perf_counter()
        super().feed_data(data)
        if self._watch is not None:
            marker, start, arrived = self._watch
            if marker in self._buffer[start:]:
                self._watch = None
                if not arrived.done():
                    arrived.set_result(self.fed_at)

    def watch(self, marker: bytes) -> asyncio.Future:
        """A future set to the perf_counter() at which `marker` arrives (in bytes fed from now).

        No task has to run to notice it, so a benchmark with many clients in one process
        times each arrival without waiting for the others' parsing.
        """
        arrived = asyncio.get_running_loop().create_future()
        self._watch = (marker, max(0, len(self._buffer) - len(marker) + 1), arrived)
        return arrived


async def open_stamped_connection(host: str, port: int):
    loop = asyncio.get_running_loop()
    reader = StampedReader(limit=2 ** 20, loop=loop)
    transport, protocol = await loop.create_connection(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), host, port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class WebSocketClient:
    def __init__(self, reader: StampedReader, writer, connection: WSConnection):
        self.reader, self.writer, self.connection = reader, writer, connection
        self.pending: list[tuple[str, float]] = []  # (text, when its bytes arrived)
        self.partial = ""
        self.close_code: int | None = None
        self.extensions: list[str] = []

    @classmethod
    async def connect(cls, url: str, *, offer_deflate: bool = False) -> WebSocketClient:
        parts = urlsplit(url)
        reader, writer = await open_stamped_connection(parts.hostname, parts.port)
        connection = WSConnection(ConnectionType.CLIENT)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        extensions = [PerMessageDeflate()] if offer_deflate else []
        writer.write(connection.send(Request(host=parts.netloc, target=target,
                                             extensions=extensions)))
        client = cls(reader, writer, connection)
        while True:
            data = await reader.read(65536)
            if not data:
                raise Closed(None)
            connection.receive_data(data)
            for event in connection.events():
                if isinstance(event, AcceptConnection):
                    client.extensions = [e.name for e in event.extensions]  # what the server took
                    return client
                if isinstance(event, RejectConnection):
                    raise Closed(event.status_code)

    async def send(self, text: str) -> None:
        self.writer.write(self.connection.send(TextMessage(data=text)))
        await self.writer.drain()

    async def send_json(self, message: dict) -> None:
        await self.send(json.dumps(message))

    async def receive(self) -> str:
        return (await self.receive_stamped())[0]

    async def receive_stamped(self) -> tuple[str, float]:
        """The next message and the perf_counter() of when its bytes reached this process."""
        while True:
            # Events already buffered first: the handshake answer and the first message
            # often arrive in one read.
            self._drain_events()
            if self.pending:
                return self.pending.pop(0)
            if self.close_code is not None:
                raise Closed(self.close_code)
            data = await self.reader.read(65536)
            if not data:
                raise Closed(self.close_code)
            self.connection.receive_data(data)

    def _drain_events(self) -> None:
        for event in self.connection.events():
            if isinstance(event, TextMessage):
                self.partial += event.data
                if event.message_finished:
                    self.pending.append((self.partial, self.reader.fed_at))
                    self.partial = ""
            elif isinstance(event, Ping):
                self.writer.write(self.connection.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code

    async def receive_json(self, kind: str | None = None, timeout: float = 10.0) -> dict:
        return (await self.receive_json_stamped(kind, timeout))[0]

    async def receive_json_stamped(self, kind: str | None = None,
                                   timeout: float = 10.0) -> tuple[dict, float]:
        """The next message of type `kind` (any if None) and when its bytes arrived."""
        async def read():
            while True:
                text, arrived = await self.receive_stamped()
                message = json.loads(text)
                if kind is None or message.get("t") == kind:
                    return message, arrived
        return await asyncio.wait_for(read(), timeout)

    async def close(self) -> None:
        try:
            self.writer.write(self.connection.send(CloseConnection(code=1000)))
            await self.writer.drain()
        except Exception:
            pass
        self.writer.close()
