"""A small asyncio WebSocket client on wsproto (no extra dependency), for party tests and bench/party.py.

`offer_deflate=True` sends `Sec-WebSocket-Extensions: permessage-deflate` the way every
browser does (and Hypercorn accepts it); False is a client that asks for no compression.
"""

from __future__ import annotations

import asyncio
import json
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


class WebSocketClient:
    def __init__(self, reader, writer, connection: WSConnection):
        self.reader, self.writer, self.connection = reader, writer, connection
        self.pending: list[str] = []
        self.partial = ""
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, url: str, *, offer_deflate: bool = False) -> WebSocketClient:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
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
                    return client
                if isinstance(event, RejectConnection):
                    raise Closed(event.status_code)

    async def send(self, text: str) -> None:
        self.writer.write(self.connection.send(TextMessage(data=text)))
        await self.writer.drain()

    async def send_json(self, message: dict) -> None:
        await self.send(json.dumps(message))

    async def receive(self) -> str:
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
                    self.pending.append(self.partial)
                    self.partial = ""
            elif isinstance(event, Ping):
                self.writer.write(self.connection.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code

    async def receive_json(self, kind: str | None = None, timeout: float = 10.0) -> dict:
        async def read():
            while True:
                message = json.loads(await self.receive())
                if kind is None or message.get("t") == kind:
                    return message
        return await asyncio.wait_for(read(), timeout)

    async def close(self) -> None:
        try:
            self.writer.write(self.connection.send(CloseConnection(code=1000)))
            await self.writer.drain()
        except Exception:
            pass
        self.writer.close()
