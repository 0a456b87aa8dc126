"""cloudinary-temp on storage backends: upload, play, dedupe, track change, session end, expiry, refusals.

Every lifecycle test runs on local-disk and on S3 (SeaweedFS), and checks the objects in the
storage itself, not only the database.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mediahub import hookimpl
from mediahub.models import MediaObject
from mediahub.scheduler import run_sweep
from mediahub.testing import login, make_settings, running_app
from mediahub_cloudinary_temp.models import TempSession, TempUpload
from mediahub_cloudinary_temp.store import URL_GRACE
from tests.support.cloudinary_temp import FOLDER, TTL, form, upload, uploaded

def overrides_for(kind: str, tmp_path: Path, s3_table: dict | None, **plugin) -> dict:
    storage = ({"default": "s3", "s3": s3_table} if kind == "s3" else
               {"default": "local", "local": {"type": "local-disk", "root": str(tmp_path / "media")}})
    return {"storage": storage,
            "plugins": {"cloudinary_temp": {"folder": FOLDER, "ttl": TTL, **plugin}}}


@pytest.fixture(params=["local", "s3"])
def backend_kind(request):
    return request.param


@pytest.fixture
def storage_overrides(backend_kind, tmp_path, request):
    s3_table = request.getfixturevalue("s3_settings") if backend_kind == "s3" else None
    return lambda **plugin: overrides_for(backend_kind, tmp_path, s3_table, **plugin)


@pytest.fixture
async def app(mediahub_app_factory, storage_overrides):
    return await mediahub_app_factory(overrides=storage_overrides())


def storage_of(app):
    return app.extensions["mediahub"].storage.default


async def stored_keys(app) -> list[str]:
    return [info.key async for info in storage_of(app).list(FOLDER + "/")]


async def media_of(public_id: str) -> MediaObject:
    upload = await TempUpload.get(public_id=public_id)
    return await MediaObject.get(id=upload.media_id)


async def fetch_range(app, url: str, byte_range: str) -> tuple[int, bytes, dict]:
    """GET the play URL as a browser would: the app's /media/ gateway, or S3 itself."""
    if url.startswith("/"):
        response = await app.test_client().get(url, headers={"Range": byte_range})
        return response.status_code, await response.get_data(), {k.lower(): v for k, v in response.headers.items()}

    def get():
        request = urllib.request.Request(url, headers={"Range": byte_range})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read(), {k.lower(): v for k, v in answer.headers.items()}

    return await asyncio.to_thread(get)


def url_expiry(url: str, now: float) -> float:
    query = parse_qs(urlsplit(url).query)
    if "exp" in query:  # local-disk: /media/...?exp=<unix>&sig=
        return float(query["exp"][0])
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").timestamp()
    return signed_at - time.timezone + float(query["X-Amz-Expires"][0])


async def test_upload_is_a_ledger_row_and_plays_with_range(app, songs):
    client = app.test_client()
    auth = await login(client, "alice")
    before = time.time()
    body = await uploaded(client, auth, songs["a"])
    assert set(body) == {"url", "publicId", "expiresAt"}

    media = await media_of(body["publicId"])
    assert media.purpose == "temp" and media.state == "stored"
    assert media.size == len(songs["a"]) and media.content_type == "audio/mpeg"
    assert media.key.startswith(FOLDER + "/") and body["publicId"] in media.key
    assert before + TTL - 5 <= media.expires_at.timestamp() <= time.time() + TTL
    expires_at = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00")).timestamp()
    assert abs(expires_at - media.expires_at.timestamp()) < 1
    assert await stored_keys(app) == [media.key]
    record = await TempUpload.get(public_id=body["publicId"])
    assert (record.session_id, record.song_title, record.sha256) == ("party-1", "Tum Hi Ho", media.sha256)

    status, data, headers = await fetch_range(app, body["url"], "bytes=0-99")
    assert status == 206 and data == songs["a"][:100]
    assert headers.get("content-range") == f"bytes 0-99/{len(songs['a'])}"
    # The link outlives the upload by a few minutes at most.
    expiry = url_expiry(body["url"], time.time())
    assert expires_at <= expiry <= expires_at + URL_GRACE + 5


