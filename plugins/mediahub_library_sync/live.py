"""Live updates: a WebSocket per signed-in device, fed by the user's bus channel (memory or Redis)."""

from __future__ import annotations

import asyncio
import contextlib

from quart import Blueprint, websocket

from mediahub import current_host, current_user, require_user
from mediahub_library_sync.store import channel

blueprint = Blueprint("library_live", __name__)


@blueprint.websocket("/ws/library")
@require_user
async def library_socket() -> None:
    """Sends `{"type": "library_changed", "version", "sections", "device_id"}` after every
    change to the user's library, from any device and any server instance."""
    user = await current_user()
    async with current_host().bus.subscribe(channel(user.id), maxsize=100) as messages:
        # Sent once subscribed: a client that then syncs cannot miss a change in between.
        await websocket.send_json({"type": "ready"})
        forwarder = asyncio.create_task(forward(messages))
        try:
            while True:
                await websocket.receive()  # nothing to do with what clients send (keepalives)
        finally:
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forwarder


async def forward(messages) -> None:
    async for message in messages:
        await websocket.send_json(message)
