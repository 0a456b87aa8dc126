"""A plugin with one WebSocket route that echoes, for handshake tests against a real server."""

from quart import Blueprint, websocket

from mediahub import hookimpl

bp = Blueprint("ws_echo", __name__)


@bp.websocket("/ws/echo")
async def echo():
    await websocket.accept()
    while True:
        await websocket.send(await websocket.receive())


@hookimpl
def register_routes(app):
    return [bp]