async def test_track_change_deletes_the_previous_object(app, songs):
    client = app.test_client()
    auth = await login(client, "alice")
    first = await uploaded(client, auth, songs["a"])
    second = await uploaded(client, auth, songs["b"])
    first_media, second_media = await media_of(first["publicId"]), await media_of(second["publicId"])
    host = app.extensions["mediahub"]
    async with app.app_context():
        await host.call_hook("track_changed", session_id="party-1",
                             previous={"media_id": str(first_media.id), "source": "temp"},
                             current={"media_id": str(second_media.id), "source": "temp"})
    assert await storage_of(app).stat(first_media.key) is None
    assert await storage_of(app).stat(second_media.key) is not None
    assert await stored_keys(app) == [second_media.key]
    assert await MediaObject.get_or_none(id=first_media.id) is None
    response = await client.delete(f"/api/temp-upload/temp/{first['publicId']}", headers=auth)
    assert response.status_code == 404
    # The same track "changing" to itself (a replay) keeps it.
    async with app.app_context():
        await host.call_hook("track_changed", session_id="party-1",
                             previous={"publicId": second["publicId"]},
                             current={"publicId": second["publicId"]})
    assert await stored_keys(app) == [second_media.key]


async def test_session_end_deletes_all_and_returns_the_count(app, songs):
    client = app.test_client()
    auth = await login(client, "alice")
    for song in ("a", "b"):
        await uploaded(client, auth, songs[song])
    other = await uploaded(client, auth, songs["c"], session_id="party-2")
    assert len(await stored_keys(app)) == 3

    response = await client.delete("/api/temp-upload/session/party-1", headers=auth)
    assert response.status_code == 200
    assert await response.get_json() == {"message": "Session files deleted", "count": 2}
    assert await stored_keys(app) == [(await media_of(other["publicId"])).key]
    assert await TempUpload.filter(session_id="party-1").count() == 0

    # The session_ended hook (what the listen-party plugin triggers) does the same.
    host = app.extensions["mediahub"]
    async with app.app_context():
        await host.call_hook("session_ended", session_id="party-2", reason="host_ended")
    assert await stored_keys(app) == []
    assert await MediaObject.filter(purpose="temp").count() == 0


async def test_same_bytes_in_a_session_are_stored_once(app, songs):
    client = app.test_client()
    auth = await login(client, "alice")
    first = await uploaded(client, auth, songs["a"])
    again = await uploaded(client, auth, songs["a"], title="again")
    assert again["publicId"] == first["publicId"]
    assert await stored_keys(app) == [(await media_of(first["publicId"])).key]
    assert await MediaObject.filter(purpose="temp").count() == 1
    # Another session gets its own copy (each session's files go when it ends).
    elsewhere = await uploaded(client, auth, songs["a"], session_id="party-2")
    assert elsewhere["publicId"] != first["publicId"]
    assert len(await stored_keys(app)) == 2


class UploadWatcher:
    def __init__(self):
        self.received = []

    @hookimpl
    def upload_received(self, media, purpose, user):
        self.received.append((media.id, purpose))


async def test_only_kept_uploads_are_announced(mediahub_app_factory, tmp_path, songs):
    watcher = UploadWatcher()
    app = await mediahub_app_factory(plugins=[("watcher", watcher)],
                                     overrides=overrides_for("local", tmp_path, None))
    client = app.test_client()
    auth = await login(client, "alice")
    first = await uploaded(client, auth, songs["a"])
    await uploaded(client, auth, songs["a"], title="again")  # a duplicate: discarded
    kept = await media_of(first["publicId"])
    assert watcher.received == [(kept.id, "temp")]


