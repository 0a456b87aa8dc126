"""The queue through a party's life at the socket: late join, reconnect, a boundary nobody saw, handoff, the end."""

from __future__ import annotations

import asyncio
import time

import pytest

from mediahub import MediaObject
from mediahub.testing import guest, login
from mediahub_cloudinary_temp.models import TempUpload
from mediahub_listen_party import party as parties
from mediahub_listen_party.models import Party, PartyTrack
from tests.support.multipart import multipart
from tests.support.party import HookRecorder, receive, send, wav_bytes


@pytest.fixture
async def recorder():
    return HookRecorder()


@pytest.fixture
async def app(mediahub_app_factory, recorder, tmp_path):
    overrides = {"storage": {"default": "local",
                             "local": {"type": "local-disk", "root": str(tmp_path / "media")}},
                 "plugins": {"listen_party": {"start_lead_ms": 100, "message_burst": 40}}}
    return await mediahub_app_factory(plugins=[("party-recorder", recorder)], overrides=overrides)


async def upload(client, who: dict, name: str) -> str:
    body, content_type = multipart([("audio", name, wav_bytes(0.5)), ("filename", None, name.encode())])
    response = await client.post("/api/upload-track", data=body, headers={**who, **content_type})
    return (await response.get_json())["trackId"]


async def temp_upload(client, who: dict, session: str, title: str, seconds: float) -> str:
    # Different lengths: the same bytes twice in a session are stored once.
    body, headers = multipart([("sessionId", None, session.encode()), ("songTitle", None, title.encode()),
                               ("audio", "x.wav", wav_bytes(seconds))])
    response = await client.post("/api/temp-upload/upload-temp", data=body, headers={**who, **headers})
    answer = await response.get_json()
    assert response.status_code == 200, answer
    return answer["publicId"]


@pytest.fixture
async def party(app):
    """alice hosts with three uploaded tracks; bob and carol are guests."""
    client = app.test_client()
    host = await login(client)
    created = await (await client.post("/api/parties", json={}, headers=host)).get_json()
    return {"client": client, "code": created["code"], "session": created["sessionId"], "host": host,
            "bob": await guest(client, "Bob"), "carol": await guest(client, "Carol"),
            "tracks": [await upload(client, host, f"h{n}.wav") for n in range(3)]}


def socket(party, who: str):
    token = party[who]["Authorization"].split()[1]
    return party["client"].websocket(f"/ws/party/{party['code']}?access_token={token}")


