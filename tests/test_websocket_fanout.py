"""mediahub.websocket_fanout under a real Hypercorn: frames written straight to the socket arrive intact."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from quart import Quart, websocket
from wsproto.frame_protocol import FrameProtocol

from mediahub._compat.hypercorn import set_websocket_compression
from mediahub.websocket_fanout import DirectSocket, text_frame
from tests.support.websocket_client import WebSocketClient
from tests.support.ports import free_port


@pytest.fixture(autouse=True)
def hypercorn_handshake():
    """set_websocket_compression patches Hypercorn for the whole process: put it back."""
    from hypercorn.protocol import ws_stream

    original = ws_stream.Handshake
    yield
    ws_stream.Handshake = original


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_text_frame_is_what_wsproto_sends(size):
    text = ("é" * size)[:size]
    assert text_frame(text) == FrameProtocol(client=False, extensions=[]).send_data(text, True)


def direct_app() -> Quart:
    """Says whether the fast path exists, then sends three messages through it (or not)."""
    app = Quart(__name__)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        direct = DirectSocket.of(websocket._get_current_object())
        await websocket.send("direct" if direct else "ordinary")
        for i in range(3):
            text = f"message {i} " + "x" * (200 * i)
            if direct is None or not direct.try_write(text_frame(text)):
                await websocket.send(text)
        await websocket.send(await websocket.receive())  # the ordinary path still works after
        await websocket.receive()

    return app


@contextlib.asynccontextmanager
async def hypercorn_server(app: Quart):
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    for _ in range(100):
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        await asyncio.sleep(0.05)
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


async def conversation(url: str, offer_deflate: bool) -> list[str]:
    client = await WebSocketClient.connect(url, offer_deflate=offer_deflate)
    try:
        received = [await asyncio.wait_for(client.receive(), 5) for _ in range(4)]
        await client.send("echo")
        received.append(await asyncio.wait_for(client.receive(), 5))
        return received
    finally:
        await client.close()


@pytest.mark.parametrize("offer_deflate", [False, True])
async def test_direct_writes_arrive_in_order_under_hypercorn(offer_deflate):
    set_websocket_compression(False)  # what `mediahub serve` does by default
    async with hypercorn_server(direct_app()) as url:
        received = await conversation(url, offer_deflate)
    assert received[0] == "direct"
    assert received[1:4] == [f"message {i} " + "x" * (200 * i) for i in range(3)]
    assert received[4] == "echo"


async def test_a_compressed_socket_takes_the_ordinary_path():
    set_websocket_compression(True)
    async with hypercorn_server(direct_app()) as url:
        received = await conversation(url, offer_deflate=True)
    # Raw frames would be unreadable once permessage-deflate is negotiated.
    assert received[0] == "ordinary"
    assert received[1:4] == [f"message {i} " + "x" * (200 * i) for i in range(3)]


async def test_the_quart_test_client_gets_no_fast_path():
    app = direct_app()
    async with app.test_app():
        async with app.test_client().websocket("/ws") as ws:
            assert await ws.receive() == "ordinary"
            assert [await ws.receive() for _ in range(3)][0] == "message 0 "
            await ws.send("bye")
            assert await ws.receive() == "bye"
            await ws.send("end")
