"""Range and conditional responses: the pure rules, the /media/ gateway, and a real server."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import time

import pytest
from quart import Blueprint

from mediahub import hookimpl
from mediahub.app import create_app
from mediahub.host import current_host
from mediahub.models import MediaObject
from mediahub.storage import ObjectStat
from mediahub.streaming import (ByteRange, Unsatisfiable, http_date, media_response,
                                parse_range, play_url, plan_response)
from mediahub.testing import make_settings
from mediahub_local_disk.backend import LocalDiskStorage
from tests.support.ports import free_port
from tests.support.storage_contract import chunked

MiB = 1024 * 1024
STAT = ObjectStat(key="a.mp3", size=1000, etag="abc", last_modified=1_700_000_000.0,
                  content_type="audio/mpeg")


# --------------------------------------------------------------------------------------
# parse_range
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("header,expected", [
    ("bytes=0-99", ByteRange(0, 99)),
    ("bytes=0-", ByteRange(0, 999)),
    ("bytes=500-", ByteRange(500, 999)),
    ("bytes=-500", ByteRange(500, 999)),
    ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the object is all of it
    ("bytes=990-5000", ByteRange(990, 999)),  # clipped at the end
    ("bytes=999-999", ByteRange(999, 999)),
    ("BYTES = 1-2", ByteRange(1, 2)),
    ("bytes=0-9, 10-19", ByteRange(0, 19)),  # adjacent ranges coalesce
    ("bytes=0-50,20-30", ByteRange(0, 50)),  # overlapping ranges coalesce
    ("bytes=0-9,5000-6000", ByteRange(0, 9)),  # the unsatisfiable one is dropped
])
def test_parse_range_selects_bytes(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", [
    None, "", "bytes", "bytes=", "bytes=-", "bytes=abc", "bytes=5-1", "items=0-1",
    "bytes=0-1-2", "bytes=1 -2", "bytes=+1-2", "bytes=0x1-2", "bytes=١-٢",
    "bytes=0-9,20-29",  # disjoint ranges: the whole object with 200, not multipart
    "bytes=" + ",".join(f"{n}-{n}" for n in range(100)),  # too many ranges
])
def test_parse_range_ignores_what_it_cannot_use(header):
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0",
                                    "bytes=1000-1000,2000-"])
def test_parse_range_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_parse_range_on_an_empty_object():
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)
    assert parse_range("bytes=-10", 0) is None  # the whole (empty) object, with 200


# --------------------------------------------------------------------------------------
# plan_response
# --------------------------------------------------------------------------------------


def headers_of(plan) -> dict[str, str]:
    return dict(plan.headers)


def test_plan_whole_object():
    plan = plan_response("GET", {}, STAT)
    assert plan.status == 200 and plan.send_body and plan.byte_range is None
    headers = headers_of(plan)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == "1000"
    assert headers["ETag"] == '"abc"'
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert "Content-Range" not in headers


def test_plan_suffix_range():
    plan = plan_response("GET", {"range": "bytes=-100"}, STAT)
    assert plan.status == 206 and plan.byte_range == ByteRange(900, 999)
    assert headers_of(plan)["Content-Range"] == "bytes 900-999/1000"
    assert headers_of(plan)["Content-Length"] == "100"
    assert headers_of(plan)["Accept-Ranges"] == "bytes"


def test_plan_unsatisfiable():
    plan = plan_response("GET", {"range": "bytes=1000-"}, STAT)
    assert plan.status == 416 and not plan.send_body
    assert headers_of(plan)["Content-Range"] == "bytes */1000"
    assert headers_of(plan)["Accept-Ranges"] == "bytes"
    assert plan.error[0] == "range_not_satisfiable"


def test_plan_garbage_range_is_ignored():
    plan = plan_response("GET", {"range": "bytes=oops"}, STAT)
    assert plan.status == 200 and headers_of(plan)["Content-Length"] == "1000"


def test_plan_multiple_disjoint_ranges_send_everything():
    plan = plan_response("GET", {"range": "bytes=0-1,500-501"}, STAT)
    assert plan.status == 200 and plan.byte_range is None


def test_plan_zero_length_object():
    empty = ObjectStat(key="e", size=0, etag="e0", last_modified=1.0)
    plan = plan_response("GET", {}, empty)
    assert plan.status == 200 and not plan.send_body
    assert headers_of(plan)["Content-Length"] == "0"
    assert plan_response("GET", {"range": "bytes=0-"}, empty).status == 416
    assert headers_of(plan_response("GET", {"range": "bytes=0-"}, empty))["Content-Range"] == "bytes */0"


def test_plan_head_ignores_range_but_sends_the_same_headers():
    plan = plan_response("HEAD", {"range": "bytes=0-9"}, STAT)
    assert plan.status == 200 and headers_of(plan)["Content-Length"] == "1000"


@pytest.mark.parametrize("headers", [
    {"if-none-match": '"abc"'},
    {"if-none-match": 'W/"abc"'},
    {"if-none-match": '"zzz", "abc"'},
    {"if-none-match": "*"},
    {"if-modified-since": http_date(1_700_000_000)},
    {"if-modified-since": http_date(1_800_000_000)},
])
def test_plan_not_modified(headers):
    plan = plan_response("GET", {**headers, "range": "bytes=0-9"}, STAT)
    assert plan.status == 304 and not plan.send_body
    assert headers_of(plan)["ETag"] == '"abc"'
    assert headers_of(plan)["Accept-Ranges"] == "bytes"
    assert "Content-Length" not in headers_of(plan)


@pytest.mark.parametrize("headers", [
    {"if-none-match": '"other"'},
    {"if-modified-since": http_date(1_600_000_000)},
    {"if-modified-since": "not a date"},
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    {"if-none-match": '"other"', "if-modified-since": http_date(1_800_000_000)},
])
def test_plan_modified(headers):
    assert plan_response("GET", headers, STAT).status == 200


def test_plan_if_range():
    ranged = {"range": "bytes=0-9"}
    assert plan_response("GET", {**ranged, "if-range": '"abc"'}, STAT).status == 206
    assert plan_response("GET", {**ranged, "if-range": '"stale"'}, STAT).status == 200
    assert plan_response("GET", {**ranged, "if-range": 'W/"abc"'}, STAT).status == 200
    assert plan_response("GET", {**ranged, "if-range": http_date(1_700_000_000)}, STAT).status == 206
    assert plan_response("GET", {**ranged, "if-range": http_date(1_600_000_000)}, STAT).status == 200
    assert plan_response("GET", {**ranged, "if-range": "garbage"}, STAT).status == 200
    # A stale If-Range also turns a would-be 416 into the whole object.
    stale = {"range": "bytes=5000-", "if-range": '"stale"'}
    assert plan_response("GET", stale, STAT).status == 200


def test_plan_preconditions():
    assert plan_response("GET", {"if-match": '"abc"'}, STAT).status == 200
    assert plan_response("GET", {"if-match": '"zzz"'}, STAT).status == 412
    old = http_date(1_600_000_000)
    assert plan_response("GET", {"if-unmodified-since": old}, STAT).status == 412


# --------------------------------------------------------------------------------------
# The /media/ gateway through the app
# --------------------------------------------------------------------------------------

PAYLOAD = os.urandom(3 * MiB + 123)


@pytest.fixture
async def app(mediahub_app_factory):
    return await mediahub_app_factory()


async def stored_url(app, key: str, data: bytes, expires_in: int = 300) -> str:
    """`data` stored under `key` on the app's default backend; its signed /media/ URL."""
    storage = app.extensions["mediahub"].storage.default
    await storage.put(key, chunked(data, MiB), "audio/mpeg")
    return await storage.url(key, expires_in)


