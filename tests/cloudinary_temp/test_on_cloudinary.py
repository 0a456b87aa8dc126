"""cloudinary-temp on Cloudinary: the official SDK against tests/support/fake_cloudinary.py, signatures checked."""

from __future__ import annotations

import hashlib
import time

import pytest

from mediahub.errors import ConfigProblem
from mediahub.models import MediaObject
from mediahub.scheduler import run_sweep
from mediahub.testing import login
from mediahub_cloudinary_temp.cloudinary_backend import (CloudinaryStorage, credentials_from_env,
                                                         public_id_of)
from mediahub_cloudinary_temp.models import TempUpload
from tests.support.fake_cloudinary import FakeCloudinary, sign, string_to_sign
from tests.support.cloudinary_temp import FOLDER, TTL, tone, uploaded, upload

CHUNK = 64 * 1024
LARGE = 100_000


@pytest.fixture
def fake():
    with FakeCloudinary(cloud_name="party-cloud", api_key="314159", api_secret="s3cr3t") as server:
        yield server


async def cloudinary_app(factory, tmp_path, monkeypatch, url: str):
    monkeypatch.setenv("CLOUDINARY_URL", url)
    return await factory(overrides={
        "storage": {"default": "local",
                    "local": {"type": "local-disk", "root": str(tmp_path / "media")},
                    "cloudinary": {"type": "cloudinary", "chunk_size": CHUNK,
                                   "large_threshold": LARGE}},
        "plugins": {"cloudinary_temp": {"backend": "cloudinary", "folder": FOLDER, "ttl": TTL}},
    })


@pytest.fixture
async def app(mediahub_app_factory, tmp_path, monkeypatch, fake):
    return await cloudinary_app(mediahub_app_factory, tmp_path, monkeypatch, fake.cloudinary_url())


@pytest.fixture(scope="module")
def long_song(tmp_path_factory) -> bytes:
    data = tone(tmp_path_factory.mktemp("long_song"), 550, seconds=12)
    assert len(data) > LARGE  # goes through upload_large, in several chunks
    return data


def test_the_fake_server_signs_like_the_documentation():
    # Cloudinary's own worked example (Authentication signatures, "Manual signature generation").
    params = {"eager": "w_400,h_300,c_pad|w_260,h_200,c_crop", "public_id": "sample_image",
              "timestamp": "1315060510", "api_key": "excluded", "file": "excluded"}
    assert string_to_sign(params) == ("eager=w_400,h_300,c_pad|w_260,h_200,c_crop"
                                      "&public_id=sample_image&timestamp=1315060510")
    assert sign(params, "abcd") == hashlib.sha1(
        (string_to_sign(params) + "abcd").encode()).hexdigest()


async def test_upload_goes_to_cloudinary_with_folder_and_tags(app, fake, songs):
    client = app.test_client()
    auth = await login(client, "alice")
    body = await uploaded(client, auth, songs["a"], session_id="party-7")
    public_id = f"{FOLDER}/{body['publicId']}"
    resource = fake.resources[public_id]
    assert resource.data == songs["a"] and resource.resource_type == "video"
    assert resource.tags == {"temp", "session", "party-7"}
    assert body["url"].startswith("https://res.cloudinary.com/party-cloud/video/upload/")
    assert body["url"].endswith(f"{public_id}.mp3")
    media = await MediaObject.get(id=(await TempUpload.get(public_id=body["publicId"])).media_id)
    assert (media.backend, media.state, media.purpose) == ("cloudinary", "stored", "temp")
    storage = app.extensions["mediahub"].storage.get("cloudinary")
    assert (await storage.stat(media.key)).size == len(songs["a"])
    # Nothing is left in the staging directory once Cloudinary has the file.
    assert list(storage.staging_dir.iterdir()) == []
    # Same bytes, same session: the existing upload, no second copy.
    again = await uploaded(client, auth, songs["a"], session_id="party-7")
    assert again["publicId"] == body["publicId"] and len(fake.resources) == 1


