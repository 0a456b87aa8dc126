"""The party REST API and the seed's upload-track / track endpoints, against a real app."""

from __future__ import annotations

import time

import pytest

from mediahub.models import MediaObject
from mediahub.scheduler import run_sweep
from mediahub_listen_party.models import PartyTrack
from mediahub.testing import guest, login
from tests.support.multipart import multipart
from tests.support.party import HookRecorder, receive, send, wav_bytes


@pytest.fixture
async def recorder():
    return HookRecorder()


@pytest.fixture
async def app(mediahub_app_factory, recorder):
    return await mediahub_app_factory(plugins=[("party-recorder", recorder)])


async def create(client, headers, name="Friday") -> dict:
    response = await client.post("/api/parties", json={"name": name}, headers=headers)
    assert response.status_code == 201, await response.get_data()
    return await response.get_json()


async def upload(client, headers, data: bytes | None = None, filename="song.wav"):
    body, content_type = multipart([("audio", "x.wav", data or wav_bytes()),
                                    ("filename", None, filename.encode())])
    return await client.post("/api/upload-track", data=body, headers={**headers, **content_type})


async def test_create_gives_a_short_code_and_link_and_the_creator_hosts(app):
    client = app.test_client()
    host = await login(client)
    party = await create(client, host)
    assert len(party["code"]) == 6 and party["code"].isalnum()
    assert party["url"] == f"/party/{party['code']}" and party["isHost"]
    assert party["state"]["version"] == 1 and not party["state"]["playing"]
    other = await guest(client, "Bob")
    seen = await (await client.get(f"/api/parties/{party['code'].lower()}", headers=other)).get_json()
    assert seen["code"] == party["code"] and not seen["isHost"]
    page = await client.get(party["url"])
    assert page.status_code == 200


async def test_a_guest_without_an_account_joins_with_a_display_name(app):
    client = app.test_client()
    party = await create(client, await login(client))
    anonymous = app.test_client()
    response = await anonymous.post(f"/api/parties/{party['code']}/join", json={"display_name": "Zoë"})
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["access_token"] and not body["isHost"]
    assert "mediahub_session" in response.headers.get("Set-Cookie", "")
    assert body["memberCount"] == 2 and "members" not in body  # host + Zoë; the list is a GET away
    listed = await anonymous.get(f"/api/parties/{party['code']}",
                                 headers={"Authorization": f"Bearer {body['access_token']}"})
    assert "Zoë" in [m["name"] for m in (await listed.get_json())["members"]]
    me = await anonymous.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert (await me.get_json())["is_guest"] is True


async def test_joining_an_unknown_party_is_a_404_in_the_error_shape(app):
    client = app.test_client()
    response = await client.post("/api/parties/NOPE42/join", json={"display_name": "x"})
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "party_not_found"
    assert (await client.get("/party/NOPE42")).status_code == 404


async def test_only_the_host_ends_the_party_and_ending_fires_session_ended(app, recorder):
    client = app.test_client()
    host = await login(client)
    party = await create(client, host)
    bob = await guest(client, "Bob")
    await client.post(f"/api/parties/{party['code']}/join", json={"display_name": "Bob"}, headers=bob)
    refused = await client.post(f"/api/parties/{party['code']}/end", headers=bob)
    assert refused.status_code == 403 and recorder.named("session_ended") == []
    ended = await client.post(f"/api/parties/{party['code']}/end", headers=host)
    assert ended.status_code == 200
    assert recorder.named("session_ended") == [{"session_id": party["sessionId"], "reason": "host_ended"}]
    assert (await client.get(f"/api/parties/{party['code']}", headers=host)).status_code == 404
    again = await client.post(f"/api/parties/{party['code']}/end", headers=host)
    assert again.status_code == 404 and len(recorder.named("session_ended")) == 1