@pytest.fixture
async def media_url(app):
    return await stored_url(app, "tracks/song.mp3", PAYLOAD)


async def test_gateway_serves_the_whole_object(app, media_url):
    response = await app.test_client().get(media_url)
    assert response.status_code == 200
    assert await response.get_data() == PAYLOAD
    assert response.headers["Content-Type"] == "audio/mpeg"
    assert response.headers["Content-Length"] == str(len(PAYLOAD))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"]


@pytest.mark.parametrize("header,start,end", [
    ("bytes=0-0", 0, 0),
    ("bytes=-500", len(PAYLOAD) - 500, len(PAYLOAD) - 1),
    ("bytes=1048570-", 1048570, len(PAYLOAD) - 1),
    ("bytes=100-2097251", 100, 2097251),
])
async def test_gateway_ranges(app, media_url, header, start, end):
    response = await app.test_client().get(media_url, headers={"Range": header})
    assert response.status_code == 206
    assert await response.get_data() == PAYLOAD[start:end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(PAYLOAD)}"
    assert response.headers["Accept-Ranges"] == "bytes"


async def test_gateway_unsatisfiable_range(app, media_url):
    response = await app.test_client().get(media_url, headers={"Range": f"bytes={len(PAYLOAD)}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(PAYLOAD)}"
    assert response.headers.getlist("Accept-Ranges") == ["bytes"]
    assert (await response.get_json())["error"]["code"] == "range_not_satisfiable"


async def raw_asgi(app, method: str, url: str, headers: dict[str, str] = {}):
    """(status, headers, body) exactly as the app sent them (the test client recomputes
    Content-Length from the body it received, which hides what a HEAD answered)."""
    path, _, query = url.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80),
             "headers": [(b"host", b"localhost")] + [(k.lower().encode(), v.encode())
                                                     for k, v in headers.items()]}
    sent = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never goes away

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


