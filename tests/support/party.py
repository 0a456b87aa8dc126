"""Shared helpers for the listen-party tests: a recording plugin, audio bytes, socket reads."""

from __future__ import annotations

import asyncio
import io
import json
import math
import struct
import wave

from mediahub import hookimpl


class HookRecorder:
    """A test plugin that records the party's `track_changed` and `session_ended` calls."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    @hookimpl
    def track_changed(self, session_id, previous, current):
        self.calls.append(("track_changed", {"session_id": session_id, "previous": previous,
                                             "current": current}))

    @hookimpl
    def session_ended(self, session_id, reason):
        self.calls.append(("session_ended", {"session_id": session_id, "reason": reason}))

    def named(self, name: str) -> list[dict]:
        return [kw for hook, kw in self.calls if hook == name]


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10)))
                                 for i in range(int(seconds * rate))))
    return buffer.getvalue()


async def receive(socket, kind: str | None = None, timeout: float = 5.0) -> dict:
    """The next message (of type `kind`, skipping others) from a test WebSocket."""
    async def read():
        while True:
            message = json.loads(await socket.receive())
            if kind is None or message["t"] == kind:
                return message
    return await asyncio.wait_for(read(), timeout)


async def send(socket, **message) -> None:
    await socket.send(json.dumps(message))
