"""Hostile input: foreign ids, bob (or carol, outside the thread) goes for alice's things."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from mediahub_cloudinary_temp.models import TempUpload
from mediahub_hls_transcode.models import Track
from mediahub_s3_renders.models import Message, Render, Thread
from tests.support.hostile_input import (World, error_of, fill_body, fill_ids, nothing_stored, send,
                                         socket_of, temp_form)
from tests.support.party import receive

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def alice_intact(world: World) -> None:
    """alice's things are all still there, and still hers."""
    client, alice = world.client, world.alice
    assert await TempUpload.exists(public_id=world.temp["publicId"])
    assert (await world.client.get(world.temp["url"])).status_code == 200
    assert await Render.exists(id=world.render["id"]) and await Render.exists(id=world.loose_render["id"])
    assert (await Render.get(id=world.render["id"])).message_id == uuid.UUID(world.message["id"])
    assert (await Render.get(id=world.loose_render["id"])).message_id is None
    assert await Message.exists(id=world.message["id"]) and await Thread.exists(id=world.thread["id"])
    response = await client.get(world.track["trackUrl"], headers=alice)
    assert response.status_code == 200 and await response.get_data() == world.track_bytes
    party = await (await client.get(f"/api/parties/{world.party['code']}", headers=alice)).get_json()
    assert party["isHost"] and party["name"] == "alice's party"
    assert await Track.exists(id=world.hls["track_id"])
    library = await (await client.get("/api/me/library", headers=alice)).get_json()
    [playlist] = library["playlists"]
    assert playlist["id"] == world.playlist_id and playlist["name"] == "alice's list"
    assert [song["videoId"] for song in playlist["songs"]] == ["abc"]


# (who, method, path template, JSON body or None, status, error code); ids in {} are alice's.
FOREIGN = {
    "bob deletes alice's temp upload": (
        "bob", "DELETE", "/api/temp-upload/temp/{temp}", None, 403, "forbidden"),
    "bob deletes alice's temp session": (
        "bob", "DELETE", "/api/temp-upload/session/hostile-1", None, 403, "forbidden"),
    "bob reads alice's loose render": ("bob", "GET", "/api/v1/renders/{loose}", None, 404, "not_found"),
    "bob streams alice's loose render": (
        "bob", "GET", "/api/v1/renders/{loose}/audio", None, 404, "not_found"),
    "carol reads a render on a thread she is not in": (
        "carol", "GET", "/api/v1/renders/{render}", None, 404, "not_found"),
    "carol streams a render on a thread she is not in": (
        "carol", "GET", "/api/v1/renders/{render}/audio", None, 404, "not_found"),
    "bob attaches alice's render to alice's message": (
        "bob", "POST", "/api/v1/messages/{message}/renders", {"render": {"id": "{loose}"}}, 403, "forbidden"),
    "carol attaches to a message in a thread she is not in": (
        "carol", "POST", "/api/v1/messages/{message}/renders", {"render": {"id": "{loose}"}}, 404, "not_found"),
    "bob deletes alice's message (bob is a member)": (
        "bob", "DELETE", "/api/v1/messages/{message}", None, 403, "forbidden"),
    "carol deletes alice's message": ("carol", "DELETE", "/api/v1/messages/{message}", None, 404, "not_found"),
    "carol reads alice's private thread": ("carol", "GET", "/api/v1/threads/{thread}", None, 404, "not_found"),
    "carol lists its messages": ("carol", "GET", "/api/v1/threads/{thread}/messages", None, 404, "not_found"),
    "carol posts in it": ("carol", "POST", "/api/v1/threads/{thread}/messages", {"text": "hi"}, 404, "not_found"),
    "bob ends alice's party": ("bob", "POST", "/api/parties/{code}/end", None, 403, "not_host"),
    "bob reads alice's hls track": ("bob", "GET", "/api/tracks/{hls}", None, 404, "not_found"),
    "bob deletes alice's hls track": ("bob", "DELETE", "/api/tracks/{hls}", None, 404, "not_found"),
    "bob reads alice's upload status": ("bob", "GET", "/tracks/upload/status/{hls}", None, 404, "not_found"),
    "bob completes alice's upload": (
        "bob", "POST", "/tracks/upload/complete", {"track_id": "{hls}"}, 404, "not_found"),
    "nobody signed in reads alice's party track": ("nobody", "GET", "/api/track/{track}", None, 401, "unauthorized"),
    "nobody signed in deletes alice's message": (
        "nobody", "DELETE", "/api/v1/messages/{message}", None, 401, "unauthorized"),
}