async def test_only_the_uploader_or_the_session_host_may_delete(app, songs):
    client = app.test_client()
    alice = await login(client, "alice")  # first uploader of party-1: its host
    bob = await login(client, "bob")
    carol = await login(client, "carol")
    mine = await uploaded(client, alice, songs["a"])
    bobs = await uploaded(client, bob, songs["b"])

    response = await client.delete(f"/api/temp-upload/temp/{mine['publicId']}", headers=carol)
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"]
    response = await client.delete(f"/api/temp-upload/temp/{mine['publicId']}", headers=bob)
    assert response.status_code == 403
    response = await client.delete("/api/temp-upload/session/party-1", headers=carol)
    assert response.status_code == 403
    assert len(await stored_keys(app)) == 2
    response = await client.delete("/api/temp-upload/temp/" + "0" * 32, headers=carol)
    assert response.status_code == 404
    response = await client.delete("/api/temp-upload/temp/../etc", headers=carol)
    assert response.status_code == 404

    # Bob may remove his own; the host may remove anyone's in her session.
    response = await client.delete("/api/temp-upload/session/party-1", headers=bob)
    assert (response.status_code, (await response.get_json())["count"]) == (200, 1)
    bobs = await uploaded(client, bob, songs["b"])
    response = await client.delete(f"/api/temp-upload/temp/{bobs['publicId']}", headers=alice)
    assert (response.status_code, await response.get_json()) == (200, {"message": "File deleted"})
    assert await stored_keys(app) == [(await media_of(mine["publicId"])).key]
    response = await client.delete(f"/api/temp-upload/temp/{mine['publicId']}", headers=alice)
    assert response.status_code == 200
    assert await stored_keys(app) == []


