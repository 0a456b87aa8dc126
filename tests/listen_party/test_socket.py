"""The party WebSocket: snapshots, versioned host commands, clock pings, fan-out, hostile clients."""

from __future__ import annotations

import asyncio
import time

import pytest
from quart.testing.connections import WebsocketDisconnectError

from mediahub.testing import guest, login
from tests.support.multipart import multipart
from tests.support.party import HookRecorder, receive, send, wav_bytes


@pytest.fixture
async def recorder():
    return HookRecorder()


@pytest.fixture
async def app(mediahub_app_factory, recorder):
    overrides = {"plugins": {"listen_party": {"host_grace_seconds": 0.3, "message_burst": 20}}}
    return await mediahub_app_factory(plugins=[("party-recorder", recorder)], overrides=overrides)


@pytest.fixture
async def party(app):
    """A party with a host, a guest (bob) and an uploaded track."""
    client = app.test_client()
    host = await login(client)
    created = await (await client.post("/api/parties", json={}, headers=host)).get_json()
    bob = await guest(client, "Bob")
    body, content_type = multipart([("audio", "a.wav", wav_bytes()), ("filename", None, b"a.wav")])
    track = await (await client.post("/api/upload-track", data=body,
                                     headers={**host, **content_type})).get_json()
    return {"client": client, "code": created["code"], "host": host, "bob": bob,
            "track": track, "session": created["sessionId"]}


def socket(party, who: str):
    token = party[who]["Authorization"].split()[1]
    return party["client"].websocket(f"/ws/party/{party['code']}?access_token={token}")


async def select_and_play(host_socket, party, version: int = 1) -> dict:
    await send(host_socket, t="HOST_TRACK_SELECTED", version=version, trackId=party["track"]["trackId"])
    await receive(host_socket, "TRACK_SELECTED")
    await send(host_socket, t="HOST_PLAY", version=version + 1, positionSec=0)
    return await receive(host_socket, "PLAY")


async def test_join_gets_a_snapshot_and_guests_follow_the_host(party, recorder):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        snapshot = await receive(host, "SNAPSHOT")
        assert snapshot["version"] == 1 and snapshot["you"] == snapshot["hostId"]
        assert (await receive(bob, "SNAPSHOT"))["version"] == 1
        await send(host, t="HOST_TRACK_SELECTED", version=1, trackId=party["track"]["trackId"])
        selected = await receive(bob, "TRACK_SELECTED")
        assert selected["trackUrl"] == party["track"]["trackUrl"] and selected["version"] == 2
        assert selected["filename"] == "a.wav"
        [changed] = recorder.named("track_changed")
        assert changed["session_id"] == party["session"] and changed["previous"] is None
        assert changed["current"]["trackId"] == party["track"]["trackId"]
        before = time.time() * 1000
        await send(host, t="HOST_PLAY", version=2, positionSec=12.5)
        play = await receive(bob, "PLAY")
        # Scheduled a lead ahead on the server clock: everyone starts together.
        assert play["positionSec"] == 12.5 and play["playing"] and play["version"] == 3
        assert play["serverTimestamp"] >= before + 600
        await send(host, t="HOST_SEEK", version=3, positionSec=30)
        assert (await receive(bob, "SEEK"))["positionSec"] == 30
        await send(host, t="HOST_PAUSE", version=4)
        paused = await receive(bob, "PAUSE")
        assert not paused["playing"] and paused["version"] == 5


