"""The hostile-input catalogue's shared pieces (tests/hostile_input/): payloads, the shared app's
world and its limits, the forms of the ingest routes, and the checks every section makes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import uuid
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import unquote

from mediahub.models import Job, MediaObject
from mediahub.testing import login
from mediahub_cloudinary_temp.models import TempUpload
from mediahub_hls_transcode.models import Track
from mediahub_listen_party.models import Party, PartyTrack
from mediahub_s3_renders.models import Message, Render, Thread
from tests.support.hls import post_presigned, wait_for_status
from tests.support.multipart import multipart
from tests.support.party import wav_bytes


KiB = 1024
MAX_UPLOAD = 256 * KiB  # [server] max_upload_bytes of the shared app
LIBRARY_BODY_CAP = 64 * KiB  # [plugins.library_sync] max_body_bytes of the shared app
JSON_CAP = 1024 * KiB  # the app-wide cap on bodies that are not uploads
MAX_SECONDS = 600  # max_duration_seconds of renders and hls tracks in the shared app
DECODE_WAIT = 1.0  # [server] decode_wait of the shared app
SCRIPT = "<script>alert('pwned')</script>"


# -- payloads ------------------------------------------------------------------------------


def wav_of(data_size: int) -> bytes:
    """A valid WAV header for data_size bytes of silence, then the silence (real audio)."""
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_size) + bytes(data_size))


# Bytes that are not audio, each under a name and a Content-Type that say they are.
LIES = {
    "plain text named .mp3": ("song.mp3", b"hello, this is plain text\n" * 50),
    "html with a script named .wav": ("song.wav", b"<!doctype html><html><script>alert(1)</script>" * 20),
    "png image named .flac": ("song.flac", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(2000)),
    "zip archive named .mp3": ("song.mp3", b"PK\x03\x04\x14\x00\x00\x00" + bytes(2000)),
    "elf executable named .flac": ("song.flac", b"\x7fELF\x02\x01\x01" + bytes(2000)),
    "pdf named .wav": ("song.wav", b"%PDF-1.7\n" + bytes(2000)),
    "riff avi named .wav": ("song.wav", b"RIFF" + struct.pack("<I", 2000) + b"AVI LIST" + bytes(2000)),
    "truncated id3 header": ("song.mp3", b"ID3\x04\x00\x00\x00\x10\x00\x00"),
    "id3 tag then html": ("song.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"<html>" * 300),
    "two bytes of an mp3 frame": ("song.mp3", b"\xff\xfb"),
    "empty file": ("song.mp3", b""),
}


# The three routes that ingest a file themselves: (path, form parts around the file).
def renders_form(filename: str, data: bytes):
    return "/api/v1/upload/audio", [("format", None, b"mp3"), ("file", filename, data)]


def party_form(filename: str, data: bytes):
    return "/api/upload-track", [("audio", filename, data), ("filename", None, filename.encode())]


def temp_form(filename: str, data: bytes):
    return "/api/temp-upload/upload-temp", [("audio", filename, data), ("sessionId", None, b"hostile-1"),
                                            ("songTitle", None, b"lie")]


INGEST_ROUTES = {"renders upload": renders_form, "party upload-track": party_form,
                 "temp upload": temp_form}


# -- the shared world ----------------------------------------------------------------------


async def error_of(response, status: int, code: str | set[str] | None = None) -> dict:
    """Assert the one JSON error shape with this status (and code); return the error."""
    raw = await response.get_data()
    assert response.status_code == status, (response.status_code, raw[:500])
    assert response.mimetype == "application/json", (response.mimetype, raw[:200])
    error = json.loads(raw)["error"]
    assert set(error) == {"code", "message"} and error["message"], error
    if code is not None:
        codes = {code} if isinstance(code, str) else code
        assert error["code"] in codes, error
    return error


def files_under(root: Path) -> list[str]:
    """Every file (temp files of unfinished writes included), relative to root."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


