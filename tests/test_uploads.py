"""Uploads through the ingest API: real audio stored with its hash, refusals that keep nothing, flat memory."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import os
import random
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Epilogue, Field, File

from mediahub.models import MediaObject
from mediahub.plugins import import_path
from mediahub.testing import guest
from mediahub.uploads import STREAM_CHUNK, BoundedBody, MultipartReader
from tests.support.multipart import BOUNDARY, end, form_headers, multipart, part_head

PROBE_PATH = Path(__file__).parent / "plugins" / "upload_probe.py"
probe = import_path("upload_probe", PROBE_PATH)

EXPECTED_TYPES = {
    "tone_id3.mp3": "audio/mpeg", "tone_bare.mp3": "audio/mpeg", "tone_cover.mp3": "audio/mpeg",
    "tone.wav": "audio/wav", "tone.flac": "audio/flac", "tone_opus.ogg": "audio/ogg",
    "tone_vorbis.ogg": "audio/ogg", "tone.m4a": "audio/mp4", "tone.aac": "audio/aac",
    "tone.webm": "audio/webm",
}


@pytest.fixture
async def app(mediahub_app_factory, tmp_path):
    probe.received.clear()
    overrides = {
        "server": {"max_upload_bytes": 2 * 1024 * 1024},
        "storage": {"default": "local",
                    "local": {"type": "local-disk", "root": str(tmp_path / "media")},
                    "broken": {"type": "probe-failing", "fail_after": 100_000}},
    }
    return await mediahub_app_factory(plugins=[("upload-probe", probe)], overrides=overrides)


class GuestClient:
    """The app's test client, signed in as a guest (bearer token: no CSRF token needed)."""

    def __init__(self, client, headers: dict[str, str]):
        self.client, self.auth = client, headers

    def _headers(self, headers):
        return {**self.auth, **(headers or {})}

    async def put(self, path, *, headers=None, **kwargs):
        return await self.client.put(path, headers=self._headers(headers), **kwargs)

    async def post(self, path, *, headers=None, **kwargs):
        return await self.client.post(path, headers=self._headers(headers), **kwargs)

    def request(self, path, *, headers=None, **kwargs):
        return self.client.request(path, headers=self._headers(headers), **kwargs)


@pytest.fixture
async def client(app):
    client = app.test_client()
    return GuestClient(client, await guest(client))


def media_root(app) -> Path:
    return Path(app.extensions["mediahub"].storage.get("local").root)


def files_under(root: Path) -> list[Path]:
    """Every file, temp files of unfinished writes included."""
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def assert_nothing_kept(app) -> None:
    assert await MediaObject.all().count() == 0
    assert files_under(media_root(app)) == []
    assert app.extensions["mediahub"].storage.get("broken").objects == {}
    assert probe.received == []


