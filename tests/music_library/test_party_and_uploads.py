"""Collection tracks in a party (listen-party's source hooks, source `collection`) and uploads
joining their uploader's collection (hls-transcode calls `collection_ingest`)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest

from mediahub.testing import guest
from tests.support.hls import make_tone, post_presigned, wait_for_status
from tests.support.music_library import get

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def receive(socket, kind: str, timeout: float = 10.0) -> dict:
    async def read():
        while True:
            message = json.loads(await socket.receive())
            if message["t"] in (kind, "ERROR"):
                return message
    return await asyncio.wait_for(read(), timeout)


def socket(client, code: str, who: dict):
    token = who["Authorization"].split()[1]
    return client.websocket(f"/ws/party/{code}?access_token={token}")


async def test_a_host_plays_a_collection_track_and_a_guest_gets_a_playable_url(music, collection):
    client = music.client
    created = await (await client.post("/api/parties", json={"name": "records"},
                                       headers=music.alice)).get_json()
    code = created["code"]
    visitor = await guest(client, "Visitor")
    joined = await client.post(f"/api/parties/{code}/join", json={"display_name": "Visitor"},
                               headers=visitor)
    assert joined.status_code == 200

    # The host's picker: collection tracks, searchable with the same folding.
    picked = await get(client, f"/api/parties/{code}/tracks?source=collection&q=hoppi", music.alice)
    assert [t["title"] for t in picked["tracks"]] == ["Sigur Rós, Jónsi — Hoppípolla"]
    track_id = picked["tracks"][0]["trackId"]
    newest = await get(client, f"/api/parties/{code}/tracks?source=collection", music.alice)
    assert len(newest["tracks"]) == 6  # alice's folders, not bob's kids folder
    assert (await get(client, f"/api/parties/{code}/tracks?source=collection", visitor))["tracks"] == []
    shark = (await get(client, "/api/music/search?q=baby", music.bob))["tracks"][0]

    async with socket(client, code, music.alice) as host, socket(client, code, visitor) as member:
        await receive(host, "SNAPSHOT")
        await receive(member, "SNAPSHOT")
        await host.send(json.dumps({"t": "HOST_TRACK_SELECTED", "version": 1,
                                    "source": "collection", "trackId": shark["id"]}))
        refused = await receive(host, "TRACK_SELECTED")
        assert refused["t"] == "ERROR" and refused["code"] == "no_such_track"  # not alice's to play
        await host.send(json.dumps({"t": "HOST_TRACK_SELECTED", "version": 1,
                                    "source": "collection", "trackId": track_id}))
        heard = await receive(member, "TRACK_SELECTED")
    assert heard["t"] == "TRACK_SELECTED", heard
    assert heard["trackUrl"] == f"/api/parties/{code}/sources/collection/{track_id}/stream"
    assert heard["filename"] == "Sigur Rós, Jónsi — Hoppípolla"

    # The guest's browser follows the party link to a signed stream it may play, Range and all.
    redirected = await client.get(heard["trackUrl"], headers=visitor)
    assert redirected.status_code == 302
    signed = redirected.headers["Location"]
    assert signed.startswith(f"/api/music/tracks/{track_id}/stream?exp=")
    original = (collection["main"] / "Sigur Rós/Takk/02 Hoppípolla.ogg").read_bytes()
    audio = await client.get(signed, headers={"Range": "bytes=0-99"})  # no credentials at all
    assert audio.status_code == 206 and await audio.get_data() == original[:100]
    tampered = signed[:-4] + ("0000" if not signed.endswith("0000") else "1111")
    assert (await client.get(tampered)).status_code == 403
    other_track = signed.replace(track_id, shark["id"])
    assert (await client.get(other_track)).status_code == 403  # a signature is for one track
    assert (await client.get(f"/api/music/tracks/{track_id}/stream")).status_code == 401


async def upload(client, headers, path) -> str:
    data = path.read_bytes()
    init = await (await client.post("/tracks/upload/init", headers=headers, json={
        "title": "", "artist_name": "", "file_extension": "mp3", "file_size": len(data)})).get_json()
    status, _ = await post_presigned(client, init["audio_upload_url"], init["audio_upload_fields"], data)
    assert status == 204
    done = await client.post("/tracks/upload/complete", headers=headers, json={"track_id": init["track_id"]})
    assert done.status_code == 200, await done.get_json()
    assert (await wait_for_status(client, headers, init["track_id"]))["status"] == "completed"
    return init["track_id"]


async def test_an_upload_joins_its_uploaders_collection_and_sharing_shows_it_to_all(music, tmp_path):
    app, client, alice, bob = music.app, music.client, music.alice, music.bob
    tone = make_tone(tmp_path / "tone.mp3", 2, title="Upload Song", artist="Uploader Band")
    hls_id = await upload(client, alice, tone)
    seen = music.ingested.seen
    assert seen and seen[-1]["source"] == "hls-transcode" and seen[-1]["source_id"] == hls_id
    assert seen[-1]["user"] == "alice"

    mine = (await get(client, "/api/music/search?q=upload%20song", alice))["tracks"]
    assert [t["title"] for t in mine] == ["Upload Song"]
    track = mine[0]
    assert track["uploaded"] is True and track["mine"] is True and track["shared"] is False
    assert track["artist"] == "Uploader Band" and track["folderId"] is None
    assert (await get(client, "/api/music/search?q=upload", bob))["tracks"] == []
    await get(client, f"/api/music/tracks/{track['id']}", bob, status=404)

    # The original streams from the uploader's storage, with Range; transcodes read it too.
    original = tone.read_bytes()
    part = await client.get(track["streamUrl"], headers={**alice, "Range": "bytes=0-99"})
    assert part.status_code == 206 and await part.get_data() == original[:100]
    opus = await client.get(f"{track['streamUrl']}?format=opus", headers=alice)
    assert (await opus.get_data()).startswith(b"OggS")

    refused = await client.put(f"/api/music/tracks/{track['id']}/shared", json={"shared": True},
                               headers=bob)
    assert refused.status_code == 404  # bob cannot even see it yet
    bad = await client.put(f"/api/music/tracks/{track['id']}/shared", json={"shared": "yes"},
                           headers=alice)
    assert bad.status_code == 400
    shared = await client.put(f"/api/music/tracks/{track['id']}/shared", json={"shared": True},
                              headers=alice)
    assert shared.status_code == 200 and (await shared.get_json())["track"]["shared"] is True
    seen_by_bob = (await get(client, "/api/music/search?q=upload", bob))["tracks"]
    assert [t["id"] for t in seen_by_bob] == [track["id"]] and seen_by_bob[0]["mine"] is False
    not_his = await client.put(f"/api/music/tracks/{track['id']}/shared", json={"shared": False},
                               headers=bob)
    assert not_his.status_code == 403

    # Deleted by its uploader in hls-transcode: gone from the collection at the next sweep.
    assert (await client.delete(f"/api/tracks/{hls_id}", headers=alice)).status_code == 200
    async with app.app_context():
        from mediahub import call_hook

        swept = await call_hook("cleanup", now=datetime.now(timezone.utc))
    assert {"music_uploads_gone": 1} in swept
    assert (await get(client, "/api/music/search?q=upload", alice))["tracks"] == []