class World:
    """One started app, three signed-in users, and resources alice owns."""

    def __init__(self, app, root: Path, outside: Path):
        self.app = app
        self.host = app.extensions["mediahub"]
        self.client = app.test_client()
        self.root = root
        self.outside = outside  # a file next to the storage root that must never be served

    async def snapshot(self) -> dict:
        """Everything a refused request must leave as it was."""
        counts = {}
        for model in (MediaObject, Render, Message, Thread, PartyTrack, Party, TempUpload, Track, Job):
            counts[model.__name__] = await model.all().count()
        stored = sorted(row.key for row in await MediaObject.all())
        return {"rows": counts, "keys": stored, "files": files_under(self.root)}

    async def upload(self, route, filename: str, data: bytes, who: dict):
        path, parts = route(filename, data)
        body, headers = multipart(parts)
        return await self.client.post(path, data=body, headers={**who, **headers})

    async def chunked(self, method: str, path: str, who: dict, headers: dict, pieces):
        """A request whose body has no Content-Length (sent in pieces)."""
        async with self.client.request(path, method=method, headers={**who, **headers}) as connection:
            for piece in pieces:
                await connection.send(piece)
            await connection.send_complete()
        return await connection.as_response()


def shared_overrides(root: Path) -> dict:
    return {
        "server": {"max_upload_bytes": MAX_UPLOAD, "decode_wait": DECODE_WAIT},
        "storage": {"default": "local", "local": {"type": "local-disk", "root": str(root)}},
        "plugins": {
            # Guessing is tried by its own test (with its own app); here a few wrong codes
            # among hundreds of cases must not lock the shared client out.
            "listen_party": {"code_misses_per_minute": 1000, "message_burst": 20},
            "library_sync": {"max_body_bytes": LIBRARY_BODY_CAP},
            "s3_renders": {"max_duration_seconds": MAX_SECONDS},
            "hls_transcode": {"max_duration_seconds": MAX_SECONDS},
        },
        "jobs": {"retry_backoff": 0, "max_tries": 1},
    }


async def build_world(app, root: Path, outside: Path) -> World:
    world = World(app, root, outside)
    client = world.client
    world.alice = await login(client, "alice")
    world.bob = await login(client, "bob")
    world.carol = await login(client, "carol")
    # alice's things: a private thread (bob is a member, carol is not) with a message and
    # an attached render, a render not attached yet, a party with a track, a temp upload,
    # an hls track, a library playlist.
    response = await client.post("/api/v1/threads", headers=world.alice,
                                 json={"title": "alice's", "is_private": True, "members": ["bob"]})
    world.thread = await response.get_json()
    response = await client.post(f"/api/v1/threads/{world.thread['id']}/messages", headers=world.alice,
                                 json={"text": "hello"})
    world.message = await response.get_json()
    audio = world.render_bytes = wav_of(16000)
    world.render = await (await world.upload(wav_render_form, "a.wav", audio, world.alice)).get_json()
    assert "id" in world.render, world.render
    response = await client.post(f"/api/v1/messages/{world.message['id']}/renders",
                                 headers=world.alice, json={"render": {"id": world.render["id"]}})
    assert response.status_code == 200, await response.get_data()
    world.loose_render = await (await world.upload(wav_render_form, "b.wav", audio, world.alice)).get_json()
    response = await client.post("/api/parties", headers=world.alice, json={"name": "alice's party"})
    world.party = await response.get_json()
    world.track_bytes = wav_bytes(0.5)
    world.track = await (await world.upload(party_form, "t.wav", world.track_bytes, world.alice)).get_json()
    assert world.track.get("ok"), world.track
    world.temp_bytes = wav_of(9000)
    response = await world.upload(temp_form, "s.wav", world.temp_bytes, world.alice)
    world.temp = await response.get_json()
    assert response.status_code == 200, world.temp
    response = await client.post("/tracks/upload/init", headers=world.alice, json={
        "title": "t", "artist_name": "a", "file_extension": "wav", "file_size": 100})
    world.hls = await response.get_json()
    assert response.status_code == 200, world.hls
    response = await client.put("/api/me/playlists", headers=world.alice, json={"playlists": [
        {"id": "pl_alice", "name": "alice's list", "songs": [{"videoId": "abc"}]}]})
    library = await response.get_json()
    assert response.status_code == 200, library
    world.playlist_id = library["playlist_id_map"]["pl_alice"]
    return world