async def until(ws, kind: str, check=lambda message: True, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = await receive(ws, kind, timeout=max(0.01, deadline - time.monotonic()))
        if check(message):
            return message


def track_ids(state: dict) -> list[str]:
    return [entry["trackId"] for entry in state["queue"]]


async def queue_all(host, tracks: list[str], first_length: float | None = None) -> dict:
    """Queue `tracks` (the first becomes the track); optionally report its length; the last state."""
    for track in tracks:
        await send(host, t="QUEUE_ADD", trackId=track)
    state = await until(host, "QUEUE_CHANGED", lambda m: len(m["queue"]) == len(tracks) - 1) \
        if len(tracks) > 1 else await until(host, "TRACK_SELECTED")
    if first_length is not None:
        await send(host, t="TRACK_DURATION", entryId=state["entryId"], durationSec=first_length)
        state = await until(host, "QUEUE_CHANGED", lambda m: m["durationSec"] == first_length)
    return state


def position(state: dict, server_ms: float) -> float:
    if not state["playing"]:
        return state["positionSec"]
    return max(state["positionSec"], state["positionSec"] + (server_ms - state["serverTimestamp"]) / 1000)


async def test_a_guest_joining_mid_queue_gets_the_current_track_its_position_and_the_queue(party):
    first, second, third = party["tracks"]
    async with socket(party, "host") as host:
        await receive(host, "SNAPSHOT")
        queued = await queue_all(host, [first, second, third], first_length=0.4)
        await send(host, t="HOST_PLAY", version=queued["version"])
        play = await until(host, "PLAY")
        advanced = await until(host, "TRACK_ADVANCED", timeout=5)  # the first ended: the second plays
        await asyncio.sleep(0.3)
        async with socket(party, "bob") as bob:
            snapshot = await receive(bob, "SNAPSHOT")
            assert snapshot["version"] == advanced["version"] and snapshot["trackId"] == second
            assert snapshot["playing"] and snapshot["serverTimestamp"] == play["endsAt"]
            assert snapshot["entryId"] == advanced["entryId"] and snapshot["addedByName"] == "alice"
            # Where the party is now: about 0.3 s into the second track, by the server's clock.
            assert 0.25 <= position(snapshot, snapshot["serverNow"]) < 10.0
            assert track_ids(snapshot) == [third] and snapshot["queue"][0]["addedByName"] == "alice"
            assert snapshot["listeners"] == 2 and snapshot["finished"] is False


async def test_a_boundary_passed_while_nobody_was_connected_is_taken_by_the_next_joiner(party, recorder):
    first, second, third = party["tracks"]
    async with socket(party, "host") as host:
        await receive(host, "SNAPSHOT")
        queued = await queue_all(host, [first, second, third], first_length=0.3)
        await send(host, t="HOST_PLAY", version=queued["version"])
        play = await until(host, "PLAY")
    # Everyone left before the boundary: no room, no timer. The joiner's snapshot settles it.
    await asyncio.sleep(0.8)  # the boundary is ~0.4 s after PLAY (lead 0.1 s + 0.3 s of track)
    assert '"trackId": "%s"' % first in (await Party.get(code=party["code"])).state
    async with socket(party, "bob") as bob:
        snapshot = await receive(bob, "SNAPSHOT")
        assert snapshot["trackId"] == second and snapshot["serverTimestamp"] == play["endsAt"]
        assert snapshot["version"] == play["version"] + 1 and track_ids(snapshot) == [third]
        assert position(snapshot, snapshot["serverNow"]) > 0.1  # into the second track
    changed = recorder.named("track_changed")[-1]
    assert changed["previous"]["trackId"] == first and changed["current"]["trackId"] == second


async def test_a_reconnecting_guest_gets_the_queue_as_it_is_now(party):
    first, second, third = party["tracks"]
    async with socket(party, "host") as host:
        await receive(host, "SNAPSHOT")
        queued = await queue_all(host, [first, second, third])
        await send(host, t="HOST_PLAY", version=queued["version"], positionSec=2)
        play = await until(host, "PLAY")
        async with socket(party, "bob") as bob:
            before = await receive(bob, "SNAPSHOT")
            assert track_ids(before) == [second, third]
        # Bob's connection drops; meanwhile the host reorders and removes.
        assert "queue" not in play  # PLAY left the queue as it was: its ids only
        await send(host, t="QUEUE_MOVE", version=play["version"], entryId=play["queueIds"][1],
                   toIndex=0)
        moved = await until(host, "QUEUE_CHANGED")
        await send(host, t="QUEUE_REMOVE", version=moved["version"], entryId=moved["queue"][1]["entryId"])
        removed = await until(host, "QUEUE_CHANGED", lambda m: m["version"] == moved["version"] + 1)
        async with socket(party, "bob") as bob:
            again = await receive(bob, "SNAPSHOT")
            assert again["version"] == removed["version"] and track_ids(again) == [third]
            assert again["you"] == before["you"] and again["trackId"] == first and again["playing"]
            # The same anchor: the reloaded page joins the running track where the party is.
            assert again["serverTimestamp"] == play["serverTimestamp"] and again["positionSec"] == 2
            assert position(again, again["serverNow"]) >= 2
            # Its queue moves on live as before.
            await send(host, t="QUEUE_REMOVE", version=again["version"], entryId=again["queue"][0]["entryId"])
            assert (await until(bob, "QUEUE_CHANGED"))["queue"] == []


async def test_the_host_hands_off_the_queue_and_the_new_host_runs_it(party):
    first, second, third = party["tracks"]
    bob_track = await upload(party["client"], party["bob"], "bob.wav")
    async with socket(party, "host") as host, socket(party, "bob") as bob, socket(party, "carol") as carol:
        alice_id = (await receive(host, "SNAPSHOT"))["you"]
        bob_id = (await receive(bob, "SNAPSHOT"))["you"]
        carol_id = (await receive(carol, "SNAPSHOT"))["you"]
        queued = await queue_all(host, [first, second, third])
        await send(bob, t="QUEUE_ADD", trackId=bob_track)
        queued = await until(host, "QUEUE_CHANGED", lambda m: len(m["queue"]) == 3)
        await send(host, t="HOST_PLAY", version=queued["version"])
        play = await until(host, "PLAY")
        await send(host, t="HOST_HANDOFF", version=play["version"], memberId=bob_id)
        handed = await until(carol, "HOST_CHANGED")
        # The queue goes along untouched, with who added each entry; playback does not stop.
        assert handed["hostId"] == bob_id and "queue" not in handed
        assert handed["queueIds"] == play["queueIds"] == [e["entryId"] for e in queued["queue"]]
        assert [e["addedBy"] for e in queued["queue"]] == [alice_id, alice_id, bob_id]
        async with socket(party, "carol") as reloaded:  # a page that (re)joins gets it all
            assert (await receive(reloaded, "SNAPSHOT"))["queue"] == queued["queue"]
        assert handed["playing"] and handed["serverTimestamp"] == play["serverTimestamp"]
        assert (await until(bob, "MEMBERS"))["members"]  # the new host's feed starts
        # The new host reorders, promotes and skips; the old host is a guest now.
        await send(bob, t="QUEUE_MOVE", version=handed["version"], entryId=handed["queueIds"][2],
                   toIndex=0)
        moved = await until(carol, "QUEUE_CHANGED")
        assert track_ids(moved) == [bob_track, second, third]
        await send(host, t="QUEUE_MOVE", version=moved["version"], entryId=moved["queue"][2]["entryId"],
                   toIndex=0)
        assert (await until(host, "ERROR"))["code"] == "not_host"
        await send(host, t="SET_ROLE", version=moved["version"], memberId=carol_id, role="cohost")
        assert (await until(host, "ERROR"))["code"] == "not_host"
        await send(bob, t="SET_ROLE", version=moved["version"], memberId=alice_id, role="cohost")
        roles = await until(carol, "ROLES_CHANGED")
        assert roles["cohosts"] == [alice_id] and roles["hostId"] == bob_id
        await send(bob, t="SKIP", version=roles["version"])
        skipped = await until(carol, "TRACK_ADVANCED")
        assert skipped["trackId"] == bob_track and track_ids(skipped) == [second, third]
    # Only the new host (or the party's creator) may end it now.
    ended = await party["client"].post(f"/api/parties/{party['code']}/end", headers=party["carol"])
    assert ended.status_code == 403
    ended = await party["client"].post(f"/api/parties/{party['code']}/end", headers=party["bob"])
    assert ended.status_code == 200


async def test_ending_a_party_removes_its_queue_and_every_temporary_upload_in_it(app, party, recorder):
    client, session = party["client"], party["session"]
    playing = await temp_upload(client, party["host"], session, "Now", 0.5)
    queued_by_host = await temp_upload(client, party["host"], session, "Next", 0.6)
    queued_by_bob = await temp_upload(client, party["bob"], session, "Bob's", 0.7)
    media = [upload.media_id for upload in await TempUpload.filter(session_id=session)]
    assert len(media) == 3
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        for who, public_id in ((host, playing), (host, queued_by_host), (bob, queued_by_bob)):
            await send(who, t="QUEUE_ADD", source="temp-upload", trackId=public_id)
        await send(host, t="QUEUE_ADD", trackId=party["tracks"][0])  # and one upload-track
        state = await until(bob, "QUEUE_CHANGED", lambda m: len(m["queue"]) == 3)
        # (Bob's addition and the host's last one race: either order.)
        assert state["trackId"] == playing and sorted(track_ids(state)) == sorted(
            [queued_by_host, queued_by_bob, party["tracks"][0]])
        response = await client.post(f"/api/parties/{party['code']}/end", headers=party["host"])
        assert response.status_code == 200
        assert (await receive(bob, "PARTY_ENDED"))["reason"] == "host_ended"
    # The queue is gone from the stored state, and the party's page no longer finds it.
    stored = parties.state_of(await Party.get(code=party["code"]))
    assert stored.queue == () and not stored.playing
    assert (await client.get(f"/api/parties/{party['code']}", headers=party["host"])).status_code == 404
    # Every temporary upload of the party, played or only queued, whoever uploaded it: gone.
    assert [kw["session_id"] for kw in recorder.named("session_ended")] == [session]
    assert await TempUpload.filter(session_id=session).count() == 0
    assert await MediaObject.filter(id__in=media).count() == 0
    # The queued upload-track outlives the party only until its ttl: no live party keeps it.
    async with app.app_context():
        swept = await parties.sweep(time.time() + parties.settings().track_ttl + 1)
    assert swept["tracks_deleted"] >= 1
    assert not await PartyTrack.exists(id=party["tracks"][0])
