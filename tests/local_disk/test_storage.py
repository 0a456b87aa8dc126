"""The local-disk backend: the storage contract, plus what only a filesystem can get wrong."""

from __future__ import annotations

import os
import time

import pytest

from mediahub.errors import ConfigProblem, Forbidden
from mediahub.storage import InvalidKey
from mediahub.streaming import check_media_signature
from mediahub_local_disk.backend import LocalDiskStorage, verify_upload_policy
from tests.support.storage_contract import StorageContract, chunked, keys_listed, read_all

SECRET = b"test-secret"


@pytest.fixture
async def local_disk(tmp_path):
    backend = LocalDiskStorage("local", tmp_path / "media", SECRET)
    await backend.start()
    yield backend
    await backend.close()


class TestLocalDiskContract(StorageContract):
    @pytest.fixture
    async def storage(self, local_disk):
        yield local_disk


async def test_objects_are_plain_files_under_root(local_disk, tmp_path):
    await local_disk.put("tracks/a.mp3", chunked(b"ID3 data"), "audio/mpeg")
    assert (tmp_path / "media" / "tracks" / "a.mp3").read_bytes() == b"ID3 data"
    # No temp file is left next to it.
    assert os.listdir(tmp_path / "media" / "tracks") == ["a.mp3"]


async def test_failed_put_leaves_no_temp_file(local_disk, tmp_path):
    async def broken():
        yield b"x" * 3_000_000
        raise ConnectionResetError()

    with pytest.raises(ConnectionResetError):
        await local_disk.put("tracks/b.mp3", broken(), "audio/mpeg")
    assert os.listdir(tmp_path / "media" / "tracks") == []


