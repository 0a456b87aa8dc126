"""Party track sources: the host's own file through cloudinary-temp, library tracks from hls-transcode."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mediahub import MediaObject, hookimpl
from mediahub.testing import guest, login
from mediahub_cloudinary_temp.models import TempSession, TempUpload
from tests.support.hls import make_tone, post_presigned, wait_for_status
from tests.support.multipart import multipart
from tests.support.party import receive, send, wav_bytes


def overrides(kind: str, tmp_path: Path, s3_table: dict | None = None, **extra) -> dict:
    storage = ({"default": "s3", "s3": s3_table} if kind == "s3" else
               {"default": "local", "local": {"type": "local-disk", "root": str(tmp_path / "media")}})
    return {"storage": storage, "jobs": {"retry_backoff": 0, "max_tries": 2}, **extra}


class Party:
    """A party with a host (alice) and a guest (bob), as the tests drive it."""

    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    async def start(self):
        self.host = await login(self.client, "alice")
        created = await self.client.post("/api/parties", json={"name": "sources"}, headers=self.host)
        body = await created.get_json()
        self.code, self.session = body["code"], body["sessionId"]
        self.bob = await guest(self.client, "Bob")
        joined = await self.client.post(f"/api/parties/{self.code}/join",
                                        json={"display_name": "Bob"}, headers=self.bob)
        assert joined.status_code == 200
        return self

    def socket(self, who: dict):
        token = who["Authorization"].split()[1]
        return self.client.websocket(f"/ws/party/{self.code}?access_token={token}")

    async def temp_upload(self, who: dict, data: bytes, title="My song", session=None) -> dict:
        body, headers = multipart([("sessionId", None, (session or self.session).encode()),
                                   ("songTitle", None, title.encode()), ("audio", "x.wav", data)])
        response = await self.client.post("/api/temp-upload/upload-temp", data=body,
                                          headers={**who, **headers})
        answer = await response.get_json()
        assert response.status_code == 200, answer
        return answer

    async def select(self, socket, version: int, source: str, track_id: str) -> dict:
        """Send HOST_TRACK_SELECTED; the answer is TRACK_SELECTED or ERROR."""
        await send(socket, t="HOST_TRACK_SELECTED", version=version, source=source, trackId=track_id)
        while True:
            message = await receive(socket)
            if message["t"] in ("TRACK_SELECTED", "ERROR"):
                return message


async def fetch_range(app, url: str, byte_range: str) -> tuple[int, bytes]:
    """GET a play URL as a browser would: the app's /media/ gateway, or S3 itself."""
    if url.startswith("/"):
        response = await app.test_client().get(url, headers={"Range": byte_range})
        return response.status_code, await response.get_data()

    def get():
        request = urllib.request.Request(url, headers={"Range": byte_range})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, b""

    return await asyncio.to_thread(get)


async def gone(upload_public_id: str, limit: float = 10) -> bool:
    """True once the temporary upload's row is gone (the hook runs after the fan-out)."""
    for _ in range(int(limit / 0.05)):
        if await TempUpload.get_or_none(public_id=upload_public_id) is None:
            return True
        await asyncio.sleep(0.05)
    return False


# -- the host's own file through cloudinary-temp -------------------------------------------


@pytest.fixture(params=["local", "s3"])
async def temp_party(request, mediahub_app_factory, tmp_path):
    s3_table = request.getfixturevalue("s3_settings") if request.param == "s3" else None
    app = await mediahub_app_factory(overrides=overrides(request.param, tmp_path, s3_table))
    return await Party(app).start()