def wav_header(data_size: int) -> bytes:
    """A valid 44.1 kHz mono 16-bit WAV header for data_size bytes of samples."""
    fmt = (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (44100).to_bytes(4, "little") \
        + (88200).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    return (b"RIFF" + (36 + data_size).to_bytes(4, "little") + b"WAVE" + b"fmt "
            + (16).to_bytes(4, "little") + fmt + b"data" + data_size.to_bytes(4, "little"))


async def check_stored(app, body: dict, data: bytes, content_type: str) -> None:
    assert body["state"] == "stored"
    assert body["content_type"] == content_type
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    row = await MediaObject.get(id=body["id"])
    assert (row.state, row.size, row.sha256, row.content_type) == (
        "stored", len(data), body["sha256"], content_type)
    assert body["key"].startswith("uploads/") and "/" not in body["key"][len("uploads/"):]
    assert (media_root(app) / body["key"]).read_bytes() == data


# -- accepted uploads ---------------------------------------------------------------------


async def test_raw_uploads_of_every_audio_type_are_stored_with_hash_and_type(app, client, samples):
    for name, content_type in EXPECTED_TYPES.items():
        data = samples[name]
        # The client's claim is irrelevant: the bytes decide.
        response = await client.put("/probe/raw", data=data, headers={
            "Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        body = await response.get_json()
        assert response.status_code == 201, (name, body)
        await check_stored(app, body, data, content_type)
        assert body["key"].endswith("." + body["key"].rsplit(".", 1)[1])
    assert await MediaObject.filter(state="stored").count() == len(EXPECTED_TYPES)


async def test_multipart_uploads_of_every_audio_type_keep_the_fields_around_the_file(app, client, samples):
    for name, content_type in EXPECTED_TYPES.items():
        data = samples[name]
        body_bytes = multipart([("title", None, "Tone ♪".encode()),
                                ("file", "../../etc/passwd.exe", data),
                                ("format", None, b"ok")])[0]
        response = await client.post("/probe/multipart", data=body_bytes,
                                     headers=form_headers(body=body_bytes))
        body = await response.get_json()
        assert response.status_code == 201, (name, body)
        assert body["fields"] == {"title": "Tone ♪", "format": "ok"}
        await check_stored(app, body["media"], data, content_type)


async def test_a_chunked_multipart_upload_split_everywhere_is_stored_intact(app, client, samples):
    data = samples["tone_cover.mp3"]  # its ID3 tag is bigger than the first 64 KiB
    body_bytes = multipart([("file", "a.mp3", data), ("format", None, b"ok")])[0]
    async with client.request("/probe/multipart", method="POST", headers=form_headers()) as connection:
        # Odd chunk sizes split the boundary, the headers and the CRLFs in every way.
        for start in range(0, len(body_bytes), 4093):
            await connection.send(body_bytes[start:start + 4093])
        await connection.send_complete()
    response = await connection.as_response()
    body = await response.get_json()
    assert response.status_code == 201, body
    await check_stored(app, body["media"], data, "audio/mpeg")


async def test_a_body_over_quarts_default_limit_arriving_in_pieces_is_stored_intact(app, client):
    # Content-Length above MAX_CONTENT_LENGTH (1 MiB) but within the upload cap: the bytes
    # that arrive before the route raises the limit must not be lost.
    size = 1536 * 1024
    data = wav_header(size) + os.urandom(size)
    async with client.request("/probe/raw", method="PUT",
                              headers={"Content-Length": str(len(data))}) as connection:
        await connection.send(data[:44])
        for start in range(44, len(data), 100_000):
            await connection.send(data[start:start + 100_000])
        await connection.send_complete()
    response = await connection.as_response()
    body = await response.get_json()
    assert response.status_code == 201, body
    await check_stored(app, body, data, "audio/wav")


async def test_upload_received_is_called_once_with_the_stored_row(app, client, samples):
    data = samples["tone.flac"]
    response = await client.put("/probe/raw?purpose=render", data=data)
    body = await response.get_json()
    assert response.status_code == 201
    assert probe.received == [(body["id"], "stored", "render")]


async def test_allowed_types_are_enforced(app, client, samples):
    response = await client.put("/probe/raw?allowed=mp3", data=samples["tone.wav"])
    assert response.status_code == 415
    assert "mp3" in (await response.get_json())["error"]["message"]
    await assert_nothing_kept(app)
    response = await client.put("/probe/raw?allowed=audio/wav", data=samples["tone.wav"])
    assert response.status_code == 201


# -- refused uploads keep nothing ---------------------------------------------------------


async def test_a_png_claiming_to_be_mp3_is_refused_with_415(app, client):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + os.urandom(5000)
    response = await client.put("/probe/raw", data=png, headers={"Content-Type": "audio/mpeg"})
    assert response.status_code == 415
    assert (await response.get_json())["error"]["code"] == "unsupported_media_type"
    body_bytes = multipart([("file", "song.mp3", png), ("format", None, b"ok")])[0]
    response = await client.post("/probe/multipart", data=body_bytes, headers=form_headers(body=body_bytes))
    assert response.status_code == 415
    await assert_nothing_kept(app)


async def test_an_empty_body_is_refused(app, client):
    response = await client.put("/probe/raw", data=b"")
    assert response.status_code == 415
    await assert_nothing_kept(app)


async def test_over_the_cap_with_content_length_is_refused_before_reading(app, client):
    size = 3 * 1024 * 1024
    data = wav_header(size) + bytes(size)
    response = await client.put("/probe/raw", data=data, headers={"Content-Length": str(len(data))})
    assert response.status_code == 413
    assert (await response.get_json())["error"]["code"] == "payload_too_large"
    await assert_nothing_kept(app)


async def test_over_the_cap_with_a_chunked_body_is_refused_and_nothing_is_kept(app, client):
    async with client.request("/probe/raw", method="PUT", headers={"Content-Type": "audio/wav"}) as connection:
        await connection.send(wav_header(10 * 1024 * 1024))
        for _ in range(12):  # 3 MiB against a 2 MiB cap, no Content-Length anywhere
            await connection.send(bytes(256 * 1024))
        await connection.send_complete()
    response = await connection.as_response()
    assert response.status_code == 413
    await assert_nothing_kept(app)


async def test_over_the_cap_within_a_chunked_multipart_body(app, client):
    async with client.request("/probe/multipart", method="POST", headers=form_headers()) as connection:
        await connection.send(part_head("file", "a.wav") + wav_header(10 * 1024 * 1024))
        for _ in range(12):
            await connection.send(bytes(256 * 1024))
        await connection.send(b"\r\n" + end())
        await connection.send_complete()
    response = await connection.as_response()
    assert response.status_code == 413
    await assert_nothing_kept(app)


async def test_a_body_shorter_than_its_content_length_is_not_kept(app, client, samples):
    data = samples["tone.wav"]
    response = await client.put("/probe/raw", data=data, headers={"Content-Length": str(len(data) + 10)})
    assert response.status_code == 400
    await assert_nothing_kept(app)


async def test_upload_validate_refusal_gives_its_status_and_keeps_nothing(app, client, samples):
    response = await client.put("/probe/raw?purpose=refuse", data=samples["tone_id3.mp3"])
    assert response.status_code == 403
    assert (await response.get_json())["error"] == {"code": "upload_rejected",
                                                    "message": "this purpose is refused"}
    await assert_nothing_kept(app)


async def test_a_crashing_upload_validate_is_a_json_500_and_keeps_nothing(app, client, samples):
    response = await client.put("/probe/raw?purpose=crash", data=samples["tone_id3.mp3"])
    assert response.status_code == 500
    assert (await response.get_json())["error"]["code"] == "internal_error"
    await assert_nothing_kept(app)


async def test_storage_failing_mid_write_is_503_and_nothing_is_left(app, client, samples):
    data = samples["tone_cover.mp3"]
    assert len(data) > 100_000  # past the failing backend's breaking point
    response = await client.put("/probe/raw?backend=broken", data=data)
    assert response.status_code == 503
    assert (await response.get_json())["error"]["code"] == "storage_unavailable"
    await assert_nothing_kept(app)
    # A small file on the same backend goes through: the failure was the backend's, not ours.
    response = await client.put("/probe/raw?backend=broken", data=samples["tone.aac"])
    assert response.status_code == 201


async def test_a_bad_field_after_the_file_discards_the_stored_file(app, client, samples):
    body_bytes = multipart([("file", "a.mp3", samples["tone_id3.mp3"]), ("format", None, b"bad")])[0]
    response = await client.post("/probe/multipart", data=body_bytes, headers=form_headers(body=body_bytes))
    assert response.status_code == 400
    assert "format" in (await response.get_json())["error"]["message"]
    await assert_nothing_kept(app)


@pytest.mark.parametrize("case", ["no boundary", "not multipart", "missing file", "garbage",
                                  "truncated after file", "huge field", "endless part headers",
                                  "too many parts"])
async def test_malformed_multipart_is_a_clear_400(app, client, samples, case):
    audio = samples["tone.wav"]
    headers = form_headers()
    if case == "no boundary":
        body = multipart([("file", "a.wav", audio)])[0]
        headers = {"Content-Type": "multipart/form-data"}
    elif case == "not multipart":
        body = multipart([("file", "a.wav", audio)])[0]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    elif case == "missing file":
        body = multipart([("format", None, b"ok"), ("other", "a.wav", audio)])[0]
    elif case == "garbage":
        body = os.urandom(4096)
    elif case == "truncated after file":
        body = multipart([("file", "a.wav", audio), ("format", None, b"ok")])[0][:-40]
    elif case == "huge field":
        body = multipart([("file", "a.wav", audio), ("format", None, b"x" * 100_000)])[0]
    elif case == "too many parts":
        body = multipart([("file", "a.wav", audio)] + [(f"f{i}", None, b"x") for i in range(40)])[0]
    else:
        body = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\n".encode() \
            + b"X-Padding: " + b"a" * 200_000
    response = await client.post("/probe/multipart", data=body, headers=headers)
    error = (await response.get_json())["error"]
    assert response.status_code in (400, 413), (case, error)
    assert response.status_code == (413 if case == "huge field" else 400), (case, error)
    expected_words = {"no boundary": "boundary", "not multipart": "multipart/form-data",
                      "missing file": "missing file field", "garbage": "multipart",
                      "truncated after file": "multipart", "huge field": "format",
                      "endless part headers": "multipart", "too many parts": "form fields"}
    assert expected_words[case] in error["message"], (case, error)
    await assert_nothing_kept(app)


def near_delimiters(boundary: bytes, size: int, seed: int) -> bytes:
    """File data strewn with line breaks and things that are almost a delimiter."""
    rng = random.Random(seed)
    marker = b"--" + boundary
    lookalikes = [b"\r", b"\n", b"\r\n", b"\r\n-", b"\r\n--", marker, marker[:-1],
                  b"\r\n" + marker[:-1], b"\n" + marker[:5], b"\r\n" + marker + b"x", b"x" + marker]
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(rng.choice([1, 30, 500, 70_000]))
        out += rng.choice(lookalikes)
    return bytes(out)


async def read_form(chunks, boundary: bytes) -> dict[str, bytes]:
    reader = MultipartReader(chunks, boundary)
    parts = {}
    while not isinstance(event := await reader.next_event(), Epilogue):
        if isinstance(event, (File, Field)):
            parts[event.name] = b"".join([piece async for piece in reader.part_data()])
    return parts


async def pieces(body: bytes, cuts: list[int]):
    for start, stop in zip([0, *cuts], [*cuts, len(body)]):
        yield body[start:stop]


@pytest.mark.parametrize("seed", range(6))
async def test_multipart_file_data_full_of_lookalike_delimiters_comes_out_intact(seed):
    # Part data is handed on from the body's chunks while no delimiter can be in them, and
    # by werkzeug's decoder where one may be: every split of a lookalike between chunks
    # must give the same bytes back.
    boundary = BOUNDARY.encode()
    data = near_delimiters(boundary, 600_000, seed)
    body = multipart([("title", None, b"x"), ("file", "a.wav", data), ("after", None, b"ok")])[0]
    rng = random.Random(seed)
    cuts, start = [], 0
    while (start := start + rng.choice([7, 61, 4096, 65_536, 65_536, 200_000])) < len(body):
        cuts.append(start)
    parts = await read_form(pieces(body, cuts), boundary)
    assert parts == {"title": b"x", "file": data, "after": b"ok"}


async def test_a_delimiter_split_anywhere_after_a_large_chunk_ends_the_part_there():
    boundary = BOUNDARY.encode()
    data, after = os.urandom(300_000), os.urandom(100_000)
    body = multipart([("file", "a.wav", data), ("after", "b.wav", after)])[0]
    closing = body.index(b"\r\n--" + boundary, 200_000)
    for offset in range(-4, len(boundary) + 10):
        # The first chunk goes through the decoder, the second (large) one is handed on
        # directly up to where the delimiter may start, the third (no whole delimiter in
        # it) completes it.
        cuts = [100_000, closing + offset, closing + offset + 1000]
        parts = await read_form(pieces(body, cuts), boundary)
        assert parts == {"file": data, "after": after}, offset


async def test_a_client_that_disconnects_mid_upload_leaves_nothing(app, client, samples):
    async with client.request("/probe/raw", method="PUT") as connection:
        await connection.send(wav_header(4 * 1024 * 1024) + bytes(STREAM_CHUNK + 100_000))
        # Let the handler sniff, write the pending row and start storing.
        for _ in range(200):
            await asyncio.sleep(0.01)
            if await MediaObject.all().count():
                break
        assert await MediaObject.filter(state="pending").count() == 1
        await connection.disconnect()
    await assert_nothing_kept(app)


async def test_a_client_that_stalls_mid_upload_gets_408_and_nothing_is_kept(app, client, monkeypatch):
    monkeypatch.setattr("mediahub.uploads.IDLE_TIMEOUT", 0.3)
    async with client.request("/probe/raw", method="PUT") as connection:
        await connection.send(wav_header(4 * 1024 * 1024) + bytes(STREAM_CHUNK + 100_000))
        # ...and then nothing more, without hanging up.
        for _ in range(500):
            await asyncio.sleep(0.01)
            if connection.status_code is not None:
                break
        await connection.send_complete()
    response = await connection.as_response()
    assert response.status_code == 408
    assert (await response.get_json())["error"]["code"] == "request_timeout"
    await assert_nothing_kept(app)


# -- Quart's own body handling still works behind the bounded connection ------------------


async def test_json_and_forms_still_work(app, client):
    response = await client.post("/probe/echo-json", json={"hello": "wörld"})
    assert (response.status_code, await response.get_json()) == (200, {"hello": "wörld"})
    response = await client.post("/probe/echo-form", form={"a": "1", "b": "two"})
    assert (response.status_code, await response.get_json()) == (200, {"a": "1", "b": "two"})
    # A JSON body bigger than the back-pressure high-water mark still arrives whole.
    big = {"items": ["x" * 100] * 8000}
    response = await client.post("/probe/echo-json", json=big)
    assert (response.status_code, await response.get_json()) == (200, big)


async def test_a_chunked_json_body_over_max_content_length_is_413(app, client):
    async with client.request("/probe/echo-json", method="POST",
                              headers={"Content-Type": "application/json"}) as connection:
        await connection.send(b'{"a": "')
        for _ in range(40):  # 2.5 MiB against MAX_CONTENT_LENGTH = 1 MiB, no Content-Length
            await connection.send(b"x" * 64 * 1024)
        await connection.send(b'"}')
        await connection.send_complete()
    response = await connection.as_response()
    assert response.status_code == 413


async def test_the_body_buffer_pauses_above_its_high_water_mark():
    body = BoundedBody(None, None)
    body.append(bytes(BoundedBody.high_water - 1))
    assert body.room.is_set()
    body.append(b"xx")
    assert not body.room.is_set()  # the connection stops reading from the client here
    assert len(await body.__anext__()) == BoundedBody.high_water + 1
    assert body.room.is_set()


async def test_a_streaming_consumer_gets_large_chunks():
    body = BoundedBody(None, None)
    body.min_chunk = 1000
    waiting = asyncio.ensure_future(body.__anext__())
    for _ in range(3):
        body.append(bytes(300))
        await asyncio.sleep(0)
        assert not waiting.done()  # 900 bytes: not worth handing on yet
    body.append(bytes(300))
    assert len(await waiting) == 1200
    body.append(bytes(50))
    body.set_complete()
    assert [len(chunk) async for chunk in body] == [50]  # the end is handed on whatever its size


async def test_the_body_cap_counts_every_byte_not_just_the_buffered_ones():
    body = BoundedBody(None, 1000)
    body.append(bytes(400))
    await body.__anext__()
    body.append(bytes(400))
    await body.__anext__()  # consumed: Quart's Body would forget these 800 bytes
    body.append(bytes(400))
    assert not body.room.is_set()  # over the cap: nothing more is read from the client
    with pytest.raises(RequestEntityTooLarge):
        await body.__anext__()


async def test_a_route_can_raise_the_cap_without_losing_what_already_arrived():
    body = BoundedBody(5000, 1000)  # Content-Length above the app-wide default
    assert not body.room.is_set()
    body.set_limit(10_000)
    assert body.room.is_set()
    body.append(b"RIFF")
    body.append(bytes(4996))
    body.set_complete()
    assert b"".join([chunk async for chunk in body]) == b"RIFF" + bytes(4996)


async def test_awaiting_an_oversized_body_is_413_even_while_paused():
    body = BoundedBody(None, 1000)
    body.append(bytes(1500))
    with pytest.raises(RequestEntityTooLarge):
        await body


# -- a real server: memory stays flat whatever the body size -------------------------------

SERVER_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from mediahub.app import create_app
    from mediahub.plugins import import_path
    from mediahub.testing import make_settings

    probe = import_path("upload_probe", Path(sys.argv[1]))
    settings = make_settings(Path(sys.argv[2]), {"server": {"max_upload_bytes": 1 << 30}})
    app = create_app(settings, extra_plugins=[("upload-probe", probe)])
    config = Config()
    config.bind = [f"fd://{sys.argv[3]}"]
    config.accesslog = None
    asyncio.run(serve(app, config))
""")


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def put_wav(port: int, data_size: int, chunk_size: int = 1024 * 1024) -> tuple[int, dict]:
    import json

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    header = wav_header(data_size)
    connection.putrequest("PUT", "/probe/raw")
    connection.putheader("Content-Type", "audio/wav")
    connection.putheader("Content-Length", str(len(header) + data_size))
    connection.endheaders()
    connection.send(header)
    chunk = bytes(chunk_size)
    remaining = data_size
    while remaining:
        piece = chunk if remaining >= chunk_size else chunk[:remaining]
        connection.send(piece)
        remaining -= len(piece)
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    return response.status, body


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """mediahub with the probe plugin under Hypercorn in its own process: (port, pid, data dir)."""
    data_dir = tmp_path_factory.mktemp("real-server") / "data"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(PROBE_PATH), str(data_dir), str(listener.fileno())],
        pass_fds=[listener.fileno()])
    listener.close()  # the server holds it: connections queue until it is ready
    try:
        yield port, server.pid, data_dir
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_large_upload_to_a_real_server_keeps_memory_flat(real_server):
    port, pid, data_dir = real_server
    # A first small upload warms everything up (imports, database, thread pool).
    status, body = put_wav(port, 1024 * 1024)
    assert status == 201, body
    before = peak_rss_kib(pid)
    size = 256 * 1024 * 1024
    status, body = put_wav(port, size)
    assert status == 201, body
    assert body["size"] == size + 44
    growth_mib = (peak_rss_kib(pid) - before) / 1024
    # Quart's own body buffering grows by 60-300 MiB here (DESIGN.md); bounded, a few MiB.
    assert growth_mib < 24, f"peak RSS grew by {growth_mib:.1f} MiB for a 256 MiB upload"
    assert (data_dir / "media" / body["key"]).stat().st_size == size + 44


def test_a_refused_large_upload_gets_its_answer_while_still_sending(real_server):
    # 64 MiB of PNG announced with Content-Length: refused from its first bytes. The client
    # must get the 415 instead of hanging mid-send (Hypercorn waits for the app to take
    # the body messages it queued, even after the response).
    import threading

    port, _, _ = real_server
    size = 64 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"PUT /probe/raw HTTP/1.1\r\nHost: test\r\nContent-Type: audio/mpeg\r\n"
                     f"Content-Length: {size}\r\n\r\n".encode())

        def send_body():
            block = b"\x89PNG\r\n\x1a\n" + bytes(1024 * 1024 - 8)
            with contextlib.suppress(OSError):  # the server may close once it has answered
                for _ in range(size // len(block)):
                    sock.sendall(block)

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
        assert response.startswith(b"HTTP/1.1 415"), response[:200]
        with contextlib.suppress(OSError):  # the server may have closed the connection already
            sock.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=60)
        assert not sender.is_alive()