@pytest.mark.parametrize("case", FOREIGN)
async def test_foreign_id(world, case):
    who, method, template, body, status, code = FOREIGN[case]
    headers = {"nobody": {}, "bob": world.bob, "carol": world.carol}[who]
    body = fill_body(world, body)
    async with nothing_stored(world):
        response = await world.client.open(fill_ids(world, template), method=method, json=body,
                                           headers=headers)
        await error_of(response, status, code)
    await alice_intact(world)


async def test_bob_selects_alices_track_in_his_own_party(world):
    # The track id is in alice's party's messages: bob may not play it in his own party.
    response = await world.client.post("/api/parties", headers=world.bob, json={"name": "bob's"})
    bobs = await response.get_json()
    async with socket_of(world, bobs["code"], world.bob) as host:
        snapshot = await receive(host, "SNAPSHOT")
        await send(host, t="HOST_TRACK_SELECTED", version=snapshot["version"],
                   trackId=world.track["trackId"])
        answer = await receive_one_of(host, ("ERROR", "TRACK_SELECTED"))
        assert answer["t"] == "ERROR" and answer["code"] == "no_such_track", answer
    await alice_intact(world)


async def test_bob_commands_alices_party(world):
    code = world.party["code"]
    async with socket_of(world, code, world.alice) as alice, socket_of(world, code, world.bob) as bob:
        version = (await receive(alice, "SNAPSHOT"))["version"]
        await receive(bob, "SNAPSHOT")
        for command in ({"t": "HOST_PLAY", "positionSec": 0}, {"t": "HOST_PAUSE"},
                        {"t": "HOST_SEEK", "positionSec": 99},
                        {"t": "HOST_HANDOFF", "memberId": (await bob_id(world))}):
            await send(bob, version=version, **command)
            assert (await receive(bob, "ERROR"))["code"] == "not_host"
        await send(alice, t="PING", t0=1)
        await receive(alice, "PONG")
    party = await (await world.client.get(f"/api/parties/{code}", headers=world.alice)).get_json()
    assert party["isHost"] and party["state"]["version"] == version and not party["state"]["playing"]


async def bob_id(world: World) -> str:
    return (await (await world.client.get("/api/auth/me", headers=world.bob)).get_json())["id"]


async def test_bob_overwrites_a_playlist_id_of_alices(world):
    # Playlist ids are per user: bob naming alice's server id makes (at most) a list of his own.
    response = await world.client.put("/api/me/playlists", headers=world.bob, json={"playlists": [
        {"id": world.playlist_id, "name": "hijacked", "songs": [{"videoId": "evil"}]}]})
    assert response.status_code == 200, await response.get_data()
    await alice_intact(world)
    bobs = await (await world.client.get("/api/me/library", headers=world.bob)).get_json()
    assert all(song["videoId"] != "abc" for playlist in bobs["playlists"] for song in playlist["songs"])


async def test_bob_uploading_alices_bytes_into_her_session_gets_his_own_upload(world):
    # The temp-upload dedupe found alice's copy by session and sha256: bob got her publicId
    # back (which he may not delete) and restarted her expiry clock.
    before = await TempUpload.get(public_id=world.temp["publicId"])
    response = await world.upload(temp_form, "s.wav", world.temp_bytes, world.bob)
    bobs = await response.get_json()
    assert response.status_code == 200, bobs
    try:
        assert bobs["publicId"] != world.temp["publicId"]
        mine = await TempUpload.get(public_id=bobs["publicId"])
        assert mine.uploader_id != before.uploader_id
        assert (await TempUpload.get(public_id=world.temp["publicId"])).expires_at == before.expires_at
        # bob's second copy of the same bytes is his first one again.
        again = await (await world.upload(temp_form, "s.wav", world.temp_bytes, world.bob)).get_json()
        assert again["publicId"] == bobs["publicId"]
    finally:
        response = await world.client.delete(f"/api/temp-upload/temp/{bobs['publicId']}", headers=world.bob)
        assert response.status_code == 200, await response.get_data()
    await alice_intact(world)


async def test_bob_cannot_see_alices_threads_or_tracks_in_lists(world):
    threads = await (await world.client.get("/api/v1/threads", headers=world.carol)).get_json()
    assert world.thread["id"] not in [thread["id"] for thread in threads["threads"]]
    tracks = await (await world.client.get("/api/tracks", headers=world.bob)).get_json()
    assert world.hls["track_id"] not in [track["track_id"] for track in tracks["tracks"]]
    library = await (await world.client.get("/api/me/library", headers=world.carol)).get_json()
    assert library["playlists"] == []


# -- WebSocket helpers (the party socket) --------------------------------------------------


async def receive_one_of(socket, kinds: tuple[str, ...], timeout: float = 5.0) -> dict:
    async def read():
        while True:
            message = json.loads(await socket.receive())
            if message["t"] in kinds:
                return message
    return await asyncio.wait_for(read(), timeout)