async def test_gateway_head(app, media_url):
    status, headers, body = await raw_asgi(app, "HEAD", media_url)
    assert status == 200
    assert headers["content-length"] == str(len(PAYLOAD))
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "audio/mpeg"
    assert body == b""
    status, headers, _ = await raw_asgi(app, "HEAD", media_url, {"Range": "bytes=0-9"})
    assert status == 200 and headers["content-length"] == str(len(PAYLOAD))


async def test_gateway_conditional(app, media_url):
    client = app.test_client()
    etag = (await client.head(media_url)).headers["ETag"]
    response = await client.get(media_url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["Accept-Ranges"] == "bytes"
    assert await response.get_data() == b""
    stale = await client.get(media_url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and len(await stale.get_data()) == len(PAYLOAD)


@pytest.mark.parametrize("tamper", [
    lambda url: url.replace("sig=", "sig=0"),
    lambda url: url.replace("song.mp3", "other.mp3"),
    lambda url: url.split("?")[0],
    lambda url: url.replace("exp=", "exp=9"),
    lambda url: url.replace("/media/local/", "/media/elsewhere/"),
])
async def test_gateway_refuses_tampered_links(app, media_url, tamper):
    response = await app.test_client().get(tamper(media_url), headers={"Range": "bytes=0-9"})
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"] == "forbidden"
    assert response.headers["Accept-Ranges"] == "bytes"


async def test_gateway_refuses_expired_links(app):
    storage = app.extensions["mediahub"].storage.default
    await storage.put("tracks/old.mp3", chunked(b"x"), "audio/mpeg")
    url = await storage.url("tracks/old.mp3", -10)
    response = await app.test_client().get(url)
    assert response.status_code == 403
    assert (await response.get_json())["error"] == {"code": "forbidden", "message": "link expired"}


async def test_gateway_missing_object(app):
    storage = app.extensions["mediahub"].storage.default
    url = await storage.url("tracks/never-stored.mp3", 60)
    response = await app.test_client().get(url)
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "not_found"
    assert response.headers["Accept-Ranges"] == "bytes"


async def test_gateway_leaves_other_paths_to_the_app(app):
    assert (await app.test_client().get("/media")).status_code == 404
    response = await app.test_client().get("/media/local")
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "not_found"


# --------------------------------------------------------------------------------------
# media_response and play_url from a plugin route
# --------------------------------------------------------------------------------------


class TrackRoutePlugin:
    """A plugin route serving ledger objects, the way listen-party serves /api/track/<id>."""

    def __init__(self):
        self.started: list = []

    @hookimpl
    def register_routes(self, app):
        routes = Blueprint("test_tracks", __name__)

        @routes.route("/test/track/<media_id>", methods=["GET", "HEAD"])
        async def track(media_id):
            return await media_response(await current_host().ledger.get(media_id))

        @routes.route("/test/play/<media_id>")
        async def play(media_id):
            return {"url": await play_url(await current_host().ledger.get(media_id))}

        return [routes]

    @hookimpl
    def stream_started(self, media, user, byte_range):
        self.started.append((str(media.id), byte_range))


async def stored_media(host, key: str, data: bytes):
    media = await host.ledger.begin(backend="local", key=key, purpose="track",
                                    content_type="audio/mpeg")
    stat = await host.storage.default.put(key, chunked(data), "audio/mpeg")
    return await host.ledger.finalise(media, size=stat.size, sha256=hashlib.sha256(data).hexdigest())


async def test_media_response_from_a_plugin_route(mediahub_app_factory):
    plugin = TrackRoutePlugin()
    app = await mediahub_app_factory(plugins=[("tracks", plugin)])
    media = await stored_media(app.extensions["mediahub"], "t/song.mp3", PAYLOAD)
    client = app.test_client()

    whole = await client.get(f"/test/track/{media.id}")
    assert whole.status_code == 200 and await whole.get_data() == PAYLOAD
    assert whole.headers["Accept-Ranges"] == "bytes"
    suffix = await client.get(f"/test/track/{media.id}", headers={"Range": "bytes=-10"})
    assert suffix.status_code == 206 and await suffix.get_data() == PAYLOAD[-10:]
    assert suffix.headers["Content-Range"] == f"bytes {len(PAYLOAD) - 10}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
    beyond = await client.get(f"/test/track/{media.id}", headers={"Range": "bytes=99999999-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(PAYLOAD)}"
    assert (await beyond.get_json())["error"]["code"] == "range_not_satisfiable"
    status, headers, body = await raw_asgi(app, "HEAD", f"/test/track/{media.id}")
    assert (status, headers["content-length"], body) == (200, str(len(PAYLOAD)), b"")
    not_modified = await client.get(f"/test/track/{media.id}",
                                    headers={"If-None-Match": whole.headers["ETag"]})
    assert not_modified.status_code == 304
    missing = await client.get("/test/track/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert (await missing.get_json())["error"]["code"] == "not_found"

    assert plugin.started == [(str(media.id), None),
                              (str(media.id), ByteRange(len(PAYLOAD) - 10, len(PAYLOAD) - 1))]


class BytesBackend:
    """Not a configured storage backend: what a plugin's own files look like to media_response."""

    async def stat(self, key):
        return ObjectStat(key, len(PAYLOAD), "v1", 1_700_000_000.0) if key == "song" else None

    async def open_range(self, key, start, end):
        yield PAYLOAD[start:end + 1]


async def test_media_response_serves_a_plugins_own_backend_with_the_same_rules(mediahub_app_factory):
    class OwnFiles:
        @hookimpl
        def register_routes(self, app):
            routes = Blueprint("own_files", __name__)

            @routes.get("/test/own/<key>")
            async def own(key):
                described = MediaObject(backend="own", key=key, state="stored", content_type="audio/ogg")
                return await media_response(described, backend=BytesBackend())

            return [routes]

    app = await mediahub_app_factory(plugins=[("own", OwnFiles())])
    client = app.test_client()
    part = await client.get("/test/own/song", headers={"Range": "bytes=2-5"})
    assert part.status_code == 206 and await part.get_data() == PAYLOAD[2:6]
    assert part.headers["Content-Type"] == "audio/ogg" and part.headers["ETag"] == '"v1"'
    assert (await client.get("/test/own/song", headers={"If-None-Match": '"v1"'})).status_code == 304
    assert (await client.get("/test/own/song", headers={"Range": f"bytes={len(PAYLOAD)}-"})).status_code == 416
    assert (await client.get("/test/own/other")).status_code == 404


async def test_play_url_is_a_signed_link_unless_a_plugin_offers_one(mediahub_app_factory):
    class CdnPlugin:
        @hookimpl
        def stream_url(self, media, user):
            return "https://cdn.example/x.mp3" if media.key.startswith("cdn/") else None

    app = await mediahub_app_factory(plugins=[("tracks", TrackRoutePlugin()), ("cdn", CdnPlugin())])
    host = app.extensions["mediahub"]
    local = await stored_media(host, "t/a.mp3", b"ID3 local")
    remote = await stored_media(host, "cdn/b.mp3", b"ID3 cdn")
    client = app.test_client()
    url = (await (await client.get(f"/test/play/{local.id}")).get_json())["url"]
    assert url.startswith("/media/local/t/a.mp3?")
    assert await (await client.get(url)).get_data() == b"ID3 local"
    assert (await (await client.get(f"/test/play/{remote.id}")).get_json())["url"] == \
        "https://cdn.example/x.mp3"


# --------------------------------------------------------------------------------------
# A real Hypercorn server: aborted downloads stop reading, slow ones are never cut
# --------------------------------------------------------------------------------------


class CountingDisk(LocalDiskStorage):
    """Local disk that counts the bytes it reads and notes when a read is abandoned.
    Without the sendfile fast path, so that its bytes go through open_range."""

    bytes_read = 0
    reads_finished: asyncio.Event
    stat_and_open = None

    async def open_range(self, key, start, end):
        try:
            async for chunk in super().open_range(key, start, end):
                CountingDisk.bytes_read += len(chunk)
                yield chunk
        finally:
            CountingDisk.reads_finished.set()


class CountingDiskPlugin(TrackRoutePlugin):
    @hookimpl
    def register_storage_backends(self):
        return {"counting-disk": CountingDisk.from_settings}



@contextlib.asynccontextmanager
async def hypercorn_server(tmp_path, configure_app=None, storage_type="counting-disk",
                           configure_server=None):
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    settings = make_settings(tmp_path / "data", {"storage": {
        "default": "local", "local": {"type": storage_type}}})
    app = create_app(settings, extra_plugins=[("counting", CountingDiskPlugin())])
    if configure_app:
        configure_app(app)
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    if configure_server:
        configure_server(config)
    stop = asyncio.Event()
    server = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        while app.extensions["mediahub"].ledger is None:  # lifespan still starting
            await asyncio.sleep(0.05)
        yield app, port
    finally:
        stop.set()
        await asyncio.wait_for(server, 30)


async def open_get(port: int, path: str, receive_buffer: int | None = None):
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4 * MiB)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    return head.decode("latin-1"), reader, writer


async def test_aborted_download_stops_reading(tmp_path):
    CountingDisk.bytes_read = 0
    CountingDisk.reads_finished = asyncio.Event()
    big = 64 * MiB
    async with hypercorn_server(tmp_path) as (app, port):
        storage = app.extensions["mediahub"].storage.default
        await storage.put("big.bin", chunked(os.urandom(MiB) * 64, MiB), "application/octet-stream")
        head, reader, writer = await open_get(port, await storage.url("big.bin", 60),
                                              receive_buffer=64 * 1024)
        assert head.startswith("HTTP/1.1 200")
        await reader.readexactly(MiB)
        writer.transport.abort()  # the listener closes the tab
        await asyncio.wait_for(CountingDisk.reads_finished.wait(), 30)
        assert CountingDisk.bytes_read < big // 2


async def test_slow_client_gets_every_byte_past_response_timeout(tmp_path):
    def short_timeout(app):
        app.config["RESPONSE_TIMEOUT"] = 1

    data = os.urandom(12 * MiB)
    async with hypercorn_server(tmp_path, short_timeout) as (app, port):
        host = app.extensions["mediahub"]
        media = await stored_media(host, "t/slow.mp3", data)
        for path in (f"/test/track/{media.id}", await host.storage.default.url("t/slow.mp3", 60)):
            head, reader, writer = await open_get(port, path, receive_buffer=64 * 1024)
            assert head.startswith("HTTP/1.1 200"), head
            received = bytearray()
            started = time.monotonic()
            while len(received) < len(data):
                chunk = await reader.read(256 * 1024)
                if not chunk:
                    break
                received += chunk
                # Read at ~4 MiB/s, so the download lasts about 3 s, well past the timeout.
                lag = len(received) / (4 * MiB) - (time.monotonic() - started)
                if lag > 0:
                    await asyncio.sleep(lag)
            writer.close()
            assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()


def record_sendfile(monkeypatch) -> list[tuple[int, int, bool]]:
    """(offset, count, every byte went out) of each body the gateway sends by sendfile,
    head and body together (`send_file_response`); a body after a head sent through
    Hypercorn (`send_file_range`) would be recorded too, with None for its head."""
    from mediahub import streaming

    sent = []
    response, body_only = streaming.send_file_response, streaming.send_file_range

    async def recording_response(raw, status, headers, block, fd, offset, count):
        result = await response(raw, status, headers, block, fd, offset, count)
        sent.append((offset, count, result))
        return result

    async def recording_range(raw, fd, offset, count):
        result = await body_only(raw, fd, offset, count)
        sent.append((offset, count, result, None))
        return result

    monkeypatch.setattr(streaming, "send_file_response", recording_response)
    monkeypatch.setattr(streaming, "send_file_range", recording_range)
    return sent


async def test_cached_bytes_go_out_by_sendfile_and_stop_when_the_client_leaves(tmp_path, monkeypatch):
    import httpx

    sent = record_sendfile(monkeypatch)
    data = os.urandom(5 * MiB + 17)
    async with hypercorn_server(tmp_path, storage_type="local-disk") as (app, port):
        url = await stored_url(app, "s/cached.bin", data)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            # Several responses on one kept-alive connection: h11's framing stays right.
            whole = await client.get(url)
            assert whole.status_code == 200 and whole.content == data
            assert whole.headers["content-type"] == "audio/mpeg"
            part = await client.get(url, headers={"Range": "bytes=5-70004"})
            assert part.status_code == 206 and part.content == data[5:70005]
            tail = await client.get(url, headers={"Range": "bytes=-3"})
            assert tail.content == data[-3:]
            assert (await client.head(url)).headers["content-length"] == str(len(data))
        assert sent == [(0, len(data), True), (5, 70000, True), (len(data) - 3, 3, True)]

        head, reader, writer = await open_get(port, url, receive_buffer=64 * 1024)
        assert head.startswith("HTTP/1.1 200")
        await reader.readexactly(MiB)
        writer.transport.abort()  # the listener closes the tab mid-download
        deadline = time.monotonic() + 30
        while len(sent) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert sent[3] == (0, len(data), False)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get(url, headers={"Range": "bytes=0-9"})).content == data[:10]


# --------------------------------------------------------------------------------------
# The sendfile fast path writes its own head: same headers, h11 and Hypercorn kept in step
# --------------------------------------------------------------------------------------


async def read_response(reader, method: str = "GET"):
    """(status, {lowercase name: [values]}, body) of the next response on a raw connection."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head[:-4].split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.lower(), []).append(value.strip())
    status = int(status_line.split(" ")[1])
    length = int(headers.get("content-length", ["0"])[0])
    no_body = method == "HEAD" or status == 304
    return status, headers, b"" if no_body else await reader.readexactly(length)


def request(url: str, method: str = "GET", **headers: str) -> bytes:
    lines = [f"{method} {url} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def eventually(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return condition()


async def test_sendfile_responses_carry_hypercorns_headers_and_keep_the_connection(tmp_path, monkeypatch):
    import h11
    from hypercorn.protocol.http_stream import ASGIHTTPState

    from mediahub import streaming

    raws = []
    real_raw = streaming.raw_http11

    def keeping(send):
        raw = real_raw(send)
        raws.append(raw)
        return raw

    monkeypatch.setattr(streaming, "raw_http11", keeping)
    sent = record_sendfile(monkeypatch)
    data = os.urandom(300_000)
    async with hypercorn_server(tmp_path, storage_type="local-disk") as (app, port):
        url = await stored_url(app, "s/fast.bin", data)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Pipelined: four requests in one write, answered in order on the one connection.
        writer.write(request(url) + request(url, "HEAD") + request(url, Range="bytes=10-19")
                     + request(url, Range="bytes=299990-"))
        status, fast, body = await read_response(reader)
        assert status == 200 and body == data
        status, slow, body = await read_response(reader, "HEAD")  # Hypercorn's own path
        assert status == 200 and body == b""
        # The same headers, each once (Date from the same second or the next).
        assert {name: values for name, values in fast.items() if name != "date"} == \
            {name: values for name, values in slow.items() if name != "date"}
        assert fast["content-length"] == [str(len(data))] and len(fast["date"]) == 1
        assert fast["server"] == ["hypercorn-h11"]
        assert "connection" not in fast  # kept alive
        status, part, body = await read_response(reader)
        assert (status, body, part["content-range"]) == (206, data[10:20], ["bytes 10-19/300000"])
        status, part, body = await read_response(reader)
        assert (status, body) == (206, data[299990:])
        etag = fast["etag"][0]
        # Then the answers that have no body (never the fast path), on the same connection.
        writer.write(request(url, If_None_Match=etag) + request(url, If_Match='"other"')
                     + request(url, Range="bytes=0-4"))
        assert (await read_response(reader))[0] == 304
        status, _, body = await read_response(reader)
        assert status == 412 and b"precondition_failed" in body
        assert (await read_response(reader))[2] == data[:5]
        assert sent == [(0, len(data), True), (10, 10, True), (299990, 10, True), (0, 5, True)]
        # After each one h11 and Hypercorn's stream are where the ordinary path leaves them.
        stream, protocol, _ = raws[-1]
        assert await eventually(lambda: protocol.connection.states
                                == {h11.CLIENT: h11.IDLE, h11.SERVER: h11.IDLE})
        assert stream.state is ASGIHTTPState.CLOSED
        assert protocol.keep_alive_requests == 7
        writer.close()


@pytest.mark.parametrize("version,extra", [("1.1", "Connection: close\r\n"), ("1.0", "")])
async def test_sendfile_response_closes_when_the_client_asked(tmp_path, monkeypatch, version, extra):
    sent = record_sendfile(monkeypatch)
    data = os.urandom(70_000)
    async with hypercorn_server(tmp_path, storage_type="local-disk") as (app, port):
        url = await stored_url(app, "s/close.bin", data)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {url} HTTP/{version}\r\nHost: x\r\n{extra}\r\n".encode())
        status, headers, body = await read_response(reader)
        assert status == 200 and body == data and headers["connection"] == ["close"]
        assert await asyncio.wait_for(reader.read(), 10) == b""  # and the server closed it
        assert sent == [(0, len(data), True)]
        writer.close()


async def test_sendfile_response_closes_at_hypercorns_request_limit(tmp_path, monkeypatch):
    def two_requests(config):
        config.keep_alive_max_requests = 2

    sent = record_sendfile(monkeypatch)
    data = os.urandom(1000)
    async with hypercorn_server(tmp_path, storage_type="local-disk",
                                configure_server=two_requests) as (app, port):
        url = await stored_url(app, "s/limit.bin", data)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request(url) + request(url, Range="bytes=1-2"))
        assert "connection" not in (await read_response(reader))[1]
        status, headers, body = await read_response(reader)
        assert (status, body, headers["connection"]) == (206, data[1:3], ["close"])
        assert await asyncio.wait_for(reader.read(), 10) == b""
        assert [count for _, count, _ in sent] == [1000, 2]
        writer.close()


def test_header_block_refuses_what_h11_would_not_send():
    from mediahub._compat.hypercorn import header_block

    good = [(b"content-type", b"audio/mpeg"), (b"content-length", b"5"), (b"etag", b'"a-b"')]
    assert header_block(good) == b'content-type: audio/mpeg\r\netag: "a-b"\r\n'
    for bad in ((b"content-type", b"audio/mpeg\r\nset-cookie: x=1"), (b"x", b"a\nb"),
                (b"Content-Type", b"audio/mpeg"), (b"x y", b"1"), (b"x", b" padded "),
                (b"x", b"nul\x00")):
        assert header_block(good + [bad]) is None, bad


async def test_a_stored_type_with_a_line_break_never_reaches_the_wire_as_a_header(tmp_path, monkeypatch):
    from mediahub_local_disk.backend import CONTENT_TYPE_XATTR

    sent = record_sendfile(monkeypatch)
    async with hypercorn_server(tmp_path, storage_type="local-disk") as (app, port):
        storage = app.extensions["mediahub"].storage.default
        await storage.put("s/evil.bin", chunked(b"x" * 100, MiB), "audio/mpeg")
        os.setxattr(os.path.join(storage.root, "s/evil.bin"), CONTENT_TYPE_XATTR,
                    b"audio/mpeg\r\nset-cookie: stolen=1")
        url = await storage.url("s/evil.bin", 60)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request(url))
        head = await asyncio.wait_for(reader.read(65536), 10)
        assert b"set-cookie" not in head.lower()
        assert sent == []  # the fast path refused it; Hypercorn's path refuses it too
        writer.close()
