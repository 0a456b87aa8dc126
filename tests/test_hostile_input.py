"""Issue 8's hostile-input catalogue: every plugin's routes against lies, floods and foreign ids.

Each case is one parametrized test whose id says what is tried, and each asserts the exact
safe outcome: the status, the JSON error code, and that nothing was stored, leaked or run.
`pytest tests/test_hostile_input.py -q` prints how many cases were tried.

Most cases share one app per database (a fresh app costs about a second; there are a
thousand cases), run once on SQLite and once on PostgreSQL. So "nothing stored" is checked
as "nothing changed": a snapshot of the ledger, the plugins' rows and the files on disk is
taken before the case and compared after it. Cases that need an app of their own (S3, the
join-code limit) come first in the file: only one app runs at a time, and the shared one
lives until the module ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import struct
import time
import uuid
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import quote, unquote, urlsplit

import pytest
import pytest_asyncio
from markupsafe import escape
from quart.testing.connections import WebsocketDisconnectError

from mediahub.models import Job, MediaObject
from mediahub.streaming import signed_media_url
from mediahub.testing import guest, login, make_settings, running_app
from mediahub_cloudinary_temp.models import TempUpload
from mediahub_hls_transcode.models import Track
from mediahub_listen_party.models import Party, PartyTrack
from mediahub_s3_renders.models import Message, Render, Thread
from tests.support.hls import post_presigned, wait_for_status
from tests.support.multipart import BOUNDARY, end, multipart, part
from tests.support.party import receive, wav_bytes

# One event loop for the whole module: the shared apps live across tests.
pytestmark = pytest.mark.asyncio(loop_scope="module")

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


# Cases that fail because of a known bug not fixed yet: `"test_name[case id]": "why"`
# (none today). strict: the day the bug is fixed, the xfail turns into a failure and the
# entry must go.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def known_failure(request):
    # The same case on either database: "test_x[sqlite-a-b]" -> "test_x[a-b]".
    case = re.sub(r"\[(sqlite|postgres)-?", "[", request.node.name).replace("[]", "")
    reason = KNOWN_FAILURES.get(case)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


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


# The whole catalogue runs on both databases: PostgreSQL refuses some text that SQLite
# stores (NUL characters), so a 500 can hide on one of them only.
@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgres"])
async def world(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"hostile_{request.param}")
    root = base / "media"
    outside = base / "outside-secret.txt"
    outside.write_text("TOP-SECRET-OUTSIDE-THE-ROOT")
    (base / "media-evil").mkdir()
    (base / "media-evil" / "x").write_text("TOP-SECRET-SIBLING")
    overrides = shared_overrides(root)
    async with database_url(request.param) as url:
        if url:
            overrides["database"] = {"url": url}
        async with running_app(make_settings(base / "data", overrides)) as app:
            yield await build_world(app, root, outside)


class nothing_stored:
    """`async with nothing_stored(world):` the block must store (and delete) nothing."""

    def __init__(self, world: World):
        self.world = world

    async def __aenter__(self):
        self.before = await self.world.snapshot()

    async def __aexit__(self, kind, error, traceback):
        if kind is None:
            assert await self.world.snapshot() == self.before


# ==========================================================================================
# 0. Cases that need an app of their own: S3, NUL text on PostgreSQL, join-code guessing
#    (placed first: only one app can run at a time, and the shared one lives to the end)
# ==========================================================================================


def s3_table(seaweedfs) -> dict:
    return {"type": "s3", "endpoint_url": seaweedfs["endpoint_url"], "region": "us-east-1",
            "bucket": f"hostile-{uuid.uuid4().hex[:16]}", "access_key_id": seaweedfs["access_key"],
            "secret_access_key": seaweedfs["secret_key"], "addressing_style": "path",
            "create_bucket": True, "max_attempts": 1,
            # Every upload is a multipart upload with the smallest parts S3 allows, so a refusal
            # in the middle of one must abort it.
            "multipart_threshold": 0, "part_size": 5 * 1024 * KiB}


S3_MAX_UPLOAD = 6 * 1024 * KiB  # more than one 5 MiB part


class S3World(World):
    """The shared world's routes, with every byte going to SeaweedFS."""

    async def snapshot(self) -> dict:
        state = await super().snapshot()
        storage = self.host.storage.default
        state["bucket"] = sorted([info.key async for info in storage.list("")])
        state["multipart uploads"] = await asyncio.to_thread(self.open_multipart_uploads)
        return state

    def open_multipart_uploads(self) -> list[str]:
        import boto3

        table = self.s3
        client = boto3.client("s3", endpoint_url=table["endpoint_url"], region_name="us-east-1",
                              aws_access_key_id=table["access_key_id"],
                              aws_secret_access_key=table["secret_access_key"])
        answer = client.list_multipart_uploads(Bucket=table["bucket"])
        return sorted(upload["Key"] for upload in answer.get("Uploads", []))