async def test_refused_uploads_store_nothing(mediahub_app_factory, storage_overrides, songs):
    app = await mediahub_app_factory(overrides=storage_overrides(max_bytes=len(songs["a"]) - 1))
    client = app.test_client()
    auth = await login(client, "alice")
    small = songs["a"][: len(songs["a"]) // 2]
    cases = [
        (await upload(client, auth, b"<html>not audio at all</html>" * 100), 415),
        (await upload(client, auth, songs["a"]), 413),
        (await upload(client, auth, small, session_id=None), 400),
        (await upload(client, auth, small, session_id="bad,tag"), 400),
        (await upload(client, auth, None), 400),
        (await upload(client, {"Authorization": "Bearer not-a-token"}, small), 401),
    ]
    for response, status in cases:
        body = await response.get_json()
        assert response.status_code == status, body
        assert set(body["error"]) == {"code", "message"}
    assert await stored_keys(app) == []
    assert await MediaObject.all().count() == 0
    assert await TempUpload.all().count() == 0
    # The fields may come before the file too.
    response = await upload(client, auth, small, file_first=False)
    assert response.status_code == 200


async def test_expired_uploads_are_swept_after_a_restart(tmp_path, storage_overrides, songs):
    settings = make_settings(tmp_path / "data", storage_overrides())
    async with running_app(settings) as app:
        client = app.test_client()
        auth = await login(client, "alice")
        body = await uploaded(client, auth, songs["a"])
        key = (await media_of(body["publicId"])).key
        assert await stored_keys(app) == [key]
        # Not expired yet: a sweep keeps it.
        counts = await run_sweep(app.extensions["mediahub"], time.time())
        assert counts.get("temp_uploads_expired", 0) == 0 and await stored_keys(app) == [key]
    # The server was down while it expired; the first sweep after the restart removes it.
    async with running_app(settings) as app:
        host = app.extensions["mediahub"]
        async with app.app_context():
            counts = await run_sweep(host, time.time() + TTL + 60)
        assert counts["temp_uploads_expired"] + counts["ledger_expired_deleted"] >= 1
        assert await stored_keys(app) == []
        assert await TempUpload.all().count() == 0
        assert await MediaObject.all().count() == 0
        assert await TempSession.all().count() == 0


async def test_upload_page_shows_a_progress_bar(mediahub_app_factory, tmp_path):
    app = await mediahub_app_factory(overrides=overrides_for("local", tmp_path, None))
    client = app.test_client()
    assert (await client.get("/temp-upload", headers={"Accept": "text/html"})).status_code in (302, 303)
    auth = await login(client, "alice")
    # The page offers the upload form for a party of the person's (it lists their live ones).
    party = await client.post("/api/parties", headers=auth, json={"name": "kitchen"})
    assert party.status_code == 201, await party.get_data()
    response = await client.get("/temp-upload", headers=auth)
    page = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<progress" in page and "temp_upload.js" in page
    script = await client.get("/temp-upload/static/temp_upload.js")
    text = await script.get_data(as_text=True)
    # The progress bar is fed by the host's uploader (static/uploader.js, upload progress events).
    assert "mediahub.upload(" in text and "/api/temp-upload/upload-temp" in text
    uploader = await (await client.get("/static/uploader.js")).get_data(as_text=True)
    assert "xhr.upload.addEventListener(\"progress\"" in uploader


async def test_routes_are_documented(mediahub_app_factory, tmp_path):
    app = await mediahub_app_factory(overrides=overrides_for("local", tmp_path, None))
    document = await (await app.test_client().get("/openapi.json")).get_json()
    paths = document["paths"]
    upload_op = paths["/api/temp-upload/upload-temp"]["post"]
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
    assert "/api/temp-upload/temp/{public_id}" in paths
    assert "/api/temp-upload/session/{session_id}" in paths


async def test_track_change_ignores_tracks_that_are_not_temporary_uploads(app, songs):
    client = app.test_client()
    auth = await login(client, "alice")
    body = await uploaded(client, auth, songs["a"])
    host = app.extensions["mediahub"]
    async with app.app_context():
        for previous in ({"media_id": "not-a-uuid"}, {"media_id": str(__import__("uuid").uuid4())},
                         {"title": "no id"}, None, {"publicId": body["publicId"]}):
            await host.call_hook("track_changed", session_id="another-party", previous=previous,
                                 current=None)
    # Only its own session's track change removes it.
    assert len(await stored_keys(app)) == 1
    from mediahub_cloudinary_temp.store import delete_media_of_track

    assert await delete_media_of_track(host, "party-1", {"media_id": "not-a-uuid"}) == 0
    assert await delete_media_of_track(host, "party-1", {"publicId": body["publicId"]}) == 1
    assert await stored_keys(app) == []


async def test_the_page_flow_with_a_cookie_session_and_csrf_token(mediahub_app_factory, tmp_path, songs):
    import re

    app = await mediahub_app_factory(overrides=overrides_for("local", tmp_path, None))
    client = app.test_client()
    alice = await login(client, "alice")  # registers alice
    # The page's form is for one of the person's live parties.
    assert (await client.post("/api/parties", headers=alice, json={"name": "den"})).status_code == 201
    home = await (await client.get("/")).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)
    await client.post("/login", form={"username": "alice", "password": "correct horse battery",
                                      "csrf_token": token})  # a browser's cookie session
    page = await (await client.get("/temp-upload")).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert "<progress" in page
    body, headers = form({"sessionId": "party-9", "songTitle": "x"}, songs["a"], file_first=False)
    refused = await client.post("/api/temp-upload/upload-temp", data=body, headers=headers)
    assert refused.status_code == 403 and await stored_keys(app) == []
    response = await client.post(f"/api/temp-upload/upload-temp?csrf_token={token}",
                                 data=body, headers=headers)
    assert response.status_code == 200, await response.get_json()
    public_id = (await response.get_json())["publicId"]
    response = await client.delete(f"/api/temp-upload/temp/{public_id}", headers={"X-CSRF-Token": token})
    assert response.status_code == 200 and await stored_keys(app) == []