async def test_the_hosts_file_plays_for_guests_and_goes_on_track_change_and_end(temp_party):
    party = temp_party
    first_song, second_song = wav_bytes(1.0), wav_bytes(1.5)
    first = await party.temp_upload(party.host, first_song, "First")
    second = await party.temp_upload(party.host, second_song, "Second")
    async with party.socket(party.host) as host, party.socket(party.bob) as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        selected = await party.select(host, 1, "temp-upload", first["publicId"])
        assert selected["t"] == "TRACK_SELECTED", selected
        heard = await receive(bob, "TRACK_SELECTED")
        assert heard["trackId"] == first["publicId"] and heard["filename"] == "First"
        # The guest plays the upload's own URL (signed, with Range).
        status, data = await fetch_range(party.app, heard["trackUrl"], "bytes=0-99")
        assert status == 206 and data == first_song[:100]

        first_media = (await TempUpload.get(public_id=first["publicId"])).media_id
        assert (await party.select(host, 2, "temp-upload", second["publicId"]))["t"] == "TRACK_SELECTED"
        # track_changed found the previous upload by the track the party passed: gone.
        assert await gone(first["publicId"])
        assert await MediaObject.get_or_none(id=first_media) is None
        assert (await fetch_range(party.app, heard["trackUrl"], "bytes=0-99"))[0] in (403, 404)
        now_playing = await receive(bob, "TRACK_SELECTED")
        assert (await fetch_range(party.app, now_playing["trackUrl"], "bytes=0-9"))[1] == second_song[:10]

    response = await party.client.post(f"/api/parties/{party.code}/end", headers=party.host)
    assert response.status_code == 200
    # session_ended: every temporary upload of the party is gone, from storage too.
    assert await TempUpload.filter(session_id=party.session).count() == 0
    assert (await fetch_range(party.app, now_playing["trackUrl"], "bytes=0-9"))[0] in (403, 404)


async def test_the_party_names_its_host_for_temporary_uploads(mediahub_app_factory, tmp_path):
    party = await Party(await mediahub_app_factory(overrides=overrides("local", tmp_path))).start()
    alice_id = (await (await party.client.get("/api/auth/me", headers=party.host)).get_json())["id"]
    assert str((await TempSession.get(session_id=party.session)).host_id) == alice_id
    # A guest uploading into the session first does not become its host: the party's host
    # may delete the guest's upload; the guest may not delete the host's.
    bobs = await party.temp_upload(party.bob, wav_bytes(0.5), "Bob's")
    hosts = await party.temp_upload(party.host, wav_bytes(0.7), "Alice's")
    refused = await party.client.delete(f"/api/temp-upload/temp/{hosts['publicId']}", headers=party.bob)
    assert refused.status_code == 403
    allowed = await party.client.delete(f"/api/temp-upload/temp/{bobs['publicId']}", headers=party.host)
    assert allowed.status_code == 200

    async with party.socket(party.host) as host, party.socket(party.bob) as bob:
        await receive(host, "SNAPSHOT")
        snapshot = await receive(bob, "SNAPSHOT")
        # Only the host selects, and only an upload of this party's session.
        refused = await party.select(bob, 1, "temp-upload", hosts["publicId"])
        assert refused["t"] == "ERROR" and refused["code"] == "not_host"
        elsewhere = await party.temp_upload(party.host, wav_bytes(0.9), session="another-session")
        refused = await party.select(host, 1, "temp-upload", elsewhere["publicId"])
        assert refused["t"] == "ERROR" and refused["code"] == "no_such_track"
        # Sources are open-ended (any plugin may offer one): a name nobody offers here is
        # unavailable, a malformed one is a bad frame.
        refused = await party.select(host, 1, "somewhere", hosts["publicId"])
        assert refused["t"] == "ERROR" and refused["code"] == "source_unavailable"
        refused = await party.select(host, 1, "Some/Where", hosts["publicId"])
        assert refused["t"] == "ERROR" and refused["code"] == "bad_frame"
        # Handing the role over names the new host for the session's uploads too.
        await send(host, t="HOST_HANDOFF", version=1, memberId=snapshot["you"])
        await receive(bob, "HOST_CHANGED")
    assert str((await TempSession.get(session_id=party.session)).host_id) == snapshot["you"]
    deleted = await party.client.delete(f"/api/temp-upload/session/{party.session}", headers=party.bob)
    assert (await deleted.get_json())["count"] == 1  # alice's upload, deleted by the new host