def wav_render_form(filename: str, data: bytes):
    return "/api/v1/upload/audio", [("format", None, b"wav"), ("file", filename, data)]


@contextlib.asynccontextmanager
async def database_url(kind: str) -> AsyncIterator[str | None]:
    """None for the embedded SQLite, else a fresh PostgreSQL database dropped afterwards
    (skipped, with the reason, when MEDIAHUB_TEST_POSTGRES_URL is not set)."""
    if kind == "sqlite":
        yield None
        return
    import asyncpg

    from tests.support.databases import postgres_server_url, with_database

    server = postgres_server_url()
    admin_url = server.replace("postgres://", "postgresql://", 1)
    name = f"mediahub_hostile_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(server, name)
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


class nothing_stored:
    """`async with nothing_stored(world):` the block must store (and delete) nothing."""

    def __init__(self, world: World):
        self.world = world

    async def __aenter__(self):
        self.before = await self.world.snapshot()

    async def __aexit__(self, kind, error, traceback):
        if kind is None:
            assert await self.world.snapshot() == self.before


async def hls_init(world, who, size: int, extension: str = "mp3") -> dict:
    response = await world.client.post("/tracks/upload/init", headers=who, json={
        "title": "t", "artist_name": "a", "file_extension": extension, "file_size": size})
    body = await response.get_json()
    assert response.status_code == 200, body
    return body


def presigned_form(init: dict, data: bytes, fields: dict | None = None, filename: str = "x.mp3"):
    fields = fields if fields is not None else init["audio_upload_fields"]
    return multipart([(name, None, str(value).encode()) for name, value in fields.items()]
                     + [("file", filename, data)])


PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
HTML = b"<!doctype html><html><script>alert(1)</script></html>"


async def fetch_bytes(world: World, url: str) -> tuple[bytes, str]:
    if url.startswith("/"):
        response = await world.client.get(url)
        return await response.get_data(), response.headers.get("Content-Type", "")
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.get(url)
        return response.content, response.headers.get("Content-Type", "")


async def reuse_presigned_upload_after_complete(world: World, who: dict) -> bool:
    """Issue 13.1: upload checked audio and artwork, complete, then post HTML through the
    same policies. Nothing checked, transcoded or served may change; True if the storage
    refused the second posts itself (local-disk), False if it stored them where nobody reads."""
    audio = wav_of(8000)
    response = await world.client.post("/tracks/upload/init", headers=who, json={
        "title": "t", "artist_name": "a", "file_extension": "wav", "file_size": len(audio),
        "artwork_extension": "png"})
    init = await response.get_json()
    assert response.status_code == 200, init
    for which, data in (("audio", audio), ("artwork", PNG)):
        status, body = await post_presigned(world.client, init[f"{which}_upload_url"],
                                            init[f"{which}_upload_fields"], data)
        assert status in (200, 201, 204), body
    response = await world.client.post("/tracks/upload/complete", headers=who,
                                       json={"track_id": init["track_id"]})
    assert response.status_code == 200, await response.get_data()
    refused = []
    for which, data in (("audio", HTML + bytes(len(audio) - len(HTML))), ("artwork", HTML)):
        status, body = await post_presigned(world.client, init[f"{which}_upload_url"],
                                            init[f"{which}_upload_fields"], data)
        refused.append(status == 403)
        assert status in (200, 201, 204, 403), body
    final = await wait_for_status(world.client, who, init["track_id"])
    assert final["status"] == "completed", final
    track = await Track.get(id=init["track_id"])
    storage = world.host.storage.get(track.backend)
    stored = b"".join([chunk async for chunk in storage.open_range(track.audio_key, 0, len(audio) - 1)])
    assert stored == audio
    detail = await (await world.client.get(f"/api/tracks/{track.id}", headers=who)).get_json()
    served, content_type = await fetch_bytes(world, detail["artwork_url"])
    assert (served, content_type) == (PNG, "image/png")
    response = await world.client.delete(f"/api/tracks/{track.id}", headers=who)
    assert response.status_code == 200
    assert [info.key async for info in storage.list(track.prefix)] == []
    return all(refused)


