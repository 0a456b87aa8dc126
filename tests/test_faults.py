"""Faults (issue 8): crashes and outages of the real components, and what a user sees after.

Each test breaks one real thing — a `mediahub serve` process SIGKILLed, S3 or PostgreSQL
behind a proxy that is cut, a private redis-server restarted — and checks what must hold:
a clear JSON 503 while it is down, nothing half-stored, and recovery without a restart.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from mediahub.media import ffmpeg_path
from tests.support.faults import (CREDENTIALS, REDIS_SERVER, WAIT_LIMIT, MiB, PrivateRedis,
                                 SlowUpload, async_sign_in, bucket_keys, files_under, ledger_rows,
                                 make_tone, run_cleanup, s3_client, s3_config, sign_in, state_of,
                                 transcode_status, unfinished_uploads, upload_track, wait_for,
                                 ws_url)
from tests.support.fault_proxy import FaultProxy
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> bytes:
    """Two seconds of MP3: a real audio file for uploads that must succeed."""
    return make_tone(tmp_path_factory.mktemp("tone") / "tone.mp3", 2)


@pytest.fixture
def private_redis(tmp_path):
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip(f"{REDIS_SERVER} is missing: the Redis restart test runs its own redis-server "
                    "(apt-get install redis-server)")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.kill()


# Objects above 5 MiB go up as multipart uploads of 5 MiB parts (S3's smallest).
MULTIPART = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB}


# -- 1. SIGKILL in the middle of an upload ----------------------------------------------------


def test_sigkill_mid_upload_leaves_nothing_behind_after_one_sweep(tmp_path, tone):
    data_dir = tmp_path / "data"
    media_root = data_dir / "media"
    server = ServerProcess(data_dir)
    server.start()
    try:
        # 64 MiB announced, 3 MiB sent: the server is killed with the rest still to come.
        headers, kept = kill_mid_upload(
            server, tone, sent=3 * MiB,
            debris=lambda: any(state == "pending" for *_, state in ledger_rows(data_dir))
            and any(Path(name).name.startswith(".mh-") and (media_root / name).stat().st_size
                    for name in files_under(media_root)),
            debris_is="the upload's pending ledger row and its partly written temp file")
        rows = restart_and_sweep(server, data_dir)
        assert files_under(media_root) == [key for _, key, _ in rows]
        assert_still_plays(server, headers, kept, tone)
    finally:
        server.__exit__()


def test_sigkill_mid_upload_to_s3_leaves_no_parts_or_objects_after_one_sweep(tmp_path, tone,
                                                                              s3_settings):
    bucket = s3_settings["bucket"]
    config = s3_config(tmp_path / "mediahub.toml", s3_settings, **MULTIPART)
    data_dir = tmp_path / "data"
    s3 = s3_client(s3_settings)
    server = ServerProcess(data_dir, config=config)
    server.start()
    try:
        headers, kept = kill_mid_upload(
            server, tone, sent=7 * MiB,
            debris=lambda: [u for u in unfinished_uploads(s3, bucket) if u["parts"]],
            debris_is="a multipart upload with a stored part")
        rows = restart_and_sweep(server, data_dir)
        assert bucket_keys(s3, bucket) == [key for _, key, _ in rows]
        assert unfinished_uploads(s3, bucket) == []
        assert_still_plays(server, headers, kept, tone)
    finally:
        server.__exit__()


def kill_mid_upload(server: ServerProcess, tone: bytes, *, sent: int, debris, debris_is: str):
    """Store one track, then SIGKILL the server while a 64 MiB upload has `sent` bytes in and
    `debris()` (what the crash leaves behind) shows. Returns (headers, the stored track)."""
    headers = sign_in(server.url)
    kept = upload_track(server.url, headers, tone)
    assert kept.status_code == 200, kept.text
    upload = SlowUpload(server.url, "/api/upload-track", headers, field="audio", file_size=64 * MiB)
    upload.send(tone + bytes(sent))
    wait_for(debris, debris_is)
    server.kill()
    upload.close()
    return headers, kept


def restart_and_sweep(server: ServerProcess, data_dir: Path) -> list:
    """Restart on the same data and run one sweep: the crash's pending row and its temp
    object are discarded; the ledger rows left (all `stored`) are returned."""
    assert [state for *_, state in ledger_rows(data_dir)].count("pending") == 1
    server.start()
    report = run_cleanup(server, MEDIAHUB__SERVER__ORPHAN_GRACE="0")
    assert "ledger_pending_discarded: 1" in report and "temp_files_removed: 1" in report, report
    rows = ledger_rows(data_dir)
    assert [state for *_, state in rows] == ["stored"], rows
    return rows


def assert_still_plays(server: ServerProcess, headers: dict, kept, tone: bytes) -> None:
    """The upload that finished before the crash is untouched and plays byte for byte."""
    with httpx.Client(base_url=server.url, timeout=WAIT_LIMIT, follow_redirects=True) as client:
        track = client.get(kept.json()["trackUrl"], headers=headers)
    assert track.status_code == 200 and track.content == tone


# -- 2. killed during a transcode --------------------------------------------------------------

TRANSCODE_SECONDS = 60


def test_sigkill_during_a_transcode_then_restart_completes_the_track(tmp_path):
    from mediahub_hls_transcode.playlist import parse_master_playlist, parse_media_playlist

    # Long but small: a low bitrate keeps the upload quick while ffmpeg has seconds of work.
    data = make_tone(tmp_path / "long.mp3", TRANSCODE_SECONDS, bitrate="16k", sample_rate=22050)
    # A lease of 2 s: the job the dead process held is taken over soon after the restart.
    env = {"MEDIAHUB__JOBS__LEASE_SECONDS": "2", "MEDIAHUB__JOBS__RETRY_BACKOFF": "0"}
    server = ServerProcess(tmp_path / "data", env=env)
    server.start()
    try:
        headers = sign_in(server.url)
        with httpx.Client(base_url=server.url, timeout=WAIT_LIMIT) as client:
            init = client.post("/tracks/upload/init", headers=headers, json={
                "title": "Long", "artist_name": "Tone", "file_extension": "mp3",
                "file_size": len(data)}).json()
            track_id = init["track_id"]
            upload = client.post(init["audio_upload_url"], data=init["audio_upload_fields"],
                                 files={"file": ("long.mp3", data)})
            assert upload.status_code == 204, upload.text
            assert client.post("/tracks/upload/complete", headers=headers,
                               json={"track_id": track_id}).status_code == 200
            wait_for(lambda: transcode_status(client, headers, track_id, lambda s: (
                s["progress"] > 0 or s["status"] != "processing")), "the transcode to start")
            # Progressive: playable while still processing, the media playlist an open EVENT one.
            detail = wait_for(lambda: (d := client.get(f"/api/tracks/{track_id}", headers=headers)
                                       .json())["hls_master_url"] and d, "the first segments")
            master = parse_master_playlist(client.get(detail["hls_master_url"]).text)
            growing = parse_media_playlist(client.get(master[0][1]).text)
            first = client.get(growing.segments[0][0])
            midway = transcode_status(client, headers, track_id, lambda s: True)
            server.kill()
        assert midway["status"] == "processing" and 0 < midway["progress"] < 100, midway
        assert growing.playlist_type == "EVENT" and not growing.ended
        assert first.status_code == 200 and first.headers["Content-Type"] == "video/iso.segment"

        server.start()
        with httpx.Client(base_url=server.url, timeout=WAIT_LIMIT) as client:
            final = wait_for(lambda: transcode_status(client, headers, track_id, lambda s: (
                s["status"] in ("completed", "failed"))), "the transcode to finish", limit=180)
            assert final["status"] == "completed", (final, server.output()[-3000:])
            detail = client.get(f"/api/tracks/{track_id}", headers=headers).json()
            assert abs(detail["duration_seconds"] - TRANSCODE_SECONDS) < 0.2
            master = parse_master_playlist(client.get(detail["hls_master_url"]).text)
            media = parse_media_playlist(client.get(master[0][1]).text)
            assert media.ended and media.segments
        # ffmpeg itself reads the master playlist, its variants and segments back over HTTP.
        check = subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-i",
                                server.url + detail["hls_master_url"], "-map", "0:a:0",
                                "-f", "null", os.devnull], capture_output=True, text=True, timeout=120)
        assert check.returncode == 0 and check.stderr.strip() == "", check.stderr
    finally:
        server.__exit__()


# -- 3. S3 unreachable during an upload ---------------------------------------------------------


def test_s3_unreachable_is_a_503_with_nothing_half_stored_and_uploads_resume(tmp_path, tone,
                                                                             s3_settings):
    bucket = s3_settings["bucket"]
    endpoint = urlsplit(s3_settings["endpoint_url"])
    s3 = s3_client(s3_settings)
    data_dir = tmp_path / "data"
    with FaultProxy(endpoint.hostname, endpoint.port) as proxy:
        # One retry per request and short timeouts (shipped: 3 attempts, 5 s / 20 s): quick to hang.
        config = s3_config(tmp_path / "mediahub.toml", s3_settings, **MULTIPART,
                           endpoint_url=f"http://127.0.0.1:{proxy.port}", max_attempts=2,
                           connect_timeout=2, read_timeout=2)
        with ServerProcess(data_dir, config=config) as server:
            headers = sign_in(server.url)

            # Cut before the upload: S3 refuses every connection.
            proxy.cut()
            refused = upload_track(server.url, headers, tone)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "storage_unavailable"

            # Cut during it: the first 5 MiB part is stored, the second one cannot be.
            proxy.restore()
            upload = SlowUpload(server.url, "/api/upload-track", headers, field="audio",
                                file_size=10 * MiB)
            upload.send(tone + bytes(6 * MiB))
            wait_for(lambda: [u for u in unfinished_uploads(s3, bucket) if u["parts"]],
                     "the first part of the multipart upload")
            proxy.cut()
            status, body = upload.finish()
            assert status == 503 and body["error"]["code"] == "storage_unavailable", body

            # Hung, not refused: connections accepted and never answered time out.
            proxy.blackhole()
            hung = upload_track(server.url, headers, tone)
            assert hung.status_code == 503, hung.text
            assert hung.json()["error"]["code"] == "storage_unavailable"

            # Back: the same process uploads again, and one sweep clears what the outage left.
            proxy.restore()
            again = upload_track(server.url, headers, tone)
            assert again.status_code == 200, again.text
            run_cleanup(server, MEDIAHUB__SERVER__ORPHAN_GRACE="0")
            rows = ledger_rows(data_dir)
            assert [state for *_, state in rows] == ["stored"], rows
            assert bucket_keys(s3, bucket) == [key for _, key, _ in rows]
            assert unfinished_uploads(s3, bucket) == []
            with httpx.Client(base_url=server.url, timeout=WAIT_LIMIT, follow_redirects=True) as client:
                track = client.get(again.json()["trackUrl"], headers=headers)
            assert track.status_code == 200 and track.content == tone
            assert "internal_error" not in server.output()


# -- 4. Redis restarted during a party ----------------------------------------------------------


async def test_redis_restart_during_a_party_the_guest_on_another_instance_stays_in_sync(
        tmp_path, private_redis):
    from tests.support.party import wav_bytes
    from tests.support.websocket_client import WebSocketClient

    prefix = "faults-party:"
    env = {"MEDIAHUB__BUS__BACKEND": "redis", "MEDIAHUB__BUS__REDIS_URL": private_redis.url,
           "MEDIAHUB__BUS__CHANNEL_PREFIX": prefix}
    data_dir = tmp_path / "data"  # one database and storage shared by both instances
    a, b = ServerProcess(data_dir, env=env), ServerProcess(data_dir, env=env)
    # One after the other: the first creates the database, the second finds it ready.
    await asyncio.to_thread(a.start)
    await asyncio.to_thread(b.start)
    sockets = []
    try:
        async with httpx.AsyncClient(base_url=a.url, timeout=WAIT_LIMIT) as on_a, \
                httpx.AsyncClient(base_url=b.url, timeout=WAIT_LIMIT) as on_b:
            token = await async_sign_in(on_a)
            auth = {"Authorization": f"Bearer {token}"}
            code = (await on_a.post("/api/parties", json={}, headers=auth)).json()["code"]
            track = (await on_a.post("/api/upload-track", headers=auth, files={
                "audio": ("a.wav", wav_bytes(), "audio/wav")})).json()["trackId"]
            joined = (await on_b.post(f"/api/parties/{code}/join",
                                      json={"display_name": "Remote"})).json()
            host = await WebSocketClient.connect(ws_url(a, code, token))
            guest = await WebSocketClient.connect(ws_url(b, code, joined["access_token"]))
            sockets += [host, guest]
            for client in (host, guest):
                assert (await client.receive_json("SNAPSHOT"))["version"] == 1
            channel = f"{prefix}party:{code}"
            assert private_redis.subscribers(channel) == 2  # one connection per instance

            await host.send_json({"t": "HOST_TRACK_SELECTED", "version": 1, "trackId": track})
            assert (await guest.receive_json("TRACK_SELECTED"))["trackId"] == track
            await host.send_json({"t": "HOST_PLAY", "version": 2, "positionSec": 4})
            assert (await guest.receive_json("PLAY"))["version"] == 3

            private_redis.kill()
            # While Redis is down: a guest's sync report is lost (its socket stays open), and
            # a host command is stored but nobody can be told; the host is told so.
            await guest.send_json({"t": "SYNC_REPORT", "offsetMs": 1.5, "driftMs": 2, "rttMs": 1})
            await host.send_json({"t": "HOST_PAUSE", "version": 3})
            error = await host.receive_json("ERROR", timeout=WAIT_LIMIT)
            assert error["code"] == "bus_unavailable" and error["version"] == 4, error
            private_redis.start()
            # Each instance notices and resubscribes by itself (nothing reconnects the clients).
            await asyncio.to_thread(wait_for, lambda: private_redis.subscribers(channel) == 2,
                                    "both instances to resubscribe to the party channel")

            state = (await on_a.get(f"/api/parties/{code}", headers=auth)).json()
            version = state["state"]["version"]
            await host.send_json({"t": "HOST_SEEK", "version": version, "positionSec": 30})
            seen_by_guest = await guest.receive_json("SEEK")
            seen_by_host = await host.receive_json("SEEK")
            assert seen_by_guest == seen_by_host
            assert seen_by_guest["version"] == version + 1 and seen_by_guest["positionSec"] == 30

            # A client that reconnects now gets a snapshot equal to what the others hold.
            late = await WebSocketClient.connect(ws_url(b, code, joined["access_token"]))
            sockets.append(late)
            snapshot = await late.receive_json("SNAPSHOT")
            assert state_of(snapshot) == state_of(seen_by_guest)
        for server in (a, b):  # no handler crashed on the way (shutdown noise excluded)
            assert "Traceback" not in server.output(), server.output()[-3000:]
    finally:
        for client in sockets:
            await client.close()
        for server in (a, b):
            server.__exit__()


# -- 5. the database briefly unavailable -----------------------------------------------------


def test_postgres_cut_answers_503_and_the_same_process_recovers(tmp_path, postgres_url):
    server_url = urlsplit(postgres_url)
    with FaultProxy(server_url.hostname, server_url.port or 5432) as proxy:
        user = server_url.netloc.rpartition("@")[0]
        proxied = urlunsplit(server_url._replace(
            netloc=f"{user + '@' if user else ''}127.0.0.1:{proxy.port}"))
        with ServerProcess(tmp_path / "data", env={"MEDIAHUB__DATABASE__URL": proxied}) as server, \
                httpx.Client(base_url=server.url, timeout=WAIT_LIMIT) as client:
            headers = sign_in(server.url)
            assert client.get("/api/auth/me", headers=headers).status_code == 200

            proxy.cut()
            # Pooled connections die under a read, a write, and a fresh connection attempt.
            # (The sign-in itself is remembered for a few seconds, so the reads are of data;
            # a token the server has not seen must be looked up: a 503, not a 401.)
            unknown = {"Authorization": "Bearer not-a-token-this-server-has-seen"}
            for method, path, body, sent in (("GET", "/api/me/library", None, headers),
                                             ("POST", "/api/auth/login", CREDENTIALS, headers),
                                             ("GET", "/api/auth/me", None, unknown),
                                             ("GET", "/api/me/library", None, headers)):
                response = client.request(method, path, headers=sent, json=body)
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "database_unavailable"
                assert response.headers["Retry-After"].isdigit()
            assert client.get("/healthz").status_code == 503

            proxy.restore()
            me = client.get("/api/auth/me", headers=headers)
            assert me.status_code == 200 and me.json()["display_name"] == "alice"
            assert client.get("/api/me/library", headers=headers).status_code == 200
            login = client.post("/api/auth/login", json=CREDENTIALS)
            assert login.status_code == 200 and login.json()["access_token"]
            assert client.get("/healthz").status_code == 200
            assert "internal_error" not in server.output()


async def test_sqlite_database_is_locked_is_a_503(tmp_path, mediahub_app_factory):
    from mediahub.testing import make_settings

    data_dir = tmp_path / "data"
    path = data_dir / "mediahub.sqlite3"
    # A short busy_timeout: the lock is held for the whole test, waiting longer proves nothing.
    settings = make_settings(data_dir, {"database": {"url": f"sqlite://{path}?busy_timeout=100"}})
    app = await mediahub_app_factory(settings=settings)
    client = app.test_client()
    await client.post("/api/auth/register", json=CREDENTIALS)

    other = sqlite3.connect(path, isolation_level=None)  # another process's writer, say
    try:
        other.execute("BEGIN EXCLUSIVE")
        response = await client.post("/api/auth/login", json=CREDENTIALS)
        body = await response.get_json()
        assert response.status_code == 503, body
        assert body["error"]["code"] == "database_unavailable"
    finally:
        other.execute("ROLLBACK")
        other.close()
    response = await client.post("/api/auth/login", json=CREDENTIALS)
    assert response.status_code == 200, await response.get_data()


@pytest.mark.parametrize("moment", ["waiting for BEGIN", "in the transaction"])
async def test_a_request_cancelled_in_a_sqlite_transaction_leaves_the_database_usable(
        tmp_path, mediahub_app_factory, moment):
    """A browser that navigates away cancels its request's task (Quart). Cancelled while
    Tortoise awaited BEGIN, the one connection's transaction lock stayed taken and every
    later query of the server waited forever (seen: a player's library PUT, then a hang)."""
    from tortoise.transactions import in_transaction

    from mediahub.models import User
    from mediahub.testing import make_settings

    data_dir = tmp_path / "data"
    path = data_dir / "mediahub.sqlite3"
    settings = make_settings(data_dir, {"database": {"url": f"sqlite://{path}?busy_timeout=3000"}})
    app = await mediahub_app_factory(settings=settings)
    client = app.test_client()
    assert (await client.post("/api/auth/register", json=CREDENTIALS)).status_code == 201
    inside = asyncio.Event()

    async def write_in_a_transaction():
        async with in_transaction():
            inside.set()
            await User.filter(username="alice").update(display_name="never")
            await asyncio.sleep(30)

    other = sqlite3.connect(path, isolation_level=None)  # another process's writer, say
    try:
        if moment == "waiting for BEGIN":
            other.execute("BEGIN IMMEDIATE")  # BEGIN IMMEDIATE waits for it (busy_timeout)
        task = asyncio.create_task(write_in_a_transaction())
        if moment == "in the transaction":
            await asyncio.wait_for(inside.wait(), 5)
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.sleep(0.3)
        if other.in_transaction:
            other.execute("ROLLBACK")  # the BEGIN waiting for it now goes through
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    # The next requests are answered, and the cancelled write is not in the database.
    login = await asyncio.wait_for(client.post("/api/auth/login", json=CREDENTIALS), 10)
    assert login.status_code == 200, await login.get_data()
    async with app.app_context():
        async with in_transaction():
            assert (await User.get(username="alice")).display_name == "alice"


def test_only_outages_count_as_the_database_being_unavailable():
    from asyncpg.exceptions import ConnectionDoesNotExistError
    from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

    from mediahub.db import is_database_unavailable

    def raised(error: Exception, cause: BaseException | None = None) -> Exception:
        try:
            raise error from cause
        except Exception as caught:
            return caught

    outages = [raised(OperationalError("x"), sqlite3.OperationalError("database is locked")),
               raised(ConnectionDoesNotExistError("connection was closed in the middle")),
               raised(DBConnectionError("cannot connect"))]
    bugs = [raised(IntegrityError("x"), sqlite3.IntegrityError("UNIQUE constraint failed")),
            raised(OperationalError("x"), sqlite3.OperationalError("no such table: users")),
            raised(ConnectionResetError(104, "reset")),  # not raised by database code
            raised(ValueError("bad"))]
    assert [is_database_unavailable(error) for error in outages] == [True] * len(outages)
    assert [is_database_unavailable(error) for error in bugs] == [False] * len(bugs)