async def test_without_cloudinary_temp_the_page_uses_the_seed_upload(mediahub_app_factory, tmp_path):
    app = await mediahub_app_factory(overrides=overrides(
        "local", tmp_path, plugins={"disabled": ["cloudinary-temp", "hls-transcode", "music-library"]}))
    party = await Party(app).start()
    page = (await (await party.client.get(f"/party/{party.code}", headers=party.host)).get_data()).decode()
    assert 'data-upload="seed"' in page and 'data-library="no"' in page and "hls.min.js" not in page
    body, headers = multipart([("audio", "a.wav", wav_bytes()), ("filename", None, b"a.wav")])
    track = await (await party.client.post("/api/upload-track", data=body,
                                           headers={**party.host, **headers})).get_json()
    async with party.socket(party.host) as host:
        await receive(host, "SNAPSHOT")
        refused = await party.select(host, 1, "temp-upload", "0" * 32)
        assert refused["code"] == "source_unavailable"
        refused = await party.select(host, 1, "library", "0" * 32)
        assert refused["code"] == "source_unavailable"
        # A command without `source` is the seed's upload-track, as before.
        await send(host, t="HOST_TRACK_SELECTED", version=1, trackId=track["trackId"])
        selected = await receive(host, "TRACK_SELECTED")
        assert selected["trackUrl"] == f"/api/track/{track['trackId']}"
    listing = await party.client.get(f"/api/parties/{party.code}/library", headers=party.host)
    assert await listing.get_json() == {"tracks": []}


async def test_the_host_page_offers_temp_uploads_and_the_library(mediahub_app_factory, tmp_path):
    party = await Party(await mediahub_app_factory(overrides=overrides("local", tmp_path))).start()
    page = (await (await party.client.get(f"/party/{party.code}", headers=party.host)).get_data()).decode()
    assert 'data-upload="temp"' in page and f'data-session="{party.session}"' in page
    assert 'data-library="yes"' in page and 'id="library-list"' in page
    assert "/hls/static/hls.min.js" in page and 'id="upload-progress"' in page


# -- library tracks from hls-transcode -----------------------------------------------------


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> bytes:
    return make_tone(tmp_path_factory.mktemp("party_hls") / "tone.mp3", 4, title="Sine",
                     artist="Osc").read_bytes()


async def ready_track(client, headers, data: bytes) -> str:
    response = await client.post("/tracks/upload/init", headers=headers, json={
        "title": "", "artist_name": "", "file_extension": "mp3", "file_size": len(data)})
    init = await response.get_json()
    assert response.status_code == 200, init
    status, _ = await post_presigned(client, init["audio_upload_url"], init["audio_upload_fields"], data)
    assert status == 204
    done = await client.post("/tracks/upload/complete", headers=headers, json={"track_id": init["track_id"]})
    assert done.status_code == 200, await done.get_json()
    assert (await wait_for_status(client, headers, init["track_id"]))["status"] == "completed"
    return init["track_id"]


async def test_a_library_track_plays_through_a_stable_party_link(mediahub_app_factory, tmp_path, tone):
    party = await Party(await mediahub_app_factory(overrides=overrides("local", tmp_path))).start()
    track_id = await ready_track(party.client, party.host, tone)
    listing = await (await party.client.get(f"/api/parties/{party.code}/library", headers=party.host)).get_json()
    assert listing["tracks"][0]["trackId"] == track_id and listing["tracks"][0]["title"] == "Sine — Osc"
    assert listing["tracks"][0]["durationSec"] == pytest.approx(4, abs=0.3)
    carol = await login(party.client, "carol")
    theirs = await ready_track(party.client, carol, tone)

    async with party.socket(party.host) as host, party.socket(party.bob) as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        refused = await party.select(host, 1, "library", theirs)  # someone else's library
        assert refused["t"] == "ERROR" and refused["code"] == "no_such_track"
        assert (await party.select(host, 1, "library", track_id))["t"] == "TRACK_SELECTED"
        heard = await receive(bob, "TRACK_SELECTED")
    url = heard["trackUrl"]
    assert url == f"/api/parties/{party.code}/sources/library/{track_id}/master.m3u8"
    assert heard["filename"] == "Sine — Osc"

    # A member is sent to a freshly signed master playlist whose variants are signed too.
    response = await party.client.get(url, headers=party.bob)
    assert response.status_code == 302
    master = await party.client.get(response.headers["Location"])
    text = (await master.get_data()).decode()
    assert master.status_code == 200 and text.startswith("#EXTM3U") and "sig=" in text
    variant = next(line for line in text.splitlines() if line and not line.startswith("#"))
    segments = (await (await party.client.get(variant)).get_data()).decode()
    assert "#EXTINF" in segments

    # Not a member, not the party's track, or gone from the library: no playlist.
    assert (await party.client.get(url, headers=carol)).status_code == 403
    other = f"/api/parties/{party.code}/sources/library/{theirs}/master.m3u8"
    assert (await party.client.get(other, headers=party.bob)).status_code == 404
    assert (await party.client.delete(f"/api/tracks/{track_id}", headers=party.host)).status_code == 200
    gone = await party.client.get(url, headers=party.bob)
    assert gone.status_code == 404 and (await gone.get_json())["error"]["code"] == "track_not_found"


