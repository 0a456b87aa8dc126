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


class HostRelay:
    """A host's commands sent on one socket and their answers read on a guest's (another
    instance's, in the scale-out tests): each answer must carry a newer state version."""

    def __init__(self, host, guest, version: int):
        self.host, self.guest, self.version = host, guest, version

    @classmethod
    async def after_snapshots(cls, host, guest) -> "HostRelay":
        version = (await host.receive_json("SNAPSHOT"))["version"]
        await guest.receive_json("SNAPSHOT")
        return cls(host, guest, version)

    async def command(self, message: dict, answer: str) -> dict:
        await self.host.send_json({**message, "version": self.version})
        state = await self.guest.receive_json(answer)
        assert state["version"] > self.version
        self.version = state["version"]
        return state


async def party_with_a_track_and_a_guest(host_http, guest_http, dj: dict):
    """A party made by `dj` with a 20 s upload (the track's response), and Bob joined as a
    visitor through `guest_http` (maybe another instance): (party, track, Bob's token)."""
    from tests.support.multipart import multipart

    party = (await host_http.post("/api/parties", json={}, headers=dj)).json()
    body, content_type = multipart([("audio", "song.wav", wav_bytes(seconds=20))])
    track = await host_http.post("/api/upload-track", content=body, headers={**dj, **content_type})
    assert track.status_code == 200, track.text
    joined = await guest_http.post(f"/api/parties/{party['code']}/join", json={"display_name": "Bob"})
    assert joined.status_code in (200, 201), joined.text
    return party, track, joined.json()["access_token"]