TOO_LARGE = {"payload_too_large"}


def pieces(data: bytes, size: int = 64 * KiB):
    return [data[i:i + size] for i in range(0, len(data), size)]


def fill(world: World, path: str) -> str:
    return path.format(thread=world.thread["id"], message=world.message["id"],
                       code=world.party["code"])


HUGE = "9" * 30
ENORMOUS = "9" * 5000  # more digits than Python's int() converts by default

# Range header -> what must be answered: ("all", status 200), ("bytes", first, last) with 206
# (negative numbers count from the end), or ("416",) with `Content-Range: bytes */size`.
RANGES = {
    "no range": (None, ("all",)),
    "bytes=abc": ("bytes=abc", ("all",)),
    "bytes=5-1 (last before first)": ("bytes=5-1", ("all",)),
    "bytes=-0 (empty suffix)": ("bytes=-0", ("416",)),
    "bytes=0-huge": (f"bytes=0-{HUGE}", ("bytes", 0, -1)),
    "bytes=huge-": (f"bytes={HUGE}-", ("416",)),
    "bytes=-huge (suffix longer than the file)": (f"bytes=-{HUGE}", ("bytes", 0, -1)),
    "bytes=enormous-": (f"bytes={ENORMOUS}-", ("416",)),
    "bytes=0-enormous": (f"bytes=0-{ENORMOUS}", ("bytes", 0, -1)),
    "bytes=-enormous": (f"bytes=-{ENORMOUS}", ("bytes", 0, -1)),
    "1000 disjoint ranges": ("bytes=" + ",".join(f"{2 * n}-{2 * n}" for n in range(1000)), ("all",)),
    "65 touching ranges": ("bytes=" + ",".join(f"{n}-{n}" for n in range(65)), ("all",)),
    "two overlapping ranges": ("bytes=0-9,5-19", ("bytes", 0, 19)),
    "two disjoint ranges": ("bytes=0-9,20-29", ("all",)),
    "items=0-1 (another unit)": ("items=0-1", ("all",)),
    "bytes (no =)": ("bytes", ("all",)),
    "bytes=- ": ("bytes=-", ("all",)),
    "bytes=0x10-20": ("bytes=0x10-20", ("all",)),
    "bytes=+1-2": ("bytes=+1-2", ("all",)),
    "bytes=1.5-2": ("bytes=1.5-2", ("all",)),
    "bytes=-10 (suffix)": ("bytes=-10", ("bytes", -10, -1)),
    "bytes=-1 (last byte)": ("bytes=-1", ("bytes", -1, -1)),
    "bytes=0-0 (first byte)": ("bytes=0-0", ("bytes", 0, 0)),
    "bytes=size- (just past the end)": ("bytes={size}-", ("416",)),
    "bytes=size-1- (the last byte)": ("bytes={last}-", ("bytes", -1, -1)),
    "bytes=0-size (end past the end)": ("bytes=0-{size}", ("bytes", 0, -1)),
    "8 KiB of spaces and commas": ("bytes=" + " ," * 4096 + "0-3", ("bytes", 0, 3)),
}


async def check_range(world: World, url: str, who: dict, data: bytes, header, expected) -> None:
    size = len(data)
    headers = dict(who)
    if header is not None:
        headers["Range"] = header.format(size=size, last=size - 1)
    response = await world.client.get(url, headers=headers)
    assert response.headers["Accept-Ranges"] == "bytes"
    if expected[0] == "416":
        await error_of(response, 416, "range_not_satisfiable")
        assert response.headers["Content-Range"] == f"bytes */{size}"
        return
    body = await response.get_data()
    if expected[0] == "all":
        assert response.status_code == 200 and body == data
        assert "Content-Range" not in response.headers
        return
    first, last = (n % size for n in expected[1:])
    assert response.status_code == 206, body[:200]
    assert body == data[first:last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert response.headers["Content-Length"] == str(last - first + 1)


async def raw_request(app, method: str, target: str, headers: dict | None = None,
                      body: bytes = b"") -> tuple[int, dict, bytes]:
    """Send `target` exactly as written (no client-side normalising or quoting), as Hypercorn would
    hand it over: `path` percent-decoded, `raw_path` untouched."""
    raw_path, _, query = target.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": unquote(raw_path), "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"), "root_path": "",
        "headers": [(b"host", b"localhost")] + [(k.lower().encode(), v.encode("latin-1"))
                                                for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 40000), "server": ("localhost", 80), "extensions": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), 30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode("latin-1") for k, v in start["headers"]}, data


