"""hls-transcode on local-disk: the seed's upload flow, the worker's HLS output, bad input."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from mediahub.models import Job, MediaObject
from mediahub_hls_transcode.models import Track
from mediahub_hls_transcode.playlist import parse_master_playlist, parse_media_playlist
from tests.support.hls import Env, make_tone, post_presigned, wait_for_status

TONE_SECONDS = 14


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hls_tones")
    return {
        "tagged": make_tone(folder / "tagged.mp3", TONE_SECONDS, title="Sine Song", artist="Osc").read_bytes(),
        "plain": make_tone(folder / "plain.mp3", 3).read_bytes(),
    }


@pytest.fixture
async def env(mediahub_app_factory, tmp_path):
    app = await mediahub_app_factory(overrides={
        "server": {"max_upload_bytes": 2 * 1024 * 1024},
        "storage": {"default": "local", "local": {"type": "local-disk", "root": str(tmp_path / "media")}},
        "jobs": {"retry_backoff": 0, "max_tries": 2},
    })
    return await Env(app).sign_in()


async def fetch_text(env: Env, url: str) -> str:
    response = await env.client.get(url)
    assert response.status_code == 200, await response.get_data()
    return (await response.get_data()).decode()


async def test_upload_transcode_play_and_delete(env, tones):
    data = tones["tagged"]
    init = await env.init(env.alice, len(data))
    assert init["audio_upload_url"] == "/media/upload/local"
    assert "artwork_upload_url" not in init or init["artwork_upload_url"] is None
    status, _ = await env.upload(init, data)
    assert status == 204
    track_id = init["track_id"]

    code, body = await env.complete(env.alice, track_id)
    assert code == 200, body
    assert body["status"] == "processing"
    # The seed's app polls until it reads "completed" (its TrackProcessingStatus), not "ready".
    final = await wait_for_status(env.client, env.alice, track_id)
    assert final == {"track_id": track_id, "status": "completed", "state": "ready",
                     "progress": 100.0, "error": None}

    response = await env.client.get(f"/api/tracks/{track_id}", headers=env.alice)
    detail = await response.get_json()
    # Blank title and artist were filled from the file's own tags.
    assert (detail["title"], detail["artist_name"]) == ("Sine Song", "Osc")
    assert abs(detail["duration_seconds"] - TONE_SECONDS) < 0.1
    assert -40 < detail["loudness_lufs"] < 0
    assert detail["gain_db"] == pytest.approx(-18 - detail["loudness_lufs"], abs=0.01)
    assert detail["renditions"] == [96, 192]

    master = await fetch_text(env, detail["hls_master_url"])
    variants = parse_master_playlist(master)
    assert [int(a["BANDWIDTH"]) for a, _ in variants] == [105600, 211200]
    assert all(a["CODECS"] == "mp4a.40.2" for a, _ in variants)
    for _, uri in variants:
        media = parse_media_playlist(await fetch_text(env, uri))
        assert media.playlist_type == "VOD" and media.ended
        assert media.target_duration == 6
        assert all(length <= media.target_duration + 0.5 for _, length in media.segments)
        assert len(media.segments) == 3
        assert abs(media.duration - TONE_SECONDS) < 0.1
        # Every segment link is a signed storage URL that serves the bytes.
        for url in [media.init] + [name for name, _ in media.segments]:
            assert url.startswith("/media/local/tracks/") and "sig=" in url
            segment = await env.client.get(url)
            assert segment.status_code == 200
            assert len(await segment.get_data()) > 100

    listing = await (await env.client.get("/api/tracks", headers=env.alice)).get_json()
    assert [t["track_id"] for t in listing["tracks"]] == [track_id]
    assert (await (await env.client.get("/api/tracks", headers=env.bob)).get_json())["tracks"] == []

    assert any(key.endswith("a192k/index.m3u8") for key in await env.keys())
    response = await env.client.delete(f"/api/tracks/{track_id}", headers=env.alice)
    assert response.status_code == 200
    assert await env.keys() == []
    assert await MediaObject.all().count() == 0
    assert (await env.client.get(f"/api/tracks/{track_id}", headers=env.alice)).status_code == 404
    # The old playlist link stops working with the track.
    assert (await env.client.get(detail["hls_master_url"])).status_code == 404


async def test_artwork_is_uploaded_checked_and_served(env, tones):
    data = tones["plain"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    init = await env.init(env.alice, len(data), title="Cover", artist_name="Me", artwork_extension="png")
    assert (await env.upload(init, data))[0] == 204
    assert (await env.upload(init, png, "artwork"))[0] == 204
    code, body = await env.complete(env.alice, init["track_id"])
    assert code == 200, body
    await wait_for_status(env.client, env.alice, init["track_id"])
    detail = await (await env.client.get(f"/api/tracks/{init['track_id']}", headers=env.alice)).get_json()
    assert (detail["title"], detail["artist_name"]) == ("Cover", "Me")
    artwork = await env.client.get(detail["artwork_url"])
    assert await artwork.get_data() == png
    assert artwork.headers["Content-Type"] == "image/png"


async def test_completing_early_twice_or_someone_elses_track_is_refused(env, tones):
    data = tones["plain"]
    init = await env.init(env.alice, len(data))
    track_id = init["track_id"]
    code, body = await env.complete(env.alice, track_id)
    assert code == 409 and "not been uploaded" in body["error"]["message"]
    await env.upload(init, data)
    assert (await env.complete(env.bob, track_id))[0] == 404
    assert (await env.client.get(f"/tracks/upload/status/{track_id}", headers=env.bob)).status_code == 404
    assert (await env.client.delete(f"/api/tracks/{track_id}", headers=env.bob)).status_code == 404
    assert (await env.complete(env.alice, track_id))[0] == 200
    code, body = await env.complete(env.alice, track_id)
    assert code == 409 and body["error"]["code"] == "conflict"
    for unknown in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert (await env.complete(env.alice, unknown))[0] == 404
        response = await env.client.get(f"/tracks/upload/status/{unknown}", headers=env.alice)
        assert response.status_code == 404
    assert (await env.client.post("/tracks/upload/init", json={"file_extension": "mp3",
                                                               "file_size": 5})).status_code == 401
    await wait_for_status(env.client, env.alice, track_id)


async def test_non_audio_and_wrong_size_are_refused_at_complete(env, tones):
    junk = b"<html>not audio at all</html>" * 20
    init = await env.init(env.alice, len(junk))
    assert (await env.upload(init, junk))[0] == 204
    code, body = await env.complete(env.alice, init["track_id"])
    assert code == 415, body
    # The refused bytes are gone, the track can still take a real upload.
    assert not any(key.endswith("original.mp3") for key in await env.keys())
    status = await (await env.client.get(f"/tracks/upload/status/{init['track_id']}", headers=env.alice)).get_json()
    assert status["status"] == "pending"

    data = tones["plain"]
    init = await env.init(env.alice, len(data))
    assert (await env.upload(init, data[:-100]))[0] == 204
    code, body = await env.complete(env.alice, init["track_id"])
    assert code == 422 and "declared" in body["error"]["message"]


async def test_upload_receiver_enforces_the_policy(env, tones):
    data = tones["plain"]
    init = await env.init(env.alice, len(data))
    fields = init["audio_upload_fields"]
    # Above the declared size: refused while streaming, nothing kept.
    status, body = await env.upload(init, data + b"x" * 10)
    assert status == 413 and b"payload_too_large" in body
    assert await env.keys() == []
    for tampered in ({**fields, "key": fields["key"].replace("original", "other")},
                     {**fields, "max_size": str(10 ** 9)},
                     {**fields, "content_type": "text/html"},
                     {**fields, "backend": "elsewhere"},
                     {k: v for k, v in fields.items() if k != "sig"}):
        status, body = await post_presigned(env.client, init["audio_upload_url"], tampered, data)
        assert status == 403 and b'"code"' in body, body
    expired = env.host.storage.default
    old = {**fields, "exp": str(int(time.time()) - 5)}
    from mediahub_local_disk.upload_policy import upload_policy_signature

    old["sig"] = upload_policy_signature(expired.secret_key, old)
    status, body = await post_presigned(env.client, init["audio_upload_url"], old, data)
    assert status == 403 and b"expired" in body
    assert await env.keys() == []
    status, _ = await post_presigned(env.client, "/media/upload/nowhere", fields, data)
    assert status == 404
    response = await env.client.post(init["audio_upload_url"], data=b"raw", headers={"Content-Type": "audio/mpeg"})
    assert response.status_code == 400


async def test_init_checks_its_input(env):
    for body, code in (({"file_extension": "exe", "file_size": 10}, 415),
                       ({"file_extension": "mp3", "file_size": 10, "artwork_extension": "svg"}, 415),
                       ({"file_extension": "mp3", "file_size": 3 * 1024 * 1024}, 413),
                       ({"file_extension": "mp3", "file_size": 0}, 400),
                       ({"file_size": 10}, 400)):
        response = await env.client.post("/tracks/upload/init", headers=env.alice, json=body)
        assert response.status_code == code, (body, await response.get_json())
    assert await Track.all().count() == 0


async def test_undecodable_file_fails_after_its_tries_with_a_readable_error(env):
    # WAV magic, then bytes no decoder understands: accepted at complete, refused by ffmpeg.
    bogus = b"RIFF\x24\x00\x01\x00WAVE" + bytes(range(256)) * 64
    init = await env.init(env.alice, len(bogus), title="Broken", file_extension="wav")
    assert (await env.upload(init, bogus))[0] == 204
    code, body = await env.complete(env.alice, init["track_id"])
    assert code == 200, body
    final = await wait_for_status(env.client, env.alice, init["track_id"])
    assert final["status"] == "failed"
    assert final["error"].startswith("ffmpeg could not decode the file")
    job = await Job.get(key=f"hls:{init['track_id']}")
    assert (job.state, job.tries) == ("failed", 2)
    assert "ffmpeg could not decode" in job.last_error
    detail = await (await env.client.get(f"/api/tracks/{init['track_id']}", headers=env.alice)).get_json()
    assert detail["status"] == "failed" and detail["hls_master_url"] is None


async def test_playlist_links_are_signed(env, tones):
    data = tones["plain"]
    init = await env.init(env.alice, len(data))
    await env.upload(init, data)
    await env.complete(env.alice, init["track_id"])
    await wait_for_status(env.client, env.alice, init["track_id"])
    detail = await (await env.client.get(f"/api/tracks/{init['track_id']}", headers=env.alice)).get_json()
    url = urlsplit(detail["hls_master_url"])
    query = dict(parse_qsl(url.query))
    for bad in ({**query, "sig": "0" * 64}, {"exp": query["exp"]}, {**query, "exp": str(int(query["exp"]) + 1)}):
        response = await env.client.get(url.path, query_string=bad)
        assert response.status_code == 403, bad
        assert (await response.get_json())["error"]["code"] == "forbidden"
    other = f"/tracks/{init['track_id']}/hls/a96k/index.m3u8"
    assert (await env.client.get(other, query_string=query)).status_code == 403


async def test_abandoned_uploads_are_swept_with_their_rows(env, tones):
    """The cleanup hook: once the ledger sweep discards a never-completed upload, its track goes."""
    from mediahub.scheduler import run_sweep

    data = tones["plain"]
    init = await env.init(env.alice, len(data))
    await env.upload(init, data)
    kept = await env.init(env.alice, len(data))
    await env.upload(kept, data)
    assert (await env.complete(env.alice, kept["track_id"]))[0] == 200
    await wait_for_status(env.client, env.alice, kept["track_id"])
    async with env.app.app_context():
        report = await run_sweep(env.host, time.time() + 7200)
    assert report["abandoned_tracks"] == 1
    assert report["ledger_pending_discarded"] == 1
    assert [str(t.id) for t in await Track.all()] == [kept["track_id"]]
    assert not any(init["track_id"] in key for key in await env.keys())


async def test_pages_need_a_session_and_show_in_the_nav(env):
    for path in ("/tracks", "/tracks/upload"):
        response = await env.client.get(path, headers={"Accept": "text/html"})
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    response = await env.client.get("/tracks", headers={**env.alice, "Accept": "text/html"})
    page = (await response.get_data()).decode()
    assert response.status_code == 200
    assert '<a href="/tracks" aria-current="page">Tracks</a>' in page
    assert "hls.min.js" in page
    upload = await env.client.get("/tracks/upload", headers={**env.alice, "Accept": "text/html"})
    assert "Audio file" in (await upload.get_data()).decode()
    assert (await env.client.get("/hls/static/hls.min.js")).status_code == 200
