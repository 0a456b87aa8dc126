"""The S3 backend against a real S3 server (SeaweedFS): the storage contract, presigned
URLs and POST policies enforced by the server itself, multipart, batching, outages."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from mediahub.config import ConfigError
from mediahub.errors import ConfigProblem, StorageUnavailable
from mediahub.storage import InvalidKey
from mediahub.storage import check_key
from mediahub_s3_renders.backend import S3Storage, part_size_for, range_header
from mediahub_s3_renders.settings import MiB, parse_settings
from tests.support.ports import closed_port
from tests.support.storage_contract import StorageContract, chunked, keys_listed, read_all

HOST_OPTIONS = {"name": "s3", "data_dir": "/nonexistent", "secret_key": b"host signing key"}


def options(table: dict, **changes) -> dict:
    """A `[storage.s3]` table as the host hands it to the factory (no `type`, host keys added)."""
    return {**{k: v for k, v in table.items() if k != "type"}, **changes, **HOST_OPTIONS}


@contextlib.asynccontextmanager
async def started(table: dict, **kwargs):
    backend = S3Storage("s3", parse_settings(options(table)), **kwargs)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def s3(s3_settings):  # noqa: F811
    async with started(s3_settings) as backend:
        yield backend


# -- the shared contract ---------------------------------------------------------------


class TestS3Contract(StorageContract):
    """With a key prefix and a low multipart threshold, so both upload paths and the
    prefix handling go through every contract test."""

    @pytest.fixture
    async def storage(self, s3_settings):  # noqa: F811
        table = {**s3_settings, "key_prefix": "prod/", "multipart_threshold": MiB}
        async with started(table) as backend:
            yield backend


# -- settings ----------------------------------------------------------------------------


def test_settings_defaults(s3_settings):  # noqa: F811
    backend = S3Storage.from_settings(options(s3_settings))
    assert backend.name == "s3"
    assert backend.settings.part_size == 8 * MiB
    assert backend.settings.multipart_threshold == 8 * MiB
    assert backend.key_prefix == ""
    minimal = parse_settings({"bucket": "media", "access_key_id": "a", "secret_access_key": "b"})
    assert (minimal.region, minimal.addressing_style, minimal.endpoint_url) == ("us-east-1", "auto", None)
    assert minimal.create_bucket is False
    assert "b" not in repr(minimal.secret_access_key)


@pytest.mark.parametrize("changes,removed,key,words", [
    ({}, "bucket", "bucket", "missing"),
    ({}, "secret_access_key", "secret_access_key", "missing"),
    ({"access_key_id": "  "}, None, "access_key_id", "empty"),
    ({"bucket": "Bad_Bucket"}, None, "bucket", "lowercase"),
    ({"addressing_style": "sideways"}, None, "addressing_style", "path"),
    ({"endpoint_url": "ftp://example.com"}, None, "endpoint_url", "http"),
    ({"public_base_url": "cdn.example.com"}, None, "public_base_url", "http"),
    ({"key_prefix": "prod"}, None, "key_prefix", "end with '/'"),
    ({"key_prefix": "../prod/"}, None, "key_prefix", "relative"),
    ({"part_size": MiB}, None, "part_size", "greater than or equal"),
    ({"access_key": "x"}, None, "access_key", "did you mean access_key_id"),
])
def test_bad_settings_name_the_key(s3_settings, changes, removed, key, words):  # noqa: F811
    table = options(s3_settings, **changes)
    if removed:
        del table[removed]
    with pytest.raises(ConfigProblem) as problem:
        S3Storage.from_settings(table)
    assert problem.value.key == key
    assert words in problem.value.message


async def test_app_refuses_a_default_s3_backend_with_a_missing_bucket(mediahub_app_factory,
                                                                       s3_settings):  # noqa: F811
    table = {k: v for k, v in s3_settings.items() if k != "bucket"}
    with pytest.raises(ConfigError) as error:
        await mediahub_app_factory(overrides={"storage": {"default": "s3", "s3": table}})
    assert "storage.s3.bucket: required value is missing" in str(error.value)


def test_pure_helpers():
    assert range_header(0, 0) == "bytes=0-0"
    with pytest.raises(ValueError):
        range_header(5, 4)
    assert part_size_for(None, 8 * MiB) == 8 * MiB
    assert part_size_for(1000 * 8 * MiB, 8 * MiB) == 8 * MiB
    assert part_size_for(200_000 * MiB, 8 * MiB) == 20 * MiB  # 10,000 parts at most
    assert check_key("a/b.mp3") == "a/b.mp3"
    assert check_key("", prefix=True) == "" and check_key("a/", prefix=True) == "a/"
    for key in ("a/../b", "/a", "a\x00b", "a//b", ""):
        with pytest.raises(InvalidKey):
            check_key(key)


# -- the app -----------------------------------------------------------------------------


async def test_app_runs_with_s3_as_the_default_backend(mediahub_app_factory, s3_settings):  # noqa: F811
    app = await mediahub_app_factory(overrides={"storage": {"default": "s3", "s3": s3_settings}})
    host = app.extensions["mediahub"]
    assert isinstance(host.storage.default, S3Storage)
    assert host.storage.default.name == "s3"
    response = await app.test_client().get("/healthz")
    assert response.status_code == 200
    stored = await host.storage.default.put("k/a.bin", chunked(b"via the app"), "audio/mpeg")
    assert stored.size == 11


# -- key prefix --------------------------------------------------------------------------


async def test_key_prefix_is_applied_and_hidden(s3_settings):  # noqa: F811
    async with started(s3_settings) as raw, started({**s3_settings, "key_prefix": "staging/"}) as env:
        await raw.put("outside.bin", chunked(b"not staging"), "application/octet-stream")
        await env.put("renders/a.mp3", chunked(b"abc"), "audio/mpeg")
        assert await keys_listed(raw) == ["outside.bin", "staging/renders/a.mp3"]
        assert await keys_listed(env) == ["renders/a.mp3"]
        assert (await env.stat("renders/a.mp3")).key == "renders/a.mp3"
        assert await env.stat("outside.bin") is None
        assert await env.delete_prefix("") == 1
        assert await keys_listed(raw) == ["outside.bin"]


# -- presigned POST: the server enforces the policy -------------------------------------


async def post_form(upload, data: bytes, **field_changes) -> httpx.Response:
    fields = {**upload.fields, **field_changes}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(upload.url, data=fields,
                                 files={"file": ("song.mp3", data, fields.get("Content-Type"))})


async def test_presigned_post_refuses_a_file_over_the_limit(s3):
    upload = await s3.presign_upload("up/a.mp3", "audio/mpeg", max_size=1000, expires_in=60)
    assert upload.fields["key"] == "up/a.mp3"
    assert upload.fields["Content-Type"] == "audio/mpeg"
    refused = await post_form(upload, os.urandom(1001))
    assert 400 <= refused.status_code < 500, refused.text
    assert await s3.stat("up/a.mp3") is None
    empty = await post_form(upload, b"")
    assert 400 <= empty.status_code < 500, empty.text
    assert await s3.stat("up/a.mp3") is None

    data = os.urandom(1000)
    accepted = await post_form(upload, data)
    assert accepted.status_code in (200, 201, 204), accepted.text
    stat = await s3.stat("up/a.mp3")
    assert (stat.size, stat.content_type) == (1000, "audio/mpeg")
    assert await read_all(s3, "up/a.mp3", 0, 999) == data


async def test_presigned_post_refuses_another_key_or_content_type(s3):
    upload = await s3.presign_upload("up/b.mp3", "audio/mpeg", max_size=1000, expires_in=60)
    other_key = await post_form(upload, b"ID3 data", key="up/elsewhere.mp3")
    assert other_key.status_code == 403, other_key.text
    other_type = await post_form(upload, b"<script>", **{"Content-Type": "text/html"})
    assert other_type.status_code == 403, other_type.text
    assert await keys_listed(s3) == []


async def test_presigned_post_fields_carry_the_key_prefix(s3_settings):  # noqa: F811
    async with started({**s3_settings, "key_prefix": "prod/"}) as env:
        upload = await env.presign_upload("up/c.mp3", "audio/mpeg", max_size=10, expires_in=60)
        assert upload.fields["key"] == "prod/up/c.mp3"
        assert (await post_form(upload, b"0123456789")).status_code in (200, 201, 204)
        assert (await env.stat("up/c.mp3")).size == 10


# -- presigned GET -----------------------------------------------------------------------


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def flip_last_char(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


async def test_presigned_get_works_and_tampering_is_refused(s3):
    data = os.urandom(5000)
    await s3.put("tracks/a.mp3", chunked(data), "audio/mpeg")
    await s3.put("tracks/b.mp3", chunked(b"someone else's"), "audio/mpeg")
    url = await s3.url("tracks/a.mp3", 60)
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    async with httpx.AsyncClient(timeout=30) as client:
        whole = await client.get(url)
        assert whole.status_code == 200 and whole.content == data
        part = await client.get(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == data[10:20]
        tampered = [
            with_query(url, **{"X-Amz-Signature": flip_last_char(signature)}),
            url.replace("tracks/a.mp3", "tracks/b.mp3"),
            with_query(url, **{"X-Amz-Expires": "604800"}),
        ]
        for bad in tampered:
            refused = await client.get(bad)
            assert refused.status_code == 403, bad
            assert data not in refused.content and b"someone else" not in refused.content


async def test_expired_presigned_get_and_post_are_refused(s3):
    await s3.put("tracks/a.mp3", chunked(b"soon gone"), "audio/mpeg")
    url = await s3.url("tracks/a.mp3", 1)
    upload = await s3.presign_upload("up/late.mp3", "audio/mpeg", max_size=100, expires_in=1)
    await asyncio.sleep(2.2)
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(url)).status_code == 403
    assert (await post_form(upload, b"late")).status_code == 403
    assert await s3.stat("up/late.mp3") is None


async def test_public_url_uses_the_public_base_url(s3_settings):  # noqa: F811
    table = {**s3_settings, "key_prefix": "prod/", "public_base_url": "https://cdn.example.com/media/"}
    async with started(table) as backend:
        assert await backend.url("renders/a b.mp3", 60, public=True) == \
            "https://cdn.example.com/media/prod/renders/a%20b.mp3"
        private = await backend.url("renders/a b.mp3", 60)
        assert private.startswith(s3_settings["endpoint_url"]) and "X-Amz-Signature=" in private
    async with started(s3_settings) as backend:
        # No public base URL configured: even a public request gets a presigned URL.
        assert "X-Amz-Signature=" in await backend.url("renders/a.mp3", 60, public=True)


# -- ranges ------------------------------------------------------------------------------


async def test_range_reads_return_the_right_bytes(s3):
    data = os.urandom(2 * MiB + 123)
    size = len(data)
    await s3.put("r/data.bin", chunked(data), "application/octet-stream")
    assert await read_all(s3, "r/data.bin", 0, 0) == data[:1]
    assert await read_all(s3, "r/data.bin", size - 1, size - 1) == data[-1:]
    assert await read_all(s3, "r/data.bin", 1000, 1_500_000) == data[1000:1_500_001]
    assert await read_all(s3, "r/data.bin", size - 500, size - 1) == data[-500:]  # bytes=-500
    chunks = [chunk async for chunk in s3.open_range("r/data.bin", 0, size - 1)]
    assert max(len(chunk) for chunk in chunks) <= MiB and len(chunks) >= 3


async def test_reading_a_missing_object_fails_clearly(s3):
    with pytest.raises(FileNotFoundError):
        await read_all(s3, "nothing/here.bin", 0, 10)


# -- multipart -------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_multipart_put_streams_with_bounded_memory(s3_settings):  # noqa: F811
    part = 5 * MiB
    total = 20 * MiB + 12345
    table = {**s3_settings, "part_size": part, "multipart_threshold": part}
    sent = hashlib.sha256()
    peak = {"rss": 0}

    async def generate():
        produced = 0
        while produced < total:
            chunk = os.urandom(min(256 * 1024, total - produced))
            produced += len(chunk)
            sent.update(chunk)
            peak["rss"] = max(peak["rss"], rss_bytes())
            yield chunk

    async with started(table) as backend:
        baseline = rss_bytes()
        stat = await backend.put("big/song.flac", generate(), "audio/flac", size=total)
        assert stat.size == total
        assert stat.etag.endswith("-5")  # S3's multipart ETag: 4 full parts + the rest
        assert peak["rss"] - baseline < 3 * part
        received = hashlib.sha256()
        async for chunk in backend.open_range("big/song.flac", 0, total - 1):
            received.update(chunk)
        assert received.hexdigest() == sent.hexdigest()


async def test_failed_multipart_put_leaves_no_upload_behind(s3_settings):  # noqa: F811
    table = {**s3_settings, "part_size": 5 * MiB, "multipart_threshold": 5 * MiB}

    async def dies_after_two_parts():
        for _ in range(11):
            yield b"\0" * MiB
        raise ConnectionResetError("client went away")

    async with started(table) as backend:
        with pytest.raises(ConnectionResetError):
            await backend.put("big/broken.bin", dies_after_two_parts(), "application/octet-stream")
        assert await backend.stat("big/broken.bin") is None
        pending = await backend._call("list_multipart_uploads", Bucket=backend.bucket)
        assert pending.get("Uploads", []) == []


async def test_cancelled_put_aborts_the_multipart_upload(s3_settings):  # noqa: F811
    table = {**s3_settings, "part_size": 5 * MiB, "multipart_threshold": 5 * MiB}
    two_parts_sent = asyncio.Event()

    async def stalls_after_two_parts():
        for index in range(12):
            if index == 11:
                two_parts_sent.set()
                await asyncio.sleep(3600)  # a client that stops sending
            yield b"\1" * MiB

    async with started(table) as backend:
        task = asyncio.create_task(
            backend.put("big/stalled.bin", stalls_after_two_parts(), "application/octet-stream"))
        await two_parts_sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await backend.stat("big/stalled.bin") is None
        pending = await backend._call("list_multipart_uploads", Bucket=backend.bucket)
        assert pending.get("Uploads", []) == []


# -- delete_prefix batches ---------------------------------------------------------------


async def test_delete_prefix_deletes_in_batches(s3_settings):  # noqa: F811
    async with started(s3_settings, delete_batch=7) as backend:
        keys = [f"hls/track/seg{i:03d}.ts" for i in range(30)]
        await asyncio.gather(*(backend.put(key, chunked(b"x"), "video/mp2t") for key in keys))
        await backend.put("hls/other/keep.ts", chunked(b"x"), "video/mp2t")
        batches = []
        original = backend._delete_batch

        async def recording(batch):
            batches.append(len(batch))
            return await original(batch)

        backend._delete_batch = recording
        assert await backend.delete_prefix("hls/track/") == 30
        assert batches == [7, 7, 7, 7, 2]
        assert await keys_listed(backend) == ["hls/other/keep.ts"]


# -- outages ---------------------------------------------------------------------------


async def test_start_against_a_closed_port_fails_clearly(s3_settings):  # noqa: F811
    endpoint = f"http://127.0.0.1:{closed_port()}"
    backend = S3Storage.from_settings(options(s3_settings, endpoint_url=endpoint))
    with pytest.raises(StorageUnavailable) as error:
        await backend.start()
    assert error.value.status == 503
    assert endpoint in error.value.message and "unreachable" in error.value.message
    await backend.close()


async def test_start_with_wrong_credentials_or_missing_bucket_fails_clearly(s3_settings):  # noqa: F811
    backend = S3Storage.from_settings(options(s3_settings, secret_access_key="wrong"))
    with pytest.raises(StorageUnavailable) as error:
        await backend.start()
    assert "check access_key_id and secret_access_key" in error.value.message
    await backend.close()
    backend = S3Storage.from_settings(options(s3_settings, create_bucket=False))
    with pytest.raises(StorageUnavailable) as error:
        await backend.start()
    assert "bucket does not exist" in error.value.message
    await backend.close()


class TcpRelay:
    """A TCP relay in front of the S3 server that the test can switch off: the endpoint
    "goes down" while the backend is running."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.streams: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _relay(self, reader, writer):
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.streams |= {writer, upstream_writer}

        async def pipe(source, sink):
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(Exception):
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def stop(self) -> None:
        self.server.close()
        for stream in self.streams:
            stream.close()
        await self.server.wait_closed()