def assert_json_error(status: int, headers: dict, body: bytes, expected: int,
                      code: str | set[str]) -> None:
    assert status == expected, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["code"] in ({code} if isinstance(code, str) else code) and error["message"], error
    assert b"TOP-SECRET" not in body


def fill_ids(world: World, text: str) -> str:
    return text.format(temp=world.temp["publicId"], loose=world.loose_render["id"],
                       render=world.render["id"], message=world.message["id"],
                       thread=world.thread["id"], code=world.party["code"],
                       hls=world.hls["track_id"], track=world.track["trackId"])


def fill_body(world: World, value):
    if isinstance(value, dict):
        return {key: fill_body(world, item) for key, item in value.items()}
    return fill_ids(world, value) if isinstance(value, str) else value


# -- WebSocket helpers (the party socket) --------------------------------------------------


def socket_of(world: World, code: str, who: dict):
    token = who["Authorization"].split()[1]
    return world.client.websocket(f"/ws/party/{code}?access_token={token}")


async def send(socket, **message) -> None:
    await socket.send(json.dumps(message))


# (method, path template, whether the body may be left out, a valid body, its text fields)
JSON_ROUTES = {
    "guest": ("POST", "/api/auth/guest", True, {"display_name": "x"}, ["display_name"]),
    "register": ("POST", "/api/auth/register", False,
                 {"username": "someone", "password": "correct horse battery"}, ["username", "password"]),
    "login": ("POST", "/api/auth/login", False,
              {"username": "bob", "password": "wrong password!"}, ["username", "password"]),
    "refresh": ("POST", "/api/auth/token/refresh", False, {"refresh_token": "x"}, ["refresh_token"]),
    "logout": ("POST", "/api/auth/logout", True, {"refresh_token": "x"}, ["refresh_token"]),
    "create thread": ("POST", "/api/v1/threads", False, {"title": "t"}, ["title"]),
    "post message": ("POST", "/api/v1/threads/{thread}/messages", False, {"text": "t"}, ["text"]),
    "attach render": ("POST", "/api/v1/messages/{message}/renders", False,
                      {"render": {"id": "{loose}"}, "token": "x"}, ["token"]),
    "create party": ("POST", "/api/parties", True, {"name": "p"}, ["name"]),
    "join party": ("POST", "/api/parties/{code}/join", True, {"display_name": "d"}, ["display_name"]),
    "hls init": ("POST", "/tracks/upload/init", False,
                 {"title": "t", "artist_name": "a", "file_extension": "mp3", "file_size": 10},
                 ["title", "artist_name", "file_extension"]),
    "hls complete": ("POST", "/tracks/upload/complete", False, {"track_id": "x"}, ["track_id"]),
    "library sync": ("POST", "/api/me/library/sync", False, {"device_id": "d"}, ["device_id"]),
    "favorites": ("PUT", "/api/me/favorites", False, {"favorites": [], "device_id": "d"}, ["device_id"]),
    "history": ("PUT", "/api/me/history", False, {"history": [], "device_id": "d"}, ["device_id"]),
    "queue": ("PUT", "/api/me/queue", False, {"queue": [], "device_id": "d"}, ["device_id"]),
    "playlists": ("PUT", "/api/me/playlists", False, {"playlists": [], "device_id": "d"}, ["device_id"]),
    "preferences": ("PUT", "/api/me/preferences", False, {"preferences": {}, "device_id": "d"}, ["device_id"]),
    "recent searches": ("PUT", "/api/me/recent-searches", False,
                        {"recent_searches": [], "device_id": "d"}, ["device_id"]),
    "session ping": ("POST", "/api/me/session/ping", False, {"session_id": "s"}, ["session_id"]),
}