async def test_large_files_go_up_in_chunks(app, fake, long_song):
    client = app.test_client()
    auth = await login(client, "alice")
    body = await uploaded(client, auth, long_song)
    resource = fake.resources[f"{FOLDER}/{body['publicId']}"]
    assert resource.data == long_song
    parts = [r["headers"] for r in fake.requests if r["headers"].get("Content-Range")]
    assert len(parts) == -(-len(long_song) // CHUNK)
    assert len({headers["X-Unique-Upload-Id"] for headers in parts}) == 1
    assert parts[-1]["Content-Range"].endswith(f"/{len(long_song)}")


async def test_track_change_session_end_and_expiry_delete_from_cloudinary(app, fake, songs):
    client = app.test_client()
    auth = await login(client, "alice")
    first = await uploaded(client, auth, songs["a"])
    second = await uploaded(client, auth, songs["b"])
    host = app.extensions["mediahub"]
    async with app.app_context():
        await host.call_hook("track_changed", session_id="party-1",
                             previous={"publicId": first["publicId"]}, current={"publicId": second["publicId"]})
    assert set(fake.resources) == {f"{FOLDER}/{second['publicId']}"}

    third = await uploaded(client, auth, songs["c"])
    response = await client.delete("/api/temp-upload/session/party-1", headers=auth)
    assert (await response.get_json())["count"] == 2
    assert fake.resources == {}
    assert any(r["method"] == "DELETE" and r["path"].endswith("/resources/video/tags/party-1")
               for r in fake.requests)
    assert await TempUpload.filter(public_id=third["publicId"]).count() == 0

    expiring = await uploaded(client, auth, songs["a"], session_id="party-2")
    storage = host.storage.get("cloudinary")
    leftover = storage.staging_dir / "upload-left-by-a-crash"
    leftover.write_bytes(b"partial")
    async with app.app_context():
        counts = await run_sweep(host, time.time() + TTL + 60 + host.settings.server.orphan_grace)
    assert fake.resources == {} and await MediaObject.all().count() == 0
    assert not leftover.exists() and counts["temp_files_removed"] == 1
    assert await TempUpload.filter(public_id=expiring["publicId"]).count() == 0


async def test_a_wrong_api_secret_is_refused_and_nothing_is_kept(
        mediahub_app_factory, tmp_path, monkeypatch, fake, songs):
    app = await cloudinary_app(mediahub_app_factory, tmp_path, monkeypatch,
                               fake.cloudinary_url(api_secret="not-the-secret"))
    client = app.test_client()
    auth = await login(client, "alice")
    response = await upload(client, auth, songs["a"])
    assert response.status_code == 503, await response.get_json()
    assert fake.resources == {}
    refused = [r for r in fake.requests if r["path"].endswith("/video/upload")]
    assert refused and all(r["status"] == 401 for r in refused)
    assert "Invalid Signature" in refused[0]["answer"]["error"]["message"]
    assert await MediaObject.filter(state="stored").count() == 0
    assert await TempUpload.all().count() == 0


def test_credentials_come_from_the_environment_only(tmp_path, monkeypatch):
    env = {"CLOUDINARY_URL": "cloudinary://key:se%2Fcret@my-cloud?upload_prefix=http://127.0.0.1:9"}
    credentials = credentials_from_env(env)
    assert (credentials.cloud_name, credentials.api_key, credentials.api_secret,
            credentials.upload_prefix) == ("my-cloud", "key", "se/cret", "http://127.0.0.1:9")
    split = credentials_from_env({"CLOUDINARY_CLOUD_NAME": "c", "CLOUDINARY_API_KEY": "k",
                                  "CLOUDINARY_API_SECRET": "s"})
    assert (split.cloud_name, split.api_key, split.api_secret) == ("c", "k", "s")
    assert credentials_from_env({}) is None
    assert credentials_from_env({"CLOUDINARY_URL": "https://key:secret@cloud"}) is None

    options = {"type": "cloudinary", "name": "cloudinary", "data_dir": str(tmp_path), "secret_key": b"x"}
    monkeypatch.delenv("CLOUDINARY_URL", raising=False)
    for name in ("CLOUDINARY_CLOUD_NAME", "CLOUDINARY_API_KEY", "CLOUDINARY_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigProblem) as problem:
        CloudinaryStorage.from_settings(options)
    assert "CLOUDINARY_URL" in problem.value.message
    monkeypatch.setenv("CLOUDINARY_URL", env["CLOUDINARY_URL"])
    with pytest.raises(ConfigProblem) as problem:
        CloudinaryStorage.from_settings({**options, "api_secret": "in clear text"})
    assert problem.value.key == "api_secret"
    assert CloudinaryStorage.from_settings(options).credentials.cloud_name == "my-cloud"


def test_public_ids_are_keys_without_extension():
    assert public_id_of("party/temp/abc.mp3") == "party/temp/abc"
    for bad in ("", "/abs.mp3", "a/../b.mp3"):
        with pytest.raises(ValueError):
            public_id_of(bad)


async def test_backend_cloudinary_needs_no_storage_table(mediahub_app_factory, tmp_path, monkeypatch,
                                                        fake, songs):
    """The plugin's startup hook builds the backend from CLOUDINARY_URL when it is named alone."""
    monkeypatch.setenv("CLOUDINARY_URL", fake.cloudinary_url())
    app = await mediahub_app_factory(overrides={
        "plugins": {"cloudinary_temp": {"backend": "cloudinary", "folder": FOLDER}}})
    assert "cloudinary" in app.extensions["mediahub"].storage.backends
    client = app.test_client()
    body = await uploaded(client, await login(client, "alice"), songs["a"])
    assert set(fake.resources) == {f"{FOLDER}/{body['publicId']}"}


async def test_backend_cloudinary_without_credentials_answers_503(mediahub_app_factory, monkeypatch,
                                                                 songs):
    for name in ("CLOUDINARY_URL", "CLOUDINARY_CLOUD_NAME", "CLOUDINARY_API_KEY", "CLOUDINARY_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    app = await mediahub_app_factory(overrides={"plugins": {"cloudinary_temp": {"backend": "cloudinary"}}})
    client = app.test_client()
    response = await upload(client, await login(client, "alice"), songs["a"])
    assert response.status_code == 503
    assert await MediaObject.all().count() == 0