async def test_operations_while_the_endpoint_is_down_raise_storage_unavailable(s3_settings):  # noqa: F811
    relay = TcpRelay(urlsplit(s3_settings["endpoint_url"]).port)
    port = await relay.start()
    async with started({**s3_settings, "endpoint_url": f"http://127.0.0.1:{port}"}) as backend:
        await backend.put("k/a.bin", chunked(b"stored while up"), "application/octet-stream")
        await relay.stop()
        with pytest.raises(StorageUnavailable):
            await backend.put("k/b.bin", chunked(b"x" * 1000), "application/octet-stream")
        with pytest.raises(StorageUnavailable):
            await backend.put("k/c.bin", chunked(os.urandom(9 * MiB)), "application/octet-stream")
        with pytest.raises(StorageUnavailable):
            await backend.stat("k/a.bin")
        with pytest.raises(StorageUnavailable):
            await read_all(backend, "k/a.bin", 0, 3)
        with pytest.raises(StorageUnavailable):
            await backend.delete("k/a.bin")
        with pytest.raises(StorageUnavailable):
            await backend.delete_prefix("k/")
        with pytest.raises(StorageUnavailable):
            await keys_listed(backend)


# -- the documentation ---------------------------------------------------------------------


def test_every_s3_example_in_the_docs_is_valid():
    import re
    import tomllib
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "storage.md").read_text()
    examples = [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", text, re.S)]
    tables = [table for example in examples
              for table in example.get("storage", {}).values()
              if isinstance(table, dict) and table.get("type") == "s3" and "bucket" in table]
    assert len(tables) == 5  # AWS, R2, Spaces, MinIO, SeaweedFS
    for table in tables:
        secrets = {k: "from-the-env" for k, v in table.items() if isinstance(v, dict) and "env" in v}
        S3Storage.from_settings(options(table, **secrets))