@pytest_asyncio.fixture(scope="class", loop_scope="module")
async def s3_world(seaweedfs, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile_s3")
    table = s3_table(seaweedfs)
    overrides = {"server": {"max_upload_bytes": S3_MAX_UPLOAD},
                 "storage": {"default": "s3", "s3": table},
                 "plugins": {"listen_party": {"code_misses_per_minute": 1000}},
                 "jobs": {"retry_backoff": 0, "max_tries": 1}}
    async with running_app(make_settings(base / "data", overrides)) as app:
        world = S3World(app, base / "no-local-media", base / "outside-secret.txt")
        world.s3 = table
        client = world.client
        world.alice = await guest(client, "alice")
        world.bob = await guest(client, "bob")
        world.track_bytes = wav_bytes(0.5)
        world.track = await (await world.upload(party_form, "t.wav", world.track_bytes, world.alice)).get_json()
        assert world.track.get("ok"), world.track
        yield world


class TestOnS3:
    """Refusals leave nothing in the bucket (no object, no unfinished multipart upload)."""

    @pytest.mark.parametrize("lie", ["html with a script named .wav", "zip archive named .mp3",
                                     "truncated id3 header", "empty file"])
    @pytest.mark.parametrize("route", INGEST_ROUTES)
    async def test_lying_upload(self, s3_world, route, lie):
        filename, data = LIES[lie]
        async with nothing_stored(s3_world):
            response = await s3_world.upload(INGEST_ROUTES[route], filename, data, s3_world.bob)
            await error_of(response, 415, "unsupported_media_type")

    @pytest.mark.parametrize("route", INGEST_ROUTES)
    async def test_oversize_chunked_upload(self, s3_world, route):
        # A 5 MiB part has gone up when the cap is hit: the multipart upload must be
        # aborted, not left in the bucket (billed, invisible) for ever.
        path, parts = INGEST_ROUTES[route]("big.wav", wav_of(S3_MAX_UPLOAD + 256 * KiB))
        body, headers = multipart(parts)
        async with nothing_stored(s3_world):
            response = await s3_world.chunked("POST", path, s3_world.bob, headers, pieces(body, 1024 * KiB))
            await error_of(response, 413, TOO_LARGE)

    @pytest.mark.parametrize("case", ["bytes=-10 (suffix)", "bytes=enormous-", "bytes=-enormous",
                                      "bytes=-0 (empty suffix)", "bytes=abc", "1000 disjoint ranges",
                                      "bytes=size- (just past the end)"])
    async def test_range_header_through_the_host(self, s3_world, case):
        await check_range(s3_world, s3_world.track["trackUrl"], s3_world.alice, s3_world.track_bytes,
                          RANGES[case][0], RANGES[case][1])

    async def test_presigned_upload_cannot_be_reused_after_complete(self, s3_world):
        # S3 cannot retire a policy: the second posts are stored under keys nothing reads.
        await reuse_presigned_upload_after_complete(s3_world, s3_world.bob)

    async def test_hls_complete_deletes_a_fake_file_from_the_bucket(self, s3_world):
        import httpx

        filename, data = LIES["html with a script named .wav"]
        init = await hls_init(s3_world, s3_world.bob, len(data), "wav")
        assert init["audio_upload_url"].startswith("http://127.0.0.1")  # straight to SeaweedFS
        before = await s3_world.snapshot()
        async with httpx.AsyncClient() as http:
            answer = await http.post(init["audio_upload_url"], data=init["audio_upload_fields"],
                                     files={"file": (filename, data, "audio/wav")})
        assert answer.status_code in (200, 201, 204), answer.text
        response = await s3_world.client.post("/tracks/upload/complete", headers=s3_world.bob,
                                              json={"track_id": init["track_id"]})
        await error_of(response, 415, "unsupported_media_type")
        assert await s3_world.snapshot() == before


async def test_nul_characters_in_stored_text_on_postgresql(tmp_path):
    # SQLite stores NUL characters; PostgreSQL refuses them in text (the insert raised a 500).
    async with database_url("postgres") as url:
        settings = make_settings(tmp_path / "data", {
            "database": {"url": url},
            "storage": {"default": "local", "local": {"type": "local-disk", "root": str(tmp_path / "m")}}})
        async with running_app(settings) as app:
            client = app.test_client()
            who = await guest(client, "pg")
            thread = await (await client.post("/api/v1/threads", headers=who, json={"title": "t"})).get_json()
            for path, body, status in (
                    ("/api/v1/threads", {"title": "a\x00b"}, 400),
                    ("/api/v1/threads", {"title": "t", "members": ["a\x00b"]}, 400),
                    (f"/api/v1/threads/{thread['id']}/messages", {"text": "a\x00b"}, 400),
                    ("/tracks/upload/init", {"title": "a\x00b", "file_extension": "mp3", "file_size": 10}, 400),
                    ("/tracks/upload/init", {"artist_name": "a\x00b", "file_extension": "mp3",
                                             "file_size": 10}, 400),
                    ("/tracks/upload/complete", {"track_id": "a\x00b"}, 400),
                    ("/api/auth/guest", {"display_name": "a\x00b"}, 400),
                    # No account has that name: the sign-in fails like any wrong one.
                    ("/api/auth/login", {"username": "a\x00b", "password": "whatever you like"}, 401)):
                await error_of(await client.post(path, headers=who, json=body), status)
            body, headers = multipart([("audio", "s.wav", wav_of(1000)), ("sessionId", None, b"pg-1"),
                                       ("songTitle", None, b"a\x00b")])
            response = await client.post("/api/temp-upload/upload-temp", data=body, headers={**who, **headers})
            await error_of(response, 400, "bad_request")
            assert await MediaObject.all().count() == 0


async def test_join_code_guessing_is_rate_limited(tmp_path):
    settings = make_settings(tmp_path / "data", {"plugins": {"listen_party": {"code_misses_per_minute": 10}}})
    async with running_app(settings) as app:
        client = app.test_client()
        host = await guest(client, "host")
        party = await (await client.post("/api/parties", headers=host, json={"name": "secret"})).get_json()
        statuses = []
        for attempt in range(40):  # an anonymous client trying codes, as a script would
            wrong = f"ZZZ{attempt:03d}"
            response = await client.post(f"/api/parties/{wrong}/join", json={"display_name": "guess"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                error = await error_of(response, 429, "too_many_requests")
                assert int(response.headers["Retry-After"]) >= 1 and "secret" not in error["message"]
                break
        assert 429 in statuses, statuses
        assert set(statuses[:-1]) == {404}
        # The page and the API lookup are behind the same limit, and so is the right code now.
        for path in (f"/party/{party['code']}", "/party/ZZZ999"):
            response = await client.get(path)
            assert response.status_code == 429
            assert b"secret" not in await response.get_data()
        response = await client.post(f"/api/parties/{party['code']}/join", json={"display_name": "x"})
        await error_of(response, 429, "too_many_requests")



# ==========================================================================================
# 0b. Issue 13: floods from one address (guests, anonymous joins, sign-ins across usernames),
#     each with an app of its own that has the production limits
# ==========================================================================================


@pytest_asyncio.fixture(loop_scope="module")
async def limited_app(tmp_path_factory):
    """An app with the production per-address limits (the shared one turns them off)."""
    base = tmp_path_factory.mktemp("address_limits")
    settings = make_settings(base / "data", {"auth": {"guests_per_address_per_minute": 60,
                                                      "failed_sign_ins_per_address_per_minute": 30}})
    async with running_app(settings) as app:
        yield app


def pin_minute(monkeypatch, minute: int) -> None:
    """The limits count per clock minute; pinned mid-minute, no window ends during a test."""
    from mediahub import address_limits

    monkeypatch.setattr(address_limits, "clock", lambda: minute * 60 + 30.0)


async def test_a_room_of_30_guests_behind_one_nat_gets_in_but_a_flood_does_not(limited_app, monkeypatch):
    from mediahub.models import User

    pin_minute(monkeypatch, 28_000_000)

    client = limited_app.test_client()
    host = await login(client, "nat-host")
    party = await (await client.post("/api/parties", headers=host, json={"name": "room"})).get_json()
    # 30 real guests in a few seconds, from one address: half through the API, half joining.
    for index in range(30):
        guest_client = limited_app.test_client()
        if index % 2:
            response = await guest_client.post("/api/auth/guest", json={"display_name": f"g{index}"})
            assert response.status_code == 201, await response.get_data()
        else:
            response = await guest_client.post(f"/api/parties/{party['code']}/join",
                                               json={"display_name": f"g{index}"})
            assert response.status_code == 200, await response.get_data()
    # A script goes on: the limit is reached, and no account is made past it.
    refused = None
    for _ in range(40):
        response = await limited_app.test_client().post(f"/api/parties/{party['code']}/join",
                                                        json={"display_name": "bot"})
        if response.status_code != 200:
            refused = response
            break
    assert refused is not None, "60 guests a minute from one address were all made"
    await error_of(refused, 429, "too_many_requests")
    assert int(refused.headers["Retry-After"]) >= 1
    guests = await User.filter(is_guest=True).count()
    assert guests == 60
    response = await limited_app.test_client().post("/api/auth/guest", json={})
    await error_of(response, 429, "too_many_requests")
    assert await User.filter(is_guest=True).count() == 60


async def test_failed_sign_ins_across_usernames_are_limited_per_address(limited_app, monkeypatch):
    pin_minute(monkeypatch, 28_000_010)
    client = limited_app.test_client()
    await login(client, "victim")
    statuses = []
    for index in range(31):
        response = await client.post("/api/auth/login", json={"username": f"user{index}",
                                                              "password": "wrong password!"})
        statuses.append(response.status_code)
    assert statuses[:30] == [401] * 30
    await error_of(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) >= 1
    # The right password from that address waits too: the address is what is limited.
    response = await client.post("/api/auth/login", json={"username": "victim",
                                                          "password": "correct horse battery"})
    await error_of(response, 429, "too_many_requests")


# ==========================================================================================
# 1. Uploads that lie about their type
# ==========================================================================================


@pytest.mark.parametrize("lie", LIES)
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_lying_upload_is_refused(world, route, lie):
    filename, data = LIES[lie]
    async with nothing_stored(world):
        response = await world.upload(INGEST_ROUTES[route], filename, data, world.bob)
        await error_of(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_raw_upload_body_with_an_audio_content_type(world, route):
    # Not even multipart: `Content-Type: audio/mpeg` and HTML bytes.
    path, _ = INGEST_ROUTES[route]("x.mp3", b"")
    async with nothing_stored(world):
        response = await world.client.post(path, data=b"<html>" * 100,
                                           headers={**world.bob, "Content-Type": "audio/mpeg"})
        await error_of(response, 400, "bad_request")


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


@pytest.mark.parametrize("lie", [name for name in LIES if name != "empty file"])
async def test_hls_complete_refuses_a_fake_file_and_deletes_it(world, lie):
    filename, data = LIES[lie]
    init = await hls_init(world, world.bob, len(data), filename.rpartition(".")[2])
    before = await world.snapshot()
    body, headers = presigned_form(init, data, filename=filename)
    response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
    assert response.status_code == 204  # like S3, the receiver stores any bytes its policy allows
    response = await world.client.post("/tracks/upload/complete", headers=world.bob,
                                       json={"track_id": init["track_id"]})
    await error_of(response, 415, "unsupported_media_type")
    assert await world.snapshot() == before  # the fake file is gone, no job was queued
    track = await Track.get(id=init["track_id"])
    assert track.status == "pending" and track.job_id is None


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


async def test_presigned_upload_cannot_be_reused_after_complete(world):
    assert await reuse_presigned_upload_after_complete(world, world.bob)  # local-disk refuses


async def test_hls_empty_upload_is_refused(world):
    init = await hls_init(world, world.bob, 10)
    async with nothing_stored(world):
        body, headers = presigned_form(init, b"")
        response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
        await error_of(response, 400, "bad_request")


# The receiver's lies are about its signed policy: each field changed after signing.
POLICY_TAMPERING = {
    "content_type changed to text/html": ("content_type", "text/html"),
    "key changed to another object": ("key", "uploads/someone-else.mp3"),
    "key changed to ../ outside the root": ("key", "../outside-secret.txt"),
    "key changed to an absolute path": ("key", "/etc/passwd"),
    "max_size raised": ("max_size", str(10 ** 9)),
    "exp pushed to the future": ("exp", str(int(time.time()) + 10 ** 6)),
    "exp in the past": ("exp", "1"),
    "backend changed": ("backend", "other"),
    "sig removed": ("sig", ""),
    "sig of another policy": ("sig", "0" * 64),
}


@pytest.mark.parametrize("tampering", POLICY_TAMPERING)
async def test_receiver_refuses_a_tampered_policy(world, tampering):
    init = await hls_init(world, world.bob, 1000)
    name, value = POLICY_TAMPERING[tampering]
    fields = {**init["audio_upload_fields"], name: value}
    async with nothing_stored(world):
        body, headers = presigned_form(init, wav_of(1000 - 44), fields)
        response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
        await error_of(response, 403, "forbidden")
    assert world.outside.read_text() == "TOP-SECRET-OUTSIDE-THE-ROOT"


@pytest.mark.parametrize("backend", ["nope", "..", "%2e%2e", "local%00", "local%5c..", "s3"])
async def test_receiver_refuses_unknown_backends(world, backend):
    init = await hls_init(world, world.bob, 1000)
    async with nothing_stored(world):
        body, headers = presigned_form(init, wav_of(1000 - 44))
        response = await world.client.post(f"/media/upload/{backend}", data=body, headers=headers)
        await error_of(response, 404, "not_found")


# ==========================================================================================
# 2. Oversize bodies, with a Content-Length and chunked (no Content-Length)
# ==========================================================================================

TOO_LARGE = {"payload_too_large"}
OVER_CAP = MAX_UPLOAD + 64 * KiB  # real audio, a little over the upload cap


def pieces(data: bytes, size: int = 64 * KiB):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("how", ["content-length", "chunked"])
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_oversize_upload(world, route, how):
    path, parts = INGEST_ROUTES[route]("big.wav", wav_of(OVER_CAP))
    body, headers = multipart(parts)
    async with nothing_stored(world):
        if how == "chunked":
            response = await world.chunked("POST", path, world.bob, headers, pieces(body))
        else:
            response = await world.client.post(path, data=body, headers={**world.bob, **headers})
        await error_of(response, 413, TOO_LARGE)


@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_upload_whose_content_length_alone_is_too_large(world, route):
    # 4 MiB of body: refused on the header, before a byte of the file is read.
    path, parts = INGEST_ROUTES[route]("big.wav", wav_of(4 * 1024 * KiB))
    body, headers = multipart(parts)
    async with nothing_stored(world):
        response = await world.client.post(path, data=body, headers={**world.bob, **headers})
        await error_of(response, 413, TOO_LARGE)


@pytest.mark.parametrize("how", ["content-length", "chunked"])
async def test_oversize_presigned_upload(world, how):
    # The policy allows the declared 10 000 bytes; 300 KiB arrive.
    init = await hls_init(world, world.bob, 10_000, "wav")
    body, headers = presigned_form(init, wav_of(300 * KiB), filename="x.wav")
    async with nothing_stored(world):
        if how == "chunked":
            response = await world.chunked("POST", init["audio_upload_url"], {}, headers, pieces(body))
        else:
            response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
        await error_of(response, 413, TOO_LARGE)


def big_json(size: int, field: str = "title") -> bytes:
    return json.dumps({field: "x" * size}).encode()


# (method, path, body over the cap) for JSON routes; {thread}, {message}, {code} are alice's.
OVERSIZE_JSON = {
    "guest": ("POST", "/api/auth/guest", big_json(JSON_CAP, "display_name")),
    "register": ("POST", "/api/auth/register", big_json(JSON_CAP, "username")),
    "login": ("POST", "/api/auth/login", big_json(JSON_CAP, "password")),
    "refresh": ("POST", "/api/auth/token/refresh", big_json(JSON_CAP, "refresh_token")),
    "create thread": ("POST", "/api/v1/threads", big_json(JSON_CAP)),
    "post message": ("POST", "/api/v1/threads/{thread}/messages", big_json(JSON_CAP, "text")),
    "attach render": ("POST", "/api/v1/messages/{message}/renders", big_json(JSON_CAP, "render")),
    "create party": ("POST", "/api/parties", big_json(JSON_CAP, "name")),
    "join party": ("POST", "/api/parties/{code}/join", big_json(JSON_CAP, "display_name")),
    "hls init": ("POST", "/tracks/upload/init", big_json(JSON_CAP)),
    "hls complete": ("POST", "/tracks/upload/complete", big_json(JSON_CAP, "track_id")),
    "library sync": ("POST", "/api/me/library/sync", big_json(LIBRARY_BODY_CAP, "device_id")),
    "favorites": ("PUT", "/api/me/favorites", big_json(LIBRARY_BODY_CAP, "favorites")),
    "playlists": ("PUT", "/api/me/playlists", big_json(LIBRARY_BODY_CAP, "playlists")),
    "session ping": ("POST", "/api/me/session/ping", big_json(LIBRARY_BODY_CAP, "session_id")),
}


def fill(world: World, path: str) -> str:
    return path.format(thread=world.thread["id"], message=world.message["id"],
                       code=world.party["code"])


@pytest.mark.parametrize("how", ["content-length", "chunked"])
@pytest.mark.parametrize("route", OVERSIZE_JSON)
async def test_oversize_json_body(world, route, how):
    method, path, body = OVERSIZE_JSON[route]
    headers = {"Content-Type": "application/json"}
    async with nothing_stored(world):
        if how == "chunked":
            response = await world.chunked(method, fill(world, path), world.bob, headers, pieces(body))
        else:
            response = await world.client.open(fill(world, path), method=method, data=body,
                                               headers={**world.bob, **headers})
        await error_of(response, 413, TOO_LARGE)


# ==========================================================================================
# 3. Garbage and tricky Range headers
# ==========================================================================================

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


RANGE_TARGETS = ["/media/ gateway", "/api/track/<id>", "/api/v1/renders/<id>/audio"]


async def range_target(world: World, where: str) -> tuple[str, dict, bytes]:
    """(url, headers, the stored bytes) of audio served by the /media/ gateway or a route."""
    if where == "/media/ gateway":
        return world.temp["url"], {}, world.temp_bytes
    if where == "/api/track/<id>":
        return world.track["trackUrl"], world.carol, world.track_bytes
    return f"/api/v1/renders/{world.render['id']}/audio", world.bob, world.render_bytes


@pytest.mark.parametrize("case", RANGES)
@pytest.mark.parametrize("where", RANGE_TARGETS)
async def test_range_header(world, where, case):
    url, who, data = await range_target(world, where)
    await check_range(world, url, who, data, *RANGES[case])


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


@pytest.mark.parametrize("header", ["If-Range", "If-Modified-Since", "If-Unmodified-Since",
                                    "If-None-Match", "If-Match"])
@pytest.mark.parametrize("where", RANGE_TARGETS)
async def test_garbage_conditional_headers(world, where, header):
    url, who, data = await range_target(world, where)
    response = await world.client.get(url, headers={**who, header: "\x7f garbage " + ENORMOUS,
                                                    "Range": "bytes=0-3"})
    if header == "If-Match":  # a tag that matches nothing: the precondition fails
        await error_of(response, 412, "precondition_failed")
    elif header == "If-Range":  # not this representation's: the whole file, not the range
        assert response.status_code == 200 and await response.get_data() == data
    else:  # an unreadable date or a tag that matches nothing is ignored
        assert response.status_code == 206 and await response.get_data() == data[:4]


# ==========================================================================================
# 4. Keys and ids with ../, encodings, absolute paths, NUL bytes, backslashes
# ==========================================================================================


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


# Keys as a client might smuggle them in a /media/ URL (already percent-encoded as sent).
TRAVERSAL_KEYS = {
    "../ to a file next to the root": "../outside-secret.txt",
    "../../ deeper": "../../outside-secret.txt",
    "encoded %2e%2e%2f": "%2e%2e%2foutside-secret.txt",
    "double-encoded %252e%252e%252f": "%252e%252e%252foutside-secret.txt",
    "absolute path": "/etc/passwd",
    "encoded absolute path": "%2fetc%2fpasswd",
    "NUL byte": "renders/x.mp3%00.txt",
    "backslashes": "..%5c..%5coutside-secret.txt",
    "sibling with the root as prefix": "../media-evil/x",
    "dot segments inside": "party/./../../outside-secret.txt",
    "invalid utf-8": "%ff%fe/x",
}


SIGNABLE_KEYS = [name for name, key in TRAVERSAL_KEYS.items() if "%ff" not in key]


@pytest.mark.parametrize("key", TRAVERSAL_KEYS)
async def test_media_gateway_traversal_unsigned(world, key):
    status, headers, body = await raw_request(world.app, "GET", f"/media/local/{TRAVERSAL_KEYS[key]}")
    # An undecodable key is refused before the signature is even looked at.
    expected = (404, "not_found") if key == "invalid utf-8" else (403, "forbidden")
    assert_json_error(status, headers, body, *expected)


@pytest.mark.parametrize("key", SIGNABLE_KEYS)
async def test_media_gateway_traversal_signed_by_the_server(world, key):
    # Even a URL the server itself signed (say, from a bug elsewhere) never leaves the root.
    raw_key = TRAVERSAL_KEYS[key]
    url = signed_media_url(world.host.secret_key, "local", unquote(raw_key, errors="strict"),
                           int(time.time()) + 600)
    target = f"/media/local/{raw_key}?{url.partition('?')[2]}"
    status, headers, body = await raw_request(world.app, "GET", target)
    assert_json_error(status, headers, body, 404, "not_found")


# Routes whose path parameter reaches storage or a lookup: (method, template).
ID_ROUTES = {
    "party track": ("GET", "/api/track/{}"),
    "render": ("GET", "/api/v1/renders/{}"),
    "render audio": ("GET", "/api/v1/renders/{}/audio"),
    "delete temp upload": ("DELETE", "/api/temp-upload/temp/{}"),
    "delete temp session": ("DELETE", "/api/temp-upload/session/{}"),
    "hls status": ("GET", "/tracks/upload/status/{}"),
    "hls track": ("GET", "/api/tracks/{}"),
    "hls delete": ("DELETE", "/api/tracks/{}"),
    "hls rendition playlist": ("GET", "/tracks/00000000-0000-4000-8000-000000000000/hls/{}/index.m3u8"),
    "party": ("GET", "/api/parties/{}"),
    "join party": ("POST", "/api/parties/{}/join"),
    "end party": ("POST", "/api/parties/{}/end"),
    "delete message": ("DELETE", "/api/v1/messages/{}"),
    "thread messages": ("GET", "/api/v1/threads/{}/messages"),
    "party static file": ("GET", "/party/static/{}"),
    "hls static file": ("GET", "/hls/static/{}"),
    "site static file": ("GET", "/static/{}"),
}

BAD_IDS = {
    "../": "..%2f..%2foutside-secret.txt",
    "dot-dot": "..",
    "encoded dot-dot": "%2e%2e",
    "NUL": "%00",
    "NUL in the middle": "abc%00def",
    "backslashes": "..%5c..%5coutside-secret.txt",
    "absolute": "%2fetc%2fpasswd",
    "300 characters": "a" * 300,
    "sql": "1'%20OR%20'1'%3D'1",
    "unicode dots": "%e2%80%a4%e2%80%a4",
}


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("route", ID_ROUTES)
async def test_bad_path_parameters(world, route, bad):
    method, template = ID_ROUTES[route]
    token = world.bob["Authorization"]
    async with nothing_stored(world):
        status, headers, body = await raw_request(world.app, method, template.format(BAD_IDS[bad]),
                                                  {"Authorization": token})
    if route.endswith("static file") and bad == "absolute":
        # The router merges the double slash and redirects within the same folder (then 404).
        assert status == 308 and b"TOP-SECRET" not in body
        assert urlsplit(headers["location"]).path == template.format("etc/passwd")
        return
    # The route's own "no such ..." or, when the id does not even match the route, the router's.
    assert_json_error(status, headers, body, 404, {"not_found", "track_not_found", "party_not_found"})


# ==========================================================================================
# 5. Foreign ids: bob (or carol, outside the thread) goes for alice's things
# ==========================================================================================


async def alice_intact(world: World) -> None:
    """alice's things are all still there, and still hers."""
    client, alice = world.client, world.alice
    assert await TempUpload.exists(public_id=world.temp["publicId"])
    assert (await world.client.get(world.temp["url"])).status_code == 200
    assert await Render.exists(id=world.render["id"]) and await Render.exists(id=world.loose_render["id"])
    assert (await Render.get(id=world.render["id"])).message_id == uuid.UUID(world.message["id"])
    assert (await Render.get(id=world.loose_render["id"])).message_id is None
    assert await Message.exists(id=world.message["id"]) and await Thread.exists(id=world.thread["id"])
    response = await client.get(world.track["trackUrl"], headers=alice)
    assert response.status_code == 200 and await response.get_data() == world.track_bytes
    party = await (await client.get(f"/api/parties/{world.party['code']}", headers=alice)).get_json()
    assert party["isHost"] and party["name"] == "alice's party"
    assert await Track.exists(id=world.hls["track_id"])
    library = await (await client.get("/api/me/library", headers=alice)).get_json()
    [playlist] = library["playlists"]
    assert playlist["id"] == world.playlist_id and playlist["name"] == "alice's list"
    assert [song["videoId"] for song in playlist["songs"]] == ["abc"]


# (who, method, path template, JSON body or None, status, error code); ids in {} are alice's.
FOREIGN = {
    "bob deletes alice's temp upload": (
        "bob", "DELETE", "/api/temp-upload/temp/{temp}", None, 403, "forbidden"),
    "bob deletes alice's temp session": (
        "bob", "DELETE", "/api/temp-upload/session/hostile-1", None, 403, "forbidden"),
    "bob reads alice's loose render": ("bob", "GET", "/api/v1/renders/{loose}", None, 404, "not_found"),
    "bob streams alice's loose render": (
        "bob", "GET", "/api/v1/renders/{loose}/audio", None, 404, "not_found"),
    "carol reads a render on a thread she is not in": (
        "carol", "GET", "/api/v1/renders/{render}", None, 404, "not_found"),
    "carol streams a render on a thread she is not in": (
        "carol", "GET", "/api/v1/renders/{render}/audio", None, 404, "not_found"),
    "bob attaches alice's render to alice's message": (
        "bob", "POST", "/api/v1/messages/{message}/renders", {"render": {"id": "{loose}"}}, 403, "forbidden"),
    "carol attaches to a message in a thread she is not in": (
        "carol", "POST", "/api/v1/messages/{message}/renders", {"render": {"id": "{loose}"}}, 404, "not_found"),
    "bob deletes alice's message (bob is a member)": (
        "bob", "DELETE", "/api/v1/messages/{message}", None, 403, "forbidden"),
    "carol deletes alice's message": ("carol", "DELETE", "/api/v1/messages/{message}", None, 404, "not_found"),
    "carol reads alice's private thread": ("carol", "GET", "/api/v1/threads/{thread}", None, 404, "not_found"),
    "carol lists its messages": ("carol", "GET", "/api/v1/threads/{thread}/messages", None, 404, "not_found"),
    "carol posts in it": ("carol", "POST", "/api/v1/threads/{thread}/messages", {"text": "hi"}, 404, "not_found"),
    "bob ends alice's party": ("bob", "POST", "/api/parties/{code}/end", None, 403, "not_host"),
    "bob reads alice's hls track": ("bob", "GET", "/api/tracks/{hls}", None, 404, "not_found"),
    "bob deletes alice's hls track": ("bob", "DELETE", "/api/tracks/{hls}", None, 404, "not_found"),
    "bob reads alice's upload status": ("bob", "GET", "/tracks/upload/status/{hls}", None, 404, "not_found"),
    "bob completes alice's upload": (
        "bob", "POST", "/tracks/upload/complete", {"track_id": "{hls}"}, 404, "not_found"),
    "nobody signed in reads alice's party track": ("nobody", "GET", "/api/track/{track}", None, 401, "unauthorized"),
    "nobody signed in deletes alice's message": (
        "nobody", "DELETE", "/api/v1/messages/{message}", None, 401, "unauthorized"),
}


def fill_ids(world: World, text: str) -> str:
    return text.format(temp=world.temp["publicId"], loose=world.loose_render["id"],
                       render=world.render["id"], message=world.message["id"],
                       thread=world.thread["id"], code=world.party["code"],
                       hls=world.hls["track_id"], track=world.track["trackId"])


def fill_body(world: World, value):
    if isinstance(value, dict):
        return {key: fill_body(world, item) for key, item in value.items()}
    return fill_ids(world, value) if isinstance(value, str) else value


@pytest.mark.parametrize("case", FOREIGN)
async def test_foreign_id(world, case):
    who, method, template, body, status, code = FOREIGN[case]
    headers = {"nobody": {}, "bob": world.bob, "carol": world.carol}[who]
    body = fill_body(world, body)
    async with nothing_stored(world):
        response = await world.client.open(fill_ids(world, template), method=method, json=body,
                                           headers=headers)
        await error_of(response, status, code)
    await alice_intact(world)


async def test_bob_selects_alices_track_in_his_own_party(world):
    # The track id is in alice's party's messages: bob may not play it in his own party.
    response = await world.client.post("/api/parties", headers=world.bob, json={"name": "bob's"})
    bobs = await response.get_json()
    async with socket_of(world, bobs["code"], world.bob) as host:
        snapshot = await receive(host, "SNAPSHOT")
        await send(host, t="HOST_TRACK_SELECTED", version=snapshot["version"],
                   trackId=world.track["trackId"])
        answer = await receive_one_of(host, ("ERROR", "TRACK_SELECTED"))
        assert answer["t"] == "ERROR" and answer["code"] == "no_such_track", answer
    await alice_intact(world)


async def test_bob_commands_alices_party(world):
    code = world.party["code"]
    async with socket_of(world, code, world.alice) as alice, socket_of(world, code, world.bob) as bob:
        version = (await receive(alice, "SNAPSHOT"))["version"]
        await receive(bob, "SNAPSHOT")
        for command in ({"t": "HOST_PLAY", "positionSec": 0}, {"t": "HOST_PAUSE"},
                        {"t": "HOST_SEEK", "positionSec": 99},
                        {"t": "HOST_HANDOFF", "memberId": (await bob_id(world))}):
            await send(bob, version=version, **command)
            assert (await receive(bob, "ERROR"))["code"] == "not_host"
        await send(alice, t="PING", t0=1)
        await receive(alice, "PONG")
    party = await (await world.client.get(f"/api/parties/{code}", headers=world.alice)).get_json()
    assert party["isHost"] and party["state"]["version"] == version and not party["state"]["playing"]


async def bob_id(world: World) -> str:
    return (await (await world.client.get("/api/auth/me", headers=world.bob)).get_json())["id"]


async def test_bob_overwrites_a_playlist_id_of_alices(world):
    # Playlist ids are per user: bob naming alice's server id makes (at most) a list of his own.
    response = await world.client.put("/api/me/playlists", headers=world.bob, json={"playlists": [
        {"id": world.playlist_id, "name": "hijacked", "songs": [{"videoId": "evil"}]}]})
    assert response.status_code == 200, await response.get_data()
    await alice_intact(world)
    bobs = await (await world.client.get("/api/me/library", headers=world.bob)).get_json()
    assert all(song["videoId"] != "abc" for playlist in bobs["playlists"] for song in playlist["songs"])


async def test_bob_uploading_alices_bytes_into_her_session_gets_his_own_upload(world):
    # The temp-upload dedupe found alice's copy by session and sha256: bob got her publicId
    # back (which he may not delete) and restarted her expiry clock.
    before = await TempUpload.get(public_id=world.temp["publicId"])
    response = await world.upload(temp_form, "s.wav", world.temp_bytes, world.bob)
    bobs = await response.get_json()
    assert response.status_code == 200, bobs
    try:
        assert bobs["publicId"] != world.temp["publicId"]
        mine = await TempUpload.get(public_id=bobs["publicId"])
        assert mine.uploader_id != before.uploader_id
        assert (await TempUpload.get(public_id=world.temp["publicId"])).expires_at == before.expires_at
        # bob's second copy of the same bytes is his first one again.
        again = await (await world.upload(temp_form, "s.wav", world.temp_bytes, world.bob)).get_json()
        assert again["publicId"] == bobs["publicId"]
    finally:
        response = await world.client.delete(f"/api/temp-upload/temp/{bobs['publicId']}", headers=world.bob)
        assert response.status_code == 200, await response.get_data()
    await alice_intact(world)


async def test_bob_cannot_see_alices_threads_or_tracks_in_lists(world):
    threads = await (await world.client.get("/api/v1/threads", headers=world.carol)).get_json()
    assert world.thread["id"] not in [thread["id"] for thread in threads["threads"]]
    tracks = await (await world.client.get("/api/tracks", headers=world.bob)).get_json()
    assert world.hls["track_id"] not in [track["track_id"] for track in tracks["tracks"]]
    library = await (await world.client.get("/api/me/library", headers=world.carol)).get_json()
    assert library["playlists"] == []


# -- WebSocket helpers (the party socket) --------------------------------------------------


def socket_of(world: World, code: str, who: dict):
    token = who["Authorization"].split()[1]
    return world.client.websocket(f"/ws/party/{code}?access_token={token}")




async def receive_one_of(socket, kinds: tuple[str, ...], timeout: float = 5.0) -> dict:
    async def read():
        while True:
            message = json.loads(await socket.receive())
            if message["t"] in kinds:
                return message
    return await asyncio.wait_for(read(), timeout)


async def send(socket, **message) -> None:
    await socket.send(json.dumps(message))


# ==========================================================================================
# 6. HTML and script in every text field a server page renders
# ==========================================================================================

# Payloads that break out of text, of a double- and a single-quoted attribute, and of a tag.
MARKUP = {
    "script tag": SCRIPT,
    "attribute breakout": '"><img src=x onerror=alert(1)>',
    "single-quote breakout": "'><svg onload=alert(1)>",
    "closing title": "</title><script>alert(1)</script>",
}


def assert_escaped(page: str, payload: str) -> None:
    """The payload is on the page, but only escaped (`&lt;script&gt;`): no tag of it parses."""
    assert str(escape(payload)) in page
    assert payload not in page
    for tag in ("<script>alert", "<img src=x", "<svg onload", "</title><script>"):
        if tag in payload:
            assert tag not in page


async def page_of(world: World, path: str, who: dict, status: int = 200) -> str:
    response = await world.client.get(path, headers=who)
    text = (await response.get_data()).decode()
    assert response.status_code == status, text[:300]
    assert response.mimetype == "text/html"
    return text


@pytest.mark.parametrize("payload", MARKUP)
async def test_thread_title_on_the_thread_pages(world, payload):
    markup = MARKUP[payload]
    response = await world.client.post("/api/v1/threads", headers=world.alice,
                                       json={"title": markup, "is_private": True})
    thread = await response.get_json()
    assert thread["title"] == markup  # stored as typed: escaping is the page's job
    for path in ("/threads", f"/threads/{thread['id']}"):
        assert_escaped(await page_of(world, path, world.alice), markup)


@pytest.mark.parametrize("payload", MARKUP)
async def test_party_name_on_the_party_page(world, payload):
    markup = MARKUP[payload]
    party = await (await world.client.post("/api/parties", headers=world.alice,
                                           json={"name": markup})).get_json()
    assert party["name"] == markup
    for who in (world.alice, world.bob, {}):  # the host, a guest, someone not signed in
        page = await page_of(world, f"/party/{party['code']}", who)
        assert_escaped(page, markup)


@pytest.mark.parametrize("payload", MARKUP)
async def test_display_name_in_the_page_header(world, payload):
    markup = MARKUP[payload][:64]
    response = await world.client.post("/api/auth/guest", json={"display_name": markup})
    token = (await response.get_json())["access_token"]
    who = {"Authorization": f"Bearer {token}"}
    for path in ("/", "/party", "/threads", "/library", "/tracks", "/temp-upload"):
        assert_escaped(await page_of(world, path, who), markup)


@pytest.mark.parametrize("code", ["<script>", "<b>X<b>", "\"><svg", "'-alert(1)-'"])
async def test_unknown_party_code_echoed_on_the_page(world, code):
    page = await page_of(world, f"/party/{quote(code, safe='')}", world.bob, 404)
    assert_escaped(page, code)  # "No party with code <code>"


@pytest.mark.parametrize("username", ["<script>x", "a\"onmouseover=alert(1)", "../../etc", "a b", "x" * 33])
async def test_usernames_with_markup_are_refused(world, username):
    async with nothing_stored(world):
        response = await world.client.post("/api/auth/register", json={
            "username": username, "password": "correct horse battery"})
        await error_of(response, 400, "invalid_account")


async def anonymous_form_token(world: World, client, path: str) -> str:
    page = (await (await client.get(path)).get_data()).decode()
    marker = 'name="csrf-token" content="'
    return page[page.index(marker) + len(marker):].split('"', 1)[0]


@pytest.mark.parametrize("form", ["/signup", "/login"])
@pytest.mark.parametrize("payload", MARKUP)
async def test_form_pages_echo_the_username_escaped(world, form, payload):
    # A refused sign-up or sign-in shows the form again with what was typed.
    client = world.app.test_client()
    token = await anonymous_form_token(world, client, form)
    response = await client.post(form, form={"username": MARKUP[payload], "password": "x",
                                             "csrf_token": token})
    page = (await response.get_data()).decode()
    assert response.status_code == {"/signup": 400, "/login": 401}[form], page[:300]
    assert response.mimetype == "text/html"
    assert_escaped(page, MARKUP[payload])


# Fields that pages draw with JavaScript from JSON (message text, track title and artist,
# member names, playlist names): the server never writes them into HTML, and the scripts
# that draw them use textContent: tests/browser/test_hostile_markup_browser.py proves that;
# here: the API hands them back as JSON, never as a page.
async def test_fields_drawn_by_scripts_are_served_as_json_only(world):
    thread_id = world.thread["id"]
    response = await world.client.post(f"/api/v1/threads/{thread_id}/messages", headers=world.alice,
                                       json={"text": SCRIPT})
    message = await response.get_json()
    assert message["text"] == SCRIPT
    listed = await world.client.get(f"/api/v1/threads/{thread_id}/messages", headers=world.bob)
    assert listed.mimetype == "application/json"
    assert SCRIPT in [m["text"] for m in (await listed.get_json())["messages"]]
    assert SCRIPT not in await page_of(world, f"/threads/{thread_id}", world.bob)
    init = await hls_init_titled(world, SCRIPT)
    detail = await world.client.get(f"/api/tracks/{init['track_id']}", headers=world.carol)
    track = await detail.get_json()
    assert detail.mimetype == "application/json" and track["title"] == SCRIPT
    assert track["artist_name"] == SCRIPT
    assert SCRIPT not in await page_of(world, "/tracks", world.carol)
    response = await world.client.put("/api/me/playlists", headers=world.carol, json={"playlists": [
        {"id": "pl_markup", "name": SCRIPT}]})
    assert response.mimetype == "application/json"
    assert [p["name"] for p in (await response.get_json())["playlists"]] == [SCRIPT]
    assert SCRIPT not in await page_of(world, "/library", world.carol)
    # Clean up what this test made, so the other cases' snapshots stay meaningful.
    await world.client.delete(f"/api/v1/messages/{message['id']}", headers=world.alice)
    await world.client.delete(f"/api/tracks/{init['track_id']}", headers=world.carol)


async def hls_init_titled(world: World, text: str) -> dict:
    response = await world.client.post("/tracks/upload/init", headers=world.carol, json={
        "title": text, "artist_name": text, "file_extension": "mp3", "file_size": 10})
    assert response.status_code == 200
    return await response.get_json()


async def test_page_scripts_never_parse_server_text_as_html():
    # innerHTML / outerHTML / insertAdjacentHTML / document.write only ever get constant strings.
    root = Path(__file__).resolve().parent.parent
    scripts = [p for p in [*root.glob("static/*.js"), *root.glob("plugins/*/static/*.js")]
               if not p.name.endswith(".min.js")]
    assert len(scripts) >= 5
    sink = re.compile(r"(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write")
    constant = re.compile(r"(innerHTML|outerHTML)\s*=\s*'[^'+`$]*'\s*;?\s*$")
    for script in scripts:
        for number, line in enumerate(script.read_text().splitlines(), 1):
            match = sink.search(line)
            if match:
                assert constant.search(line), f"{script.name}:{number}: {line.strip()}"


# ==========================================================================================
# 7. Bodies that are not the JSON object a route expects
# ==========================================================================================

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

# Bodies that are not a JSON object at all, whatever the route.
BAD_BODIES = {
    "not utf-8": b'{"title": "\xff\xfe\xfd", "text": "\xc3\x28"}',
    "latin-1 text": '{"title": "caf\xe9", "name": "M\xfcller"}'.encode("latin-1"),
    "invalid json": b'{"title": ',
    "trailing garbage": b'{"title": "x"} and more',
    "a list instead of an object": b"[]",
    "a list of objects": b'[{"title": "x", "text": "x", "name": "x"}]',
    "a string": b'"hello"',
    "a number": b"42",
    "null": b"null",
    "true": b"true",
    "a 5000-digit number": b'{"n": 1' + b"0" * 5000 + b"}",
    "nested 20000 lists deep": b"[" * 20_000 + b"]" * 20_000,
    "nested 10000 objects deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "empty body": b"",
    "only whitespace": b" \r\n\t ",
}
# invalid_account: a user name or display name that breaks the account rules.
BAD_BODY_CODES = {"invalid_request", "invalid_encoding", "bad_request", "invalid_account"}

# Values put in every text field of a route's otherwise valid body.
BAD_VALUES = {
    "1e999": "1e999",
    "NaN": "NaN",
    "-Infinity": "-Infinity",
    "a 400-digit number": "1" + "0" * 400,
    "a list": '["x"]',
    "an object": '{"$gt": ""}',
    "true": "true",
    "a NUL character": '"a\\u0000b"',
    "a lone surrogate": '"\\ud800x"',
    "a string of 50 000 characters": json.dumps("x" * 50_000),
}


async def who_sends(world: World, route: str) -> dict:
    # Signing out with a bad body must not sign bob out for every other case.
    return await guest(world.client, "Throwaway") if route == "logout" else world.bob


# Every route with every bad body, except an empty body where the body may be left out.
BAD_BODY_CASES = [(route, body) for route in JSON_ROUTES for body in BAD_BODIES
                  if BAD_BODIES[body].strip() or not JSON_ROUTES[route][2]]


@pytest.mark.parametrize(("route", "body"), BAD_BODY_CASES)
async def test_bad_json_body(world, route, body):
    method, path = JSON_ROUTES[route][:2]
    data = BAD_BODIES[body]
    who = await who_sends(world, route)
    async with nothing_stored(world):
        response = await world.client.open(fill(world, path), method=method, data=data,
                                           headers={**who, "Content-Type": "application/json"})
        await error_of(response, 400, BAD_BODY_CODES)


# Where a bad value is not refused as such, what else is the safe answer: (status, code).
VALUE_OUTCOMES = {
    # No account, token or track has such a name: the lookup simply fails.
    ("login", "a NUL character"): (401, "invalid_credentials"),
    ("login", "a lone surrogate"): (401, "invalid_credentials"),
    ("refresh", "a NUL character"): (401, "invalid_refresh_token"),
    ("refresh", "a lone surrogate"): (401, "invalid_refresh_token"),
    ("refresh", "a string of 50 000 characters"): (401, "invalid_refresh_token"),
    ("login", "a string of 50 000 characters"): (401, "invalid_credentials"),
    # bob signs in with his bearer token; the seed's body `token` is not even looked at.
    ("attach render", "a NUL character"): (403, "forbidden"),
}


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("route", JSON_ROUTES)
async def test_bad_value_in_every_text_field(world, route, value):
    method, path, _, valid, texts = JSON_ROUTES[route]
    body = json.dumps(fill_body(world, valid))[:-1]
    body += "".join(f', "{name}": {BAD_VALUES[value]}' for name in texts) + "}"
    who = await who_sends(world, route)
    status, code = VALUE_OUTCOMES.get((route, value), (400, BAD_BODY_CODES))
    if route == "logout" and value in ("a NUL character", "a lone surrogate",
                                       "a string of 50 000 characters"):
        status, code = 200, None  # signing out with an unknown refresh token: nothing to revoke
    async with nothing_stored(world):
        response = await world.client.open(fill(world, path), method=method, data=body.encode(),
                                           headers={**who, "Content-Type": "application/json"})
        if code is None:
            assert response.status_code == status, await response.get_data()
        else:
            await error_of(response, status, code)


@pytest.mark.parametrize("route", ["create thread", "post message", "create party", "hls init", "guest"])
async def test_json_body_sent_as_a_form(world, route):
    # The right fields, as application/x-www-form-urlencoded: not JSON, refused.
    method, path = JSON_ROUTES[route][:2]
    async with nothing_stored(world):
        response = await world.client.open(fill(world, path), method=method, headers=world.bob,
                                           form={"title": "x", "text": "x", "name": "x",
                                                 "file_extension": "mp3", "file_size": "10"})
        await error_of(response, 400, BAD_BODY_CODES)


@pytest.mark.parametrize("section", ["favorites", "history", "queue", "playlists", "recent searches"])
async def test_library_items_with_lone_surrogates(world, section):
    # Valid shapes, but text that cannot be stored as UTF-8.
    item = {"favorites": '{"favorites": [{"videoId": "a", "title": %s, "addedAt": "2025-01-01T00:00:00Z"}]}',
            "history": '{"history": [{"videoId": "a", "artist": %s, "playedAt": "2025-01-01T00:00:00Z"}]}',
            "queue": '{"queue": [{"videoId": "a", "title": %s}]}',
            "playlists": '{"playlists": [{"id": "pl_x", "name": %s}]}',
            "recent searches": '{"recent_searches": [%s]}'}[section] % BAD_VALUES["a lone surrogate"]
    method, path = JSON_ROUTES[section][:2]
    async with nothing_stored(world):
        response = await world.client.open(path, method=method, data=item.encode(),
                                           headers={**world.bob, "Content-Type": "application/json"})
        await error_of(response, 400, BAD_BODY_CODES)
    library = await (await world.client.get("/api/me/library", headers=world.bob)).get_json()
    assert "\ud800" not in json.dumps(library, ensure_ascii=False)


# ==========================================================================================
# 8. WebSocket floods and malformed frames: that socket is closed, the party carries on
# ==========================================================================================

POLICY_VIOLATION = 1008


def frames(*items) -> list:
    return list(items)


# What the offending guest sends (text frames unless bytes).
HOSTILE_FRAMES = {
    "a binary frame": frames(b"\x00\x01binary"),
    "a binary frame holding valid JSON": frames(b'{"t": "PING", "t0": 1}'),
    "invalid JSON": frames("{not json"),
    "a JSON list": frames('[{"t": "PING"}]'),
    "a JSON string": frames('"PING"'),
    "null": frames("null"),
    "an unknown t": frames('{"t": "DROP_TABLES"}'),
    "no t at all": frames('{"version": 1}'),
    "t of the wrong type": frames('{"t": ["PING"]}'),
    "a frame of 100 000 characters": frames(json.dumps({"t": "PING", "pad": "x" * 100_000})),
    "JSON nested 2000 deep": frames("[" * 2000 + "]" * 2000),
    "a host command with version NaN": frames('{"t": "HOST_PLAY", "version": NaN, "positionSec": 0}'),
    "a host command with version 1e999": frames('{"t": "HOST_PLAY", "version": 1e999, "positionSec": 0}'),
    "a seek to Infinity": frames('{"t": "HOST_SEEK", "version": 1, "positionSec": Infinity}'),
    "a sync report of strings": frames('{"t": "SYNC_REPORT", "offsetMs": "x", "driftMs": "y", "rttMs": "z"}'),
    # (A JSON integer larger than any float: `math.isfinite` on it raised OverflowError.)
    "a ping whose t0 has 310 digits": frames('{"t": "PING", "t0": 1%s}' % ("0" * 309)),
    "a sync report whose rttMs has 310 digits": frames(
        '{"t": "SYNC_REPORT", "offsetMs": 0, "driftMs": 0, "rttMs": 1%s}' % ("0" * 309)),
    "a seek to a position of 310 digits": frames(
        '{"t": "HOST_SEEK", "version": 1, "positionSec": 1%s}' % ("0" * 309)),
    "10 000 pings as fast as possible": frames(*[json.dumps({"t": "PING", "t0": n}) for n in range(10_000)]),
    "10 000 frames of garbage": frames(*["\x00garbage"] * 10_000),
}


async def closed_with(socket, timeout: float = 10.0) -> int | None:
    """Read until the server closes the socket; the close code."""
    async def drain():
        while True:
            await socket.receive()
    try:
        await asyncio.wait_for(drain(), timeout)
    except WebsocketDisconnectError as closed:
        return closed.args[0] if closed.args else None
    return None


@pytest.mark.parametrize("attack", HOSTILE_FRAMES)
async def test_hostile_websocket_client(world, attack):
    party = await (await world.client.post("/api/parties", headers=world.alice, json={})).get_json()
    code = party["code"]
    async with (socket_of(world, code, world.alice) as host, socket_of(world, code, world.bob) as bob,
                socket_of(world, code, world.carol) as carol):
        version = (await receive(host, "SNAPSHOT"))["version"]
        await receive(bob, "SNAPSHOT")
        await receive(carol, "SNAPSHOT")
        for frame in HOSTILE_FRAMES[attack]:
            await bob.send(frame)
        assert await closed_with(bob) == POLICY_VIOLATION
        # The party carries on: the host's next command reaches the other guest.
        await send(host, t="HOST_TRACK_SELECTED", version=version, trackId=world.track["trackId"])
        selected = await receive(carol, "TRACK_SELECTED")
        assert selected["trackId"] == world.track["trackId"] and selected["version"] == version + 1
        await send(carol, t="PING", t0=7)
        assert (await receive(carol, "PONG"))["t0"] == 7
    state = await (await world.client.get(f"/api/parties/{code}", headers=world.alice)).get_json()
    assert state["isHost"] and state["state"]["trackId"] == world.track["trackId"]


async def test_a_flooding_host_is_closed_and_can_come_back(world):
    party = await (await world.client.post("/api/parties", headers=world.alice, json={})).get_json()
    code = party["code"]
    async with socket_of(world, code, world.carol) as carol:
        await receive(carol, "SNAPSHOT")
        async with socket_of(world, code, world.alice) as host:
            version = (await receive(host, "SNAPSHOT"))["version"]
            for _ in range(10_000):
                await send(host, t="HOST_PAUSE", version=version)
            assert await closed_with(host) == POLICY_VIOLATION
        async with socket_of(world, code, world.alice) as host:
            version = (await receive(host, "SNAPSHOT"))["version"]
            await send(host, t="HOST_TRACK_SELECTED", version=version, trackId=world.track["trackId"])
            assert (await receive(carol, "TRACK_SELECTED"))["trackId"] == world.track["trackId"]


# WebSocket URL -> the handshake's refusal (status, code)
HANDSHAKES = {
    "/ws/party/{code}?access_token=not-a-token": (401, "unauthorized"),
    "/ws/party/NOPE99?access_token={token}": (404, "party_not_found"),
    "/ws/party/..%2f..%2f?access_token={token}": (404, "not_found"),
    "/ws/party/{code}%00?access_token={token}": (404, "not_found"),
}


@pytest.mark.parametrize("target", HANDSHAKES)
async def test_websocket_handshake_refused(world, target):
    from quart.testing.connections import WebsocketResponseError

    token = world.bob["Authorization"].split()[1]
    url = target.format(code=world.party["code"], token=token)
    with pytest.raises(WebsocketResponseError) as refused:
        async with world.client.websocket(url) as socket:
            await socket.receive()
    await error_of(refused.value.response, *HANDSHAKES[target])


# ==========================================================================================
# 9. Multipart bodies that are broken on purpose
# ==========================================================================================


def file_part(name: str, data: bytes, boundary: str = BOUNDARY, extra_headers: str = "") -> bytes:
    return part(name, data, "a.wav", content_type="audio/wav", boundary=boundary, extra_headers=extra_headers)


def text_part(name: str, value: bytes, boundary: str = BOUNDARY) -> bytes:
    return part(name, value, boundary=boundary)


END = end()
AUDIO = wav_of(4000)

# name -> (Content-Type header value, body, expected status, expected codes)
BROKEN_FORMS = {
    "no boundary parameter": ("multipart/form-data", file_part("FILE", AUDIO) + END, 400, "bad_request"),
    "a 71-character boundary": (f"multipart/form-data; boundary={'b' * 71}",
                                file_part("FILE", AUDIO, "b" * 71) + f"--{'b' * 71}--\r\n".encode(),
                                400, "bad_request"),
    "a non-ascii boundary": ("multipart/form-data; boundary=grenzé", b"--grenz\xc3\xa9--\r\n", 400, "bad_request"),
    "no closing delimiter (truncated)": (None, file_part("FILE", AUDIO)[:-200], 400, "bad_request"),
    "no parts at all": (None, END, 400, "bad_request"),
    "garbage instead of parts": (None, b"\x00\x01\x02" * 5000, 400, "bad_request"),
    "33 text fields before the file": (None, b"".join(text_part(f"f{n}", b"x") for n in range(33))
                                       + file_part("FILE", AUDIO) + END, 400, "bad_request"),
    "a text field of 65 KiB": (None, text_part("songTitle", b"x" * (65 * KiB)) + file_part("FILE", AUDIO) + END,
                               413, "payload_too_large"),
    # (Headers are parsed from 1 MiB reads: what must stop is a header that never ends.)
    "part headers of 1.5 MiB": (None, file_part("FILE", AUDIO, extra_headers=f"X-Pad: {'p' * 1536 * KiB}\r\n")
                                + END, 400, "bad_request"),
    "a field that is not utf-8": (None, text_part("sessionId", b"\xff\xfe") + file_part("FILE", AUDIO) + END,
                                  400, "bad_request"),
}


@pytest.mark.parametrize("broken", BROKEN_FORMS)
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_broken_multipart_upload(world, route, broken):
    content_type, body, status, code = BROKEN_FORMS[broken]
    path, parts = INGEST_ROUTES[route]("a.wav", b"")
    file_field = next(name for name, filename, _ in parts if filename)
    body = body.replace(b'name="FILE"', f'name="{file_field}"'.encode())
    headers = {"Content-Type": content_type or f"multipart/form-data; boundary={BOUNDARY}"}
    async with nothing_stored(world):
        # Streamed in 16 KiB pieces, as it would come off the network.
        response = await world.chunked("POST", path, world.bob, headers, pieces(body, 16 * KiB))
        await error_of(response, status, code)


# ==========================================================================================
# 10. A Content-Length that lies
# ==========================================================================================


# (A body shorter than its Content-Length never reaches the app: the server waits for the
# rest, and a client that hangs up is a disconnect, which cancels the request.)
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_upload_whose_content_length_announces_100_gib(world, route):
    path, parts = INGEST_ROUTES[route]("a.wav", wav_of(4000))
    body, headers = multipart(parts)
    headers = {**headers, "Content-Length": str(100 << 30), **world.bob}
    async with nothing_stored(world):
        status, answer_headers, answer = await raw_request(world.app, "POST", path, headers, body)
        assert_json_error(status, answer_headers, answer, 413, "payload_too_large")


@pytest.mark.parametrize("route", ["create thread", "hls init", "favorites", "guest"])
async def test_json_with_a_content_length_of_100_gib(world, route):
    method, path, _, valid, _ = JSON_ROUTES[route]
    body = json.dumps(fill_body(world, valid)).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(100 << 30), **world.bob}
    async with nothing_stored(world):
        status, answer_headers, answer = await raw_request(world.app, method, fill(world, path), headers, body)
        assert_json_error(status, answer_headers, answer, 413, TOO_LARGE)


# ==========================================================================================
# 11. Signed /media/ links that were tampered with
# ==========================================================================================

SIGNATURE_TAMPERING = {
    "no query at all": lambda url: url.partition("?")[0],
    "exp without sig": lambda url: url.partition("&sig=")[0],
    "sig without exp": lambda url: url.partition("?")[0] + "?sig=" + url.partition("&sig=")[2],
    "exp moved a second later": lambda url: url.replace("exp=", "exp=1", 1),
    "exp of 13 digits": lambda url: url.replace("exp=", "exp=9999999999999&x=", 1),
    "exp negative": lambda url: url.replace("exp=", "exp=-", 1),
    "exp in the past, signed": None,  # built below: a real signature of an expired link
    "sig upper-cased": lambda url: url[:url.index("&sig=")] + "&sig=" + url.partition("&sig=")[2].upper(),
    "sig truncated": lambda url: url[:-1],
    "sig of non-hex characters": lambda url: url[:url.index("&sig=")] + "&sig=" + "zz" * 32,
    "sig of 10 000 characters": lambda url: url + "a" * 10_000,
    "the key of another object": lambda url: url.replace(".wav?", "x.wav?", 1),
    "another backend's name": lambda url: url.replace("/media/local/", "/media/locale/", 1),
    "sig given twice": lambda url: url + "&sig=" + "0" * 64,
}


@pytest.mark.parametrize("tampering", SIGNATURE_TAMPERING)
async def test_tampered_media_link(world, tampering):
    url = world.temp["url"]
    assert url.startswith("/media/local/") and ".wav?" in url
    if tampering == "exp in the past, signed":
        key = unquote(urlsplit(url).path[len("/media/local/"):])
        target = signed_media_url(world.host.secret_key, "local", key, int(time.time()) - 1)
    else:
        target = SIGNATURE_TAMPERING[tampering](url)
    status, headers, body = await raw_request(world.app, "GET", target, {"Range": "bytes=0-"})
    assert_json_error(status, headers, body, 403, "forbidden")
    assert not body.startswith(b"RIFF")


# ==========================================================================================
# 10. Issue 13: what served files and pages tell a browser
# ==========================================================================================

AUDIO_THEN_HTML = wav_of(4000) + b"<!doctype html><html><script>alert(1)</script></html>" * 20


async def served_at(world: World, route: str, answer: dict) -> tuple[str, dict]:
    if route == "renders upload":
        return f"/api/v1/renders/{answer['id']}/audio", world.bob
    if route == "party upload-track":
        return answer["trackUrl"], world.bob
    return answer["url"], {}


@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_audio_with_html_after_its_frames_is_never_served_renderable(world, route):
    path, parts = (wav_render_form if route == "renders upload" else INGEST_ROUTES[route])(
        "song.wav", AUDIO_THEN_HTML)
    body, headers = multipart(parts, file_type="text/html")
    response = await world.client.post(path, data=body, headers={**world.bob, **headers})
    answer = await response.get_json()
    assert response.status_code in (200, 201), answer
    url, who = await served_at(world, route, answer)
    served = await world.client.get(url, headers=who)
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("audio/")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name", ["page.html", "image.svg", "feed.xml", "page.xhtml", "no-extension"])
async def test_a_stored_file_of_a_renderable_type_is_downloaded_not_rendered(world, name):
    storage = world.host.storage.default
    key = f"hostile-types/{uuid.uuid4().hex}/{name}"

    async def chunks():
        yield b"<html><script>alert(1)</script></html>"

    await storage.put(key, chunks(), "text/html")
    try:
        url = signed_media_url(world.host.secret_key, storage.name, key, int(time.time()) + 60)
        status, headers, body = await raw_request(world.app, "GET", url)
        assert status == 200 and body.startswith(b"<html>")
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"] == "attachment"
        assert headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in headers["content-security-policy"]
    finally:
        await storage.delete_prefix(key.rpartition("/")[0] + "/")


@pytest.mark.parametrize("path", ["/", "/login", "/party", "/tracks", "/tracks/upload", "/library",
                                  "/threads", "/temp-upload", "/signup", "/party/ZZZZZZ"])
async def test_every_page_sends_the_content_security_policy(world, path):
    response = await world.client.get(path, headers=world.alice)
    assert response.mimetype == "text/html", path
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# ==========================================================================================
# 11. Issue 13: decode amplification (a few KB that claim, or hold, an hour of audio)
# ==========================================================================================


@pytest.fixture(scope="module")
def hour_of_silence(tmp_path_factory) -> bytes:
    """14 KB of FLAC holding an hour of 8 kHz silence (its STREAMINFO says so)."""
    import subprocess

    from mediahub import ffmpeg_path

    path = tmp_path_factory.mktemp("amplification") / "hour.flac"
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "anullsrc=r=8000:cl=mono", "-t", "3600", "-c:a", "flac", "-frame_size", "65535",
                    str(path)], check=True)
    return path.read_bytes()


def without_length(flac: bytes) -> bytes:
    """The same FLAC with STREAMINFO's total-samples field zeroed ("unknown"): it lies by omission."""
    data = bytearray(flac)
    assert data[:4] == b"fLaC"
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    return bytes(data)


def flac_render_form(data: bytes):
    return "/api/v1/upload/audio", [("format", None, b"flac"), ("file", "long.flac", data)]


@pytest.mark.parametrize("lie", ["claims an hour", "hides its length"])
async def test_render_holding_an_hour_of_audio_is_refused(world, hour_of_silence, lie):
    data = hour_of_silence if lie == "claims an hour" else without_length(hour_of_silence)
    assert len(data) < 32 * KiB
    path, parts = flac_render_form(data)
    body, headers = multipart(parts, file_type="audio/flac")
    async with nothing_stored(world):
        response = await world.client.post(path, data=body, headers={**world.bob, **headers})
        error = await error_of(response, 422, "audio_too_long")
    assert "10:00" in error["message"] or "600" in error["message"]


async def test_decodes_beyond_the_slots_get_busy_with_retry_after(world):
    from mediahub import decode_slot

    path, parts = wav_render_form("a.wav", wav_of(8000))
    body, headers = multipart(parts, file_type="audio/wav")
    async with world.app.app_context():
        async with contextlib.AsyncExitStack() as slots:
            for _ in range(world.host.settings.server.max_concurrent_decodes):
                await slots.enter_async_context(decode_slot())
            async with nothing_stored(world):
                response = await world.client.post(path, data=body, headers={**world.bob, **headers})
                await error_of(response, 503, "busy")
                assert int(response.headers["Retry-After"]) >= 1
    response = await world.client.post(path, data=body, headers={**world.bob, **headers})
    assert response.status_code == 200, await response.get_data()  # the slots are free again


async def test_hls_track_holding_an_hour_fails_without_retrying(world, hour_of_silence):
    init = await hls_init(world, world.bob, len(hour_of_silence), "flac")
    status, answer = await post_presigned(world.client, init["audio_upload_url"],
                                          init["audio_upload_fields"], hour_of_silence)
    assert status == 204, answer
    response = await world.client.post("/tracks/upload/complete", headers=world.bob,
                                       json={"track_id": init["track_id"]})
    assert response.status_code == 200, await response.get_data()
    final = await wait_for_status(world.client, world.bob, init["track_id"])
    assert final["status"] == "failed" and "1:00:00 long" in final["error"], final
    assert not await Track.filter(id=init["track_id"], master_ready=True).exists()
    response = await world.client.delete(f"/api/tracks/{init['track_id']}", headers=world.bob)
    assert response.status_code == 200