async def test_a_guest_cannot_command_and_stale_versions_are_refused(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        await send(bob, t="HOST_TRACK_SELECTED", version=1, trackId=party["track"]["trackId"])
        error = await receive(bob, "ERROR")
        assert error["code"] == "not_host" and error["version"] == 1
        await select_and_play(host, party)
        await send(host, t="HOST_PAUSE", version=1)
        stale = await receive(host, "ERROR")
        assert stale["code"] == "stale_version" and stale["version"] == 3
        await send(host, t="HOST_TRACK_SELECTED", version=3, trackId="made-up")
        assert (await receive(host, "ERROR"))["code"] == "no_such_track"


async def test_rejoin_mid_track_gets_the_current_state(party):
    async with socket(party, "host") as host:
        await receive(host, "SNAPSHOT")
        play = await select_and_play(host, party)
        async with socket(party, "bob") as bob:
            snapshot = await receive(bob, "SNAPSHOT")
            assert snapshot["playing"] and snapshot["version"] == play["version"]
            assert snapshot["serverTimestamp"] == play["serverTimestamp"]
            assert snapshot["trackUrl"] == party["track"]["trackUrl"]
            assert snapshot["serverNow"] > 0


async def test_ping_pong_gives_server_times(party):
    async with socket(party, "bob") as bob:
        await receive(bob, "SNAPSHOT")
        before = time.time() * 1000
        await send(bob, t="PING", t0=123.5)
        pong = await receive(bob, "PONG")
        assert pong["t0"] == 123.5 and before <= pong["t1"] <= pong["t2"] <= time.time() * 1000


async def test_host_sees_guest_sync_reports_and_members(party):
    async with socket(party, "host") as host:
        await receive(host, "SNAPSHOT")
        assert any(m["memberId"] for m in (await receive(host, "MEMBERS"))["members"])
        async with socket(party, "bob") as bob:
            await receive(bob, "SNAPSHOT")
            joined = await receive(host, "MEMBER_JOINED")
            assert joined["name"] == "Bob"
            await send(bob, t="SYNC_REPORT", offsetMs=-90001.2, driftMs=4.0, rttMs=3.0)
            report = await receive(host, "MEMBER_SYNC")
            assert report["memberId"] == joined["memberId"] and report["offsetMs"] == -90001.2
            assert report["quality"] == "Good"
        assert (await receive(host, "MEMBER_LEFT"))["name"] == "Bob"


async def test_host_hands_the_role_to_a_guest(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        bob_id = (await receive(bob, "SNAPSHOT"))["you"]
        await send(host, t="HOST_HANDOFF", version=1, memberId=bob_id)
        changed = await receive(bob, "HOST_CHANGED")
        assert changed["hostId"] == bob_id
        await receive(bob, "MEMBERS")  # the new host now hears about members
        # A host plays its own uploads (another host's track id is no key to their file).
        body, content_type = multipart([("audio", "b.wav", wav_bytes())])
        own = await (await party["client"].post("/api/upload-track", data=body,
                                                headers={**party["bob"], **content_type})).get_json()
        await send(bob, t="HOST_TRACK_SELECTED", version=2, trackId=own["trackId"])
        assert (await receive(host, "TRACK_SELECTED"))["version"] == 3
        await send(host, t="HOST_PAUSE", version=3)
        assert (await receive(host, "ERROR"))["code"] == "not_host"
        await send(bob, t="HOST_HANDOFF", version=3, memberId="00000000-0000-0000-0000-000000000000")
        assert (await receive(bob, "ERROR"))["code"] == "no_such_member"


async def test_a_malformed_frame_closes_only_that_socket(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        await bob.send("{not json")
        with pytest.raises(WebsocketDisconnectError):
            await receive(bob)
        await send(host, t="PING", t0=1)
        assert (await receive(host, "PONG"))["t0"] == 1


async def test_a_flood_closes_that_socket(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        for i in range(60):
            await send(bob, t="PING", t0=i)
        with pytest.raises(WebsocketDisconnectError):
            while True:
                await receive(bob)
        await send(host, t="PING", t0=2)
        assert (await receive(host, "PONG"))["t0"] == 2


async def test_a_host_who_drops_pauses_the_party_after_the_grace_period(party):
    async with socket(party, "bob") as bob:
        await receive(bob, "SNAPSHOT")
        async with socket(party, "host") as host:
            await receive(host, "SNAPSHOT")
            await select_and_play(host, party)
        paused = await receive(bob, "PAUSE")
        assert paused["reason"] == "host_away" and not paused["playing"]


async def test_a_host_who_comes_back_in_time_keeps_the_party_playing(party):
    async with socket(party, "bob") as bob:
        await receive(bob, "SNAPSHOT")
        async with socket(party, "host") as host:
            await receive(host, "SNAPSHOT")
            await select_and_play(host, party)
        async with socket(party, "host") as host:
            assert (await receive(host, "SNAPSHOT"))["playing"]
            await asyncio.sleep(0.6)  # past the grace period, with the host back
            await send(host, t="PING", t0=1)
            await receive(host, "PONG")
        async with socket(party, "bob") as again:
            assert (await receive(again, "SNAPSHOT"))["version"] == 3  # no pause happened


async def test_ending_the_party_closes_every_socket(party, recorder):
    async with socket(party, "bob") as bob:
        await receive(bob, "SNAPSHOT")
        await party["client"].post(f"/api/parties/{party['code']}/end", headers=party["host"])
        assert (await receive(bob, "PARTY_ENDED"))["reason"] == "host_ended"
        with pytest.raises(WebsocketDisconnectError):
            await receive(bob)
    assert recorder.named("session_ended")[0]["reason"] == "host_ended"


async def test_strangers_and_unknown_parties_are_refused(party):
    from quart.testing.connections import WebsocketResponseError

    with pytest.raises(WebsocketResponseError) as refused:
        async with party["client"].websocket(f"/ws/party/{party['code']}") as anonymous:
            await anonymous.receive()
    assert refused.value.response.status_code == 401
    token = party["bob"]["Authorization"].split()[1]
    with pytest.raises(WebsocketResponseError) as missing:
        async with party["client"].websocket(f"/ws/party/ZZZZZZ?access_token={token}") as ws:
            await ws.receive()
    assert missing.value.response.status_code == 404


async def test_a_command_to_a_party_that_just_ended_closes_quietly(party):
    async with socket(party, "host") as host:
        await receive(host, "SNAPSHOT")
        async with party["client"].app.app_context():
            from mediahub_listen_party.models import Party

            # Ended by another instance: this one has not heard yet.
            await Party.filter(code=party["code"]).update(ended_at=1.0, ended_reason="host_ended")
        await send(host, t="HOST_PAUSE", version=1)
        seen = []
        with pytest.raises(WebsocketDisconnectError):
            while True:  # (the host's member list may come first)
                seen.append((await receive(host))["t"])
        assert "ERROR" not in seen and "PAUSE" not in seen


async def test_a_member_inbox_keeps_order_and_drops_the_oldest_when_full():
    """What the room cannot write straight to a socket waits in the member's bounded inbox."""
    from mediahub_listen_party.live import INBOX, Member

    member = Member(ws=None, direct=None)
    member.live = True
    for i in range(INBOX + 3):
        member.deliver(f"m{i}", frame=b"unused without a direct socket")
    assert member.dropped == 3
    assert [await member.next() for _ in range(INBOX)] == [f"m{i}" for i in range(3, INBOX + 3)]
    # Busy sending the last one: a new message queues behind it instead of overtaking.
    assert member.busy
    waiting = asyncio.create_task(member.next())
    await asyncio.sleep(0)
    member.deliver("late", frame=None)
    assert await asyncio.wait_for(waiting, 1) == "late"
