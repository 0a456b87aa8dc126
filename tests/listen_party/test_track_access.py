"""Issue 13 item 8: `/api/track/<id>` serves an uploaded track only to its uploader and to the
members of a live party playing or queueing it — an account that learns the id gets a 404."""

from __future__ import annotations

import pytest

from mediahub.testing import guest, login
from tests.support.multipart import multipart
from tests.support.party import receive, send, wav_bytes


@pytest.fixture
async def app(mediahub_app_factory):
    return await mediahub_app_factory()


async def upload(client, headers, data: bytes) -> dict:
    body, content_type = multipart([("audio", "x.wav", data), ("filename", None, b"x.wav")])
    response = await client.post("/api/upload-track", data=body, headers={**headers, **content_type})
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def fetch(client, url: str, who: dict) -> tuple[int, bytes, dict]:
    response = await client.get(url, headers=who)
    return response.status_code, await response.get_data(), dict(response.headers)


async def join(client, code: str, name: str) -> dict:
    who = await guest(client, name)
    joined = await client.post(f"/api/parties/{code}/join", json={"display_name": name}, headers=who)
    assert joined.status_code == 200, await joined.get_data()
    return who


async def test_a_track_is_served_to_its_party_and_never_to_a_stranger_with_its_id(app):
    client = app.test_client()
    host = await login(client)
    audio, queued_audio = wav_bytes(0.5), wav_bytes(0.3)
    track = await upload(client, host, audio)
    queued = await upload(client, host, queued_audio)
    party = await (await client.post("/api/parties", json={"name": "x"}, headers=host)).get_json()
    member = await join(client, party["code"], "Member")
    stranger = await guest(client, "Stranger")  # signed in, knows the ids, never joined

    # Before the party names it, only the uploader gets it.
    assert (await fetch(client, track["trackUrl"], host))[:2] == (200, audio)
    status, body, _ = await fetch(client, track["trackUrl"], member)
    assert status == 404 and b"track_not_found" in body

    token = host["Authorization"].split()[1]
    async with client.websocket(f"/ws/party/{party['code']}?access_token={token}") as socket:
        await receive(socket, "SNAPSHOT")
        await send(socket, t="HOST_TRACK_SELECTED", version=1, trackId=track["trackId"])
        await receive(socket, "TRACK_SELECTED")
        await send(socket, t="QUEUE_ADD", trackId=queued["trackId"])
        await receive(socket, "QUEUE_CHANGED")

    # The member plays the current track and the queued one (with Range, as players ask).
    assert (await fetch(client, track["trackUrl"], member))[:2] == (200, audio)
    ranged = await client.get(queued["trackUrl"], headers={**member, "Range": "bytes=0-9"})
    assert ranged.status_code == 206 and await ranged.get_data() == queued_audio[:10]
    # The stranger gets exactly what an unknown id gets: no oracle, no bytes.
    for url in (track["trackUrl"], queued["trackUrl"]):
        status, body, _ = await fetch(client, url, stranger)
        assert status == 404 and audio not in body and b"track_not_found" in body
    unknown = await fetch(client, "/api/track/doesnotexist", stranger)
    assert unknown[0] == 404 and unknown[1] == body
    # Not signed in at all: 401.
    assert (await client.get(track["trackUrl"])).status_code == 401

    # Once the party ends its members lose access; the uploader keeps it.
    assert (await client.post(f"/api/parties/{party['code']}/end", headers=host)).status_code == 200
    for url in (track["trackUrl"], queued["trackUrl"]):
        assert (await fetch(client, url, member))[0] == 404
    assert (await fetch(client, track["trackUrl"], host))[:2] == (200, audio)


async def test_membership_of_another_live_party_is_not_enough(app):
    client = app.test_client()
    host = await login(client)
    track = await upload(client, host, wav_bytes(0.4))
    playing = await (await client.post("/api/parties", json={"name": "a"}, headers=host)).get_json()
    other = await (await client.post("/api/parties", json={"name": "b"}, headers=host)).get_json()
    token = host["Authorization"].split()[1]
    async with client.websocket(f"/ws/party/{playing['code']}?access_token={token}") as socket:
        await receive(socket, "SNAPSHOT")
        await send(socket, t="HOST_TRACK_SELECTED", version=1, trackId=track["trackId"])
        await receive(socket, "TRACK_SELECTED")
    elsewhere = await join(client, other["code"], "Elsewhere")  # a member, of the wrong party
    assert (await fetch(client, track["trackUrl"], elsewhere))[0] == 404
    inside = await join(client, playing["code"], "Inside")
    assert (await fetch(client, track["trackUrl"], inside))[0] == 200