async def test_symlinked_directory_cannot_escape_root(local_disk, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mp3").write_bytes(b"not yours")
    os.symlink(outside, tmp_path / "media" / "evil")
    with pytest.raises(InvalidKey):
        await local_disk.put("evil/new.mp3", chunked(b"x"), "audio/mpeg")
    with pytest.raises(InvalidKey):
        await local_disk.stat("evil/secret.mp3")
    with pytest.raises(InvalidKey):
        await read_all(local_disk, "evil/secret.mp3", 0, 3)
    with pytest.raises(InvalidKey):
        await local_disk.delete("evil/secret.mp3")
    assert sorted(os.listdir(outside)) == ["secret.mp3"]
    assert await keys_listed(local_disk) == []


async def test_symlinked_file_is_not_served(local_disk, tmp_path):
    (tmp_path / "passwd").write_bytes(b"root:x:0:0")
    os.symlink(tmp_path / "passwd", tmp_path / "media" / "link.mp3")
    assert await local_disk.stat("link.mp3") is None
    with pytest.raises(OSError):
        await read_all(local_disk, "link.mp3", 0, 3)


async def test_temp_files_are_not_listed_and_stale_ones_are_swept(local_disk, tmp_path):
    await local_disk.put("a/real.mp3", chunked(b"x"), "audio/mpeg")
    stale = tmp_path / "media" / "a" / ".mh-crashed.part"
    stale.write_bytes(b"half an upload")
    assert await keys_listed(local_disk) == ["a/real.mp3"]
    assert await local_disk.sweep_temp_files(time.time() - 3600) == 0
    assert await local_disk.sweep_temp_files(time.time() + 1) == 1
    assert not stale.exists()
    assert await keys_listed(local_disk) == ["a/real.mp3"]


async def test_delete_removes_empty_directories(local_disk, tmp_path):
    await local_disk.put("hls/t1/seg0.ts", chunked(b"x"), "video/mp2t")
    await local_disk.delete("hls/t1/seg0.ts")
    assert os.listdir(tmp_path / "media") == []


async def test_content_type_falls_back_to_the_extension(local_disk, tmp_path):
    (tmp_path / "media" / "list.m3u8").write_text("#EXTM3U\n")
    (tmp_path / "media" / "seg.ts").write_bytes(b"G")
    assert (await local_disk.stat("list.m3u8")).content_type == "application/vnd.apple.mpegurl"
    assert (await local_disk.stat("seg.ts")).content_type == "video/mp2t"


async def test_signed_url_names_backend_key_and_expiry(local_disk):
    url = await local_disk.url("tracks/a b.mp3", 60)
    path, _, query = url.partition("?")
    assert path == "/media/local/tracks/a%20b.mp3"
    params = dict(part.split("=") for part in query.split("&"))
    assert int(params["exp"]) == pytest.approx(time.time() + 60, abs=5)
    now = time.time()
    assert check_media_signature(SECRET, "local", "tracks/a b.mp3", params["exp"], params["sig"], now) is None
    assert check_media_signature(SECRET, "local", "tracks/other.mp3", params["exp"], params["sig"], now)
    assert check_media_signature(SECRET, "local", "tracks/a b.mp3", params["exp"], params["sig"],
                                 now + 3600) == "link expired"
    assert check_media_signature(b"other", "local", "tracks/a b.mp3", params["exp"], params["sig"], now)


async def test_presigned_upload_policy(local_disk):
    upload = await local_disk.presign_upload("up/x.mp3", "audio/mpeg", 1000, 60)
    assert upload.url == "/media/upload/local"
    assert {"key", "content_type", "max_size", "exp", "sig"} <= set(upload.fields)
    assert verify_upload_policy(SECRET, upload.fields) == ("up/x.mp3", "audio/mpeg", 1000)
    assert local_disk.verify_upload_policy(upload.fields) == ("up/x.mp3", "audio/mpeg", 1000)
    for field, value in [("key", "up/y.mp3"), ("max_size", "99999999"),
                         ("content_type", "text/html"), ("exp", str(int(time.time()) + 99999)),
                         ("backend", "other")]:
        with pytest.raises(Forbidden):
            verify_upload_policy(SECRET, {**upload.fields, field: value})
    with pytest.raises(Forbidden):
        verify_upload_policy(SECRET, upload.fields, now=time.time() + 120)
    with pytest.raises(Forbidden):
        verify_upload_policy(SECRET, {k: v for k, v in upload.fields.items() if k != "sig"})
    with pytest.raises(Forbidden):
        verify_upload_policy(SECRET, upload.fields, backend="s3")


def test_settings_default_root_and_unknown_keys(tmp_path):
    backend = LocalDiskStorage.from_settings(
        {"name": "local", "data_dir": str(tmp_path), "secret_key": b"k"})
    assert backend.root == str(tmp_path / "media")
    with pytest.raises(ConfigProblem) as problem:
        LocalDiskStorage.from_settings({"name": "local", "data_dir": str(tmp_path),
                                        "secret_key": b"k", "rooot": "/x"})
    assert problem.value.key == "rooot"


async def test_x_accel_redirect_hands_the_download_to_nginx(mediahub_app_factory, tmp_path):
    app = await mediahub_app_factory(overrides={"storage": {"default": "local", "local": {
        "type": "local-disk", "root": str(tmp_path / "files"),
        "x_accel_redirect": "/_mediahub_files/"}}})
    storage = app.extensions["mediahub"].storage.default
    await storage.put("tracks/a.mp3", chunked(b"ID3" * 100), "audio/mpeg")
    url = await storage.url("tracks/a.mp3", 60)
    response = await app.test_client().get(url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == "/_mediahub_files/tracks/a.mp3"
    assert response.headers["Content-Type"] == "audio/mpeg"
    assert await response.get_data() == b""
    # An empty body of known length (not chunked): nginx sends the file with its own.
    assert response.headers["Content-Length"] == "0"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Conditional requests are still answered here (the stat is mediahub's, on the loop).
    again = await app.test_client().get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and "X-Accel-Redirect" not in again.headers
    missing = await app.test_client().get(await storage.url("tracks/none.mp3", 60))
    assert missing.status_code == 404 and "X-Accel-Redirect" not in missing.headers
    # The signature is still checked before nginx is asked to serve anything.
    bad = await app.test_client().get(url.replace("sig=", "sig=f"))
    assert bad.status_code == 403
    assert "X-Accel-Redirect" not in bad.headers


async def test_two_backends_cannot_share_a_root(tmp_path):
    first = LocalDiskStorage("first", tmp_path / "media", SECRET)
    await first.start()
    await first.put("a.mp3", chunked(b"x"), "audio/mpeg")
    second = LocalDiskStorage("second", tmp_path / "media", SECRET)
    with pytest.raises(ConfigProblem) as problem:
        await second.start()
    assert "first" in problem.value.message and problem.value.key == "root"
    # The same backend restarting keeps its root.
    await LocalDiskStorage("first", tmp_path / "media", SECRET).start()


async def test_a_nested_root_is_not_listed_by_the_outer_backend(tmp_path):
    outer = LocalDiskStorage("outer", tmp_path / "media", SECRET)
    inner = LocalDiskStorage("inner", tmp_path / "media" / "inner", SECRET)
    await outer.start()
    await inner.start()
    await outer.put("o.mp3", chunked(b"x"), "audio/mpeg")
    await inner.put("i.mp3", chunked(b"y"), "audio/mpeg")
    assert await keys_listed(outer) == ["o.mp3"]
    assert await keys_listed(inner) == ["i.mp3"]


async def test_put_many_is_one_batch_that_leaves_nothing_half_done(local_disk, tmp_path):
    """Every object of a batch written, synced and renamed into place; if one cannot be
    written, none of the batch appears and no temp file is left."""
    await local_disk.put_many([("hls/a96k/seg_00000.m4s", b"one", "video/iso.segment"),
                               ("hls/a192k/seg_00000.m4s", b"two", "video/iso.segment")])
    assert (tmp_path / "media" / "hls" / "a192k" / "seg_00000.m4s").read_bytes() == b"two"
    assert (await local_disk.stat("hls/a96k/seg_00000.m4s")).content_type == "video/iso.segment"
    (tmp_path / "media" / "hls" / "blocked").write_bytes(b"a file where a folder should be")
    with pytest.raises(OSError):
        await local_disk.put_many([("hls/a96k/seg_00001.m4s", b"x", "video/iso.segment"),
                                   ("hls/blocked/seg_00001.m4s", b"y", "video/iso.segment")])
    assert sorted(os.listdir(tmp_path / "media" / "hls" / "a96k")) == ["seg_00000.m4s"]
    with pytest.raises(InvalidKey):
        await local_disk.put_many([("hls/../x", b"z", "video/iso.segment")])
