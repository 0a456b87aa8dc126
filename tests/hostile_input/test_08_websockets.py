"""Hostile input: WebSocket floods and malformed frames; that socket is closed, the party carries on."""

from __future__ import annotations

import asyncio
import json

import pytest
from quart.testing.connections import WebsocketDisconnectError

from tests.support.hostile_input import error_of, send, socket_of
from tests.support.party import receive

pytestmark = pytest.mark.asyncio(loop_scope="package")


POLICY_VIOLATION = 1008


def frames(*items) -> list:
    return list(items)


# What the offending guest sends (text frames unless bytes).
HOSTILE_FRAMES = {
    "a binary frame": frames(b"\x00\x01binary"),
    "a binary frame holding valid JSON": frames(b'{"t": "PING", "t0": 1}'),
    "invalid JSON": frames("{not json"),
    "a JSON list": frames('[{"t": "PING"}]'),
    "a JSON string": frames('"PING"'),
    "null": frames("null"),
    "an unknown t": frames('{"t": "DROP_TABLES"}'),
    "no t at all": frames('{"version": 1}'),
    "t of the wrong type": frames('{"t": ["PING"]}'),
    "a frame of 100 000 characters": frames(json.dumps({"t": "PING", "pad": "x" * 100_000})),
    "JSON nested 2000 deep": frames("[" * 2000 + "]" * 2000),
    "a host command with version NaN": frames('{"t": "HOST_PLAY", "version": NaN, "positionSec": 0}'),
    "a host command with version 1e999": frames('{"t": "HOST_PLAY", "version": 1e999, "positionSec": 0}'),
    "a seek to Infinity": frames('{"t": "HOST_SEEK", "version": 1, "positionSec": Infinity}'),
    "a sync report of strings": frames('{"t": "SYNC_REPORT", "offsetMs": "x", "driftMs": "y", "rttMs": "z"}'),
    # (A JSON integer larger than any float: `math.isfinite` on it raised OverflowError.)
    "a ping whose t0 has 310 digits": frames('{"t": "PING", "t0": 1%s}' % ("0" * 309)),
    "a sync report whose rttMs has 310 digits": frames(
        '{"t": "SYNC_REPORT", "offsetMs": 0, "driftMs": 0, "rttMs": 1%s}' % ("0" * 309)),
    "a seek to a position of 310 digits": frames(
        '{"t": "HOST_SEEK", "version": 1, "positionSec": 1%s}' % ("0" * 309)),
    "10 000 pings as fast as possible": frames(*[json.dumps({"t": "PING", "t0": n}) for n in range(10_000)]),
    "10 000 frames of garbage": frames(*["\x00garbage"] * 10_000),
}


async def closed_with(socket, timeout: float = 10.0) -> int | None:
    """Read until the server closes the socket; the close code."""
    async def drain():
        while True:
            await socket.receive()
    try:
        await asyncio.wait_for(drain(), timeout)
    except WebsocketDisconnectError as closed:
        return closed.args[0] if closed.args else None
    return None


@pytest.mark.parametrize("attack", HOSTILE_FRAMES)
async def test_hostile_websocket_client(world, attack):
    party = await (await world.client.post("/api/parties", headers=world.alice, json={})).get_json()
    code = party["code"]
    async with (socket_of(world, code, world.alice) as host, socket_of(world, code, world.bob) as bob,
                socket_of(world, code, world.carol) as carol):
        version = (await receive(host, "SNAPSHOT"))["version"]
        await receive(bob, "SNAPSHOT")
        await receive(carol, "SNAPSHOT")
        for frame in HOSTILE_FRAMES[attack]:
            await bob.send(frame)
        assert await closed_with(bob) == POLICY_VIOLATION
        # The party carries on: the host's next command reaches the other guest.
        await send(host, t="HOST_TRACK_SELECTED", version=version, trackId=world.track["trackId"])
        selected = await receive(carol, "TRACK_SELECTED")
        assert selected["trackId"] == world.track["trackId"] and selected["version"] == version + 1
        await send(carol, t="PING", t0=7)
        assert (await receive(carol, "PONG"))["t0"] == 7
    state = await (await world.client.get(f"/api/parties/{code}", headers=world.alice)).get_json()
    assert state["isHost"] and state["state"]["trackId"] == world.track["trackId"]


async def test_a_flooding_host_is_closed_and_can_come_back(world):
    party = await (await world.client.post("/api/parties", headers=world.alice, json={})).get_json()
    code = party["code"]
    async with socket_of(world, code, world.carol) as carol:
        await receive(carol, "SNAPSHOT")
        async with socket_of(world, code, world.alice) as host:
            version = (await receive(host, "SNAPSHOT"))["version"]
            for _ in range(10_000):
                await send(host, t="HOST_PAUSE", version=version)
            assert await closed_with(host) == POLICY_VIOLATION
        async with socket_of(world, code, world.alice) as host:
            version = (await receive(host, "SNAPSHOT"))["version"]
            await send(host, t="HOST_TRACK_SELECTED", version=version, trackId=world.track["trackId"])
            assert (await receive(carol, "TRACK_SELECTED"))["trackId"] == world.track["trackId"]


# WebSocket URL -> the handshake's refusal (status, code)
HANDSHAKES = {
    "/ws/party/{code}?access_token=not-a-token": (401, "unauthorized"),
    "/ws/party/NOPE99?access_token={token}": (404, "party_not_found"),
    "/ws/party/..%2f..%2f?access_token={token}": (404, "not_found"),
    "/ws/party/{code}%00?access_token={token}": (404, "not_found"),
}


@pytest.mark.parametrize("target", HANDSHAKES)
async def test_websocket_handshake_refused(world, target):
    from quart.testing.connections import WebsocketResponseError

    token = world.bob["Authorization"].split()[1]
    url = target.format(code=world.party["code"], token=token)
    with pytest.raises(WebsocketResponseError) as refused:
        async with world.client.websocket(url) as socket:
            await socket.receive()
    await error_of(refused.value.response, *HANDSHAKES[target])