async def test_upload_track_answers_the_seed_shape_and_streams_with_range(app):
    client = app.test_client()
    host = await login(client)
    audio = wav_bytes(0.5)
    response = await upload(client, host, audio, filename="../../etc/My Song.wav")
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["ok"] is True and body["filename"] == "My Song.wav"
    assert body["trackUrl"] == f"/api/track/{body['trackId']}"
    whole = await client.get(body["trackUrl"], headers=host)
    assert whole.status_code == 200 and await whole.get_data() == audio
    part = await client.get(body["trackUrl"], headers={**host, "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.headers["Content-Range"] == f"bytes 0-99/{len(audio)}"
    assert await part.get_data() == audio[:100]
    tail = await client.get(body["trackUrl"], headers={**host, "Range": "bytes=-10"})
    assert await tail.get_data() == audio[-10:]
    missing = await client.get("/api/track/doesnotexist", headers=host)
    assert missing.status_code == 404


async def test_upload_track_refuses_what_is_not_audio_and_strangers(app):
    client = app.test_client()
    host = await login(client)
    body, content_type = multipart([("audio", "evil.mp3", b"<?php echo 1; ?>" * 10)])
    refused = await client.post("/api/upload-track", data=body, headers={**host, **content_type})
    assert refused.status_code == 415
    anonymous = await client.post("/api/upload-track", data=body, headers=content_type)
    assert anonymous.status_code in (401, 403)  # unsigned-in (and without a CSRF token)


async def test_the_sweep_ends_idle_parties_and_deletes_expired_tracks(app, recorder):
    client = app.test_client()
    host = await login(client)
    party = await create(client, host)
    track = await (await upload(client, host)).get_json()
    async with app.app_context():
        counts = await run_sweep(app.extensions["mediahub"], time.time() + 3 * 3600)
    assert recorder.named("session_ended") == [{"session_id": party["sessionId"], "reason": "idle"}]
    assert counts["parties_ended"] == 1 and counts["tracks_deleted"] == 1
    async with app.app_context():  # (the sweep also expired the test's access token)
        assert await PartyTrack.get_or_none(id=track["trackId"]) is None
        assert await MediaObject.filter(purpose="party-track").count() == 0


async def test_party_pages_render_at_phone_size_without_a_cdn(app):
    client = app.test_client()
    home = await client.get("/party")
    html = (await home.get_data()).decode()
    assert home.status_code == 200 and "join" in html.lower()
    assert "https://" not in html and "http://" not in html.replace("http://www.w3.org", "")


async def test_the_nav_links_to_parties_and_the_code_form_redirects(app):
    client = app.test_client()
    html = (await (await client.get("/")).get_data()).decode()
    assert 'href="/party"' in html
    redirect = await client.get("/party?code=ab12cd")
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith("/party/AB12CD")


async def test_a_visitor_sees_a_join_form_and_a_member_the_player(app):
    client = app.test_client()
    party = await create(client, await login(client))
    visitor = app.test_client()
    html = (await (await visitor.get(party["url"])).get_data()).decode()
    assert 'id="join-form"' in html and 'id="party-audio"' not in html
    await visitor.post(f"/api/parties/{party['code']}/join", json={"display_name": "Ann"})
    html = (await (await visitor.get(party["url"])).get_data()).decode()
    assert 'id="party-audio"' in html and "Tap to sync" in html


async def test_the_config_section_sets_the_start_lead(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"plugins": {"listen_party": {"start_lead_ms": 250}}})
    client = app.test_client()
    host = await login(client)
    party = await create(client, host)
    track = await (await upload(client, host)).get_json()
    token = host["Authorization"].split()[1]
    async with client.websocket(f"/ws/party/{party['code']}?access_token={token}") as socket:
        await receive(socket, "SNAPSHOT")
        await send(socket, t="HOST_TRACK_SELECTED", version=1, trackId=track["trackId"])
        await receive(socket, "TRACK_SELECTED")
        before = time.time() * 1000
        await send(socket, t="HOST_PLAY", version=2)
        play = await receive(socket, "PLAY")
    assert before + 250 <= play["serverTimestamp"] <= time.time() * 1000 + 250


async def test_an_invalid_config_section_is_refused(tmp_path):
    from mediahub.testing import make_settings, running_app

    settings = make_settings(tmp_path / "d", {"plugins": {"listen_party": {"start_lead_ms": -5}}})
    async with running_app(settings) as app:
        # The plugin is disabled with a reason naming the key; the server still starts.
        record = app.extensions["mediahub"].plugins.records["listen-party"]
        assert record.status != "enabled" and "start_lead_ms" in record.reason
        assert (await app.test_client().get("/party")).status_code == 404