# -- a third party's source, through listen-party's hooks only ------------------------------


class RadioSource:
    """A stranger's plugin offering "radio" tracks to parties (it never imports listen-party)."""

    def __init__(self):
        self.hosts, self.fresh = [], 0

    @hookimpl(optionalhook=True)
    def party_track_sources(self, user):
        return [{"source": "radio", "label": "Internet radio", "picker": "list"}]

    @hookimpl(optionalhook=True)
    async def party_track_search(self, source, user, query, limit):
        if source not in (None, "radio"):
            return None
        stations = [{"source": "radio", "trackId": "jazz", "title": "Jazz FM", "durationSec": None},
                    {"source": "radio", "trackId": "news", "title": "News", "durationSec": None}]
        return [s for s in stations if query.lower() in s["title"].lower()][:limit]

    @hookimpl(optionalhook=True)
    async def party_track_resolve(self, source, track_id, session_id, user):
        if source != "radio" or track_id not in ("jazz", "news"):
            return None
        return {"trackId": track_id, "title": track_id.title(), "url": "https://radio.example/x",
                "refresh": "stream.mp3", "durationSec": None, "station": track_id}

    @hookimpl(optionalhook=True)
    def party_track_url(self, source, track_id):
        self.fresh += 1
        return f"https://radio.example/{track_id}.mp3?token={self.fresh}" if source == "radio" else None

    @hookimpl(optionalhook=True)
    def session_host_changed(self, session_id, host_id):
        self.hosts.append((session_id, host_id))


async def test_any_plugin_can_offer_tracks_to_a_party(mediahub_app_factory, tmp_path):
    radio = RadioSource()
    app = await mediahub_app_factory(overrides=overrides("local", tmp_path), plugins=[("radio", radio)])
    party = await Party(app).start()
    alice_id = (await (await party.client.get("/api/auth/me", headers=party.host)).get_json())["id"]
    assert radio.hosts == [(party.session, alice_id)]  # named when the party started
    page = (await (await party.client.get(f"/party/{party.code}", headers=party.host)).get_data()).decode()
    assert 'id="radio-list"' in page and "Internet radio" in page
    found = await (await party.client.get(f"/api/parties/{party.code}/tracks?source=radio&q=jaz",
                                          headers=party.host)).get_json()
    assert found == {"tracks": [{"source": "radio", "trackId": "jazz", "title": "Jazz FM",
                                 "durationSec": None}]}

    async with party.socket(party.host) as host, party.socket(party.bob) as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        assert (await party.select(host, 1, "radio", "rock"))["code"] == "no_such_track"
        assert (await party.select(host, 1, "radio", "jazz"))["t"] == "TRACK_SELECTED"
        heard = await receive(bob, "TRACK_SELECTED")
    # The expiring URL is never handed out: members get the party's stable link, which asks
    # the source for a fresh URL every time.
    assert heard["trackUrl"] == f"/api/parties/{party.code}/sources/radio/jazz/stream.mp3"
    assert heard["filename"] == "Jazz"
    first = await party.client.get(heard["trackUrl"], headers=party.bob)
    second = await party.client.get(heard["trackUrl"], headers=party.bob)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] != second.headers["Location"]
    assert second.headers["Location"].startswith("https://radio.example/jazz.mp3?token=")
    other = f"/api/parties/{party.code}/radio/news/stream.mp3"
    assert (await party.client.get(other, headers=party.bob)).status_code == 404
