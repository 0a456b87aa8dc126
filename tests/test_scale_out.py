"""The scaled-out layout end to end: two `mediahub serve` processes and one `mediahub worker`
sharing PostgreSQL, Redis and S3 (SeaweedFS), as docs/deploy.md describes."""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from mediahub.config import load_settings
from mediahub_hls_transcode.playlist import parse_master_playlist, parse_media_playlist
from tests.support.hls import make_tone
from tests.support.multipart import multipart
from tests.support.party import HostRelay, party_with_a_track_and_a_guest, wav_bytes
from tests.support.websocket_client import WebSocketClient


ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
PASSWORD = "correct horse battery"


# -- helpers ------------------------------------------------------------------------------


async def register(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post("/api/auth/register",
                                 json={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 201), response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def bucket_keys(s3: dict) -> list[str]:
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=s3["endpoint_url"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key_id"],
                          aws_secret_access_key=s3["secret_access_key"],
                          config=Config(s3={"addressing_style": "path"}))
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3["bucket"])
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


async def query(database_url: str, sql: str, *args):
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


async def eventually(check, timeout: float = 10.0):
    """Poll `check()` (sync or async) until it returns something truthy; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


# -- the deployment guide's config is the real schema -------------------------------------


def deploy_toml() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", DEPLOY_DOC.read_text(), flags=re.S)
    full = [block for block in blocks if "[jobs]" in block and "[database]" in block]
    assert len(full) == 1, "docs/deploy.md has one complete example config ([database] ... [jobs])"
    return full[0]


def test_the_deploy_guide_config_passes_config_check(tmp_path):
    text = deploy_toml()
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    # Its secrets come from the environment, as the guide says they should.
    names = set(re.findall(r'env\s*=\s*"([A-Z0-9_]+)"', text))
    assert {"MEDIAHUB_SECRET_KEY", "MEDIAHUB_DATABASE_URL", "MEDIAHUB_REDIS_URL"} <= names
    env = {name: f"value-of-{name.lower()}" for name in names}
    env["MEDIAHUB_DATABASE_URL"] = "postgres://mediahub:pw@db.internal:5432/mediahub"
    env["MEDIAHUB_REDIS_URL"] = "redis://redis.internal:6379/0"
    settings = load_settings(path, environ=env)
    assert settings.database_url.startswith("postgres://")
    assert (settings.bus.backend, settings.jobs.backend) == ("redis", "arq")
    assert settings.storage_default == "s3" and settings.storage["s3"].type == "s3"
    assert settings.server.secret_key is not None
    # The CLI's check also sees what only plugins know (their sections, storage options).
    result = subprocess.run([sys.executable, "-m", "mediahub.cli", "-c", str(path), "config", "check"],
                            capture_output=True, text=True, env={**env, "PATH": "/usr/bin:/bin"},
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "config ok" in result.stdout
    tomllib.loads(text)  # and it is plain TOML a reader can copy


# -- several processes starting together on one fresh database -------------------------------


async def test_processes_migrating_a_fresh_database_at_once_take_turns(tmp_path):
    """Two processes on one new SQLite file. (PostgreSQL: the layout fixture starts three
    processes at once on a fresh database, so every test on it depends on the lock.)"""
    env = {**os.environ, "MEDIAHUB__SERVER__DATA_DIR": str(tmp_path / "data")}
    env.pop("MEDIAHUB__DATABASE__URL", None)
    env.pop("MEDIAHUB_CONFIG", None)

    # Without the migration lock one of them dies with 'table "..." already exists'.
    async def migrate() -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mediahub.cli", "migrate", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        return process.returncode, output.decode(errors="replace")

    results = await asyncio.gather(migrate(), migrate())
    for code, output in results:
        assert code == 0, output[-2000:]
    applied = [line for _, output in results for line in output.splitlines()
               if line.startswith("applied core.")]
    assert len(applied) == len(set(applied)) > 0  # each migration applied once, by one of them


# -- parties across instances ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_guest_on_b_follows_a_host_on_a(scaled_layout):  # noqa: F811
    layout = scaled_layout
    async with httpx.AsyncClient(base_url=layout.a.url, timeout=20) as a, \
            httpx.AsyncClient(base_url=layout.b.url, timeout=20) as b:
        dj = await register(a, "dj-alice")
        party, track, guest_token = await party_with_a_track_and_a_guest(a, b, dj)
        # The browser session B opened (a cookie) is honoured by A too.
        assert b.cookies, "joining as a visitor signs the browser in with a cookie"
        me = await a.get("/api/auth/me", cookies=dict(b.cookies))
        assert me.status_code == 200 and me.json()["display_name"] == "Bob", me.text

    host = await WebSocketClient.connect(
        layout.ws_url(layout.a, f"/ws/party/{party['code']}?access_token={token_of(dj)}"))
    guest = await WebSocketClient.connect(
        layout.ws_url(layout.b, f"/ws/party/{party['code']}?access_token={guest_token}"))
    try:
        command = (await HostRelay.after_snapshots(host, guest)).command

        selected = await command({"t": "HOST_TRACK_SELECTED", "trackId": track.json()["trackId"]},
                                 "TRACK_SELECTED")
        assert selected["trackId"] == track.json()["trackId"] and not selected["playing"]
        play = await command({"t": "HOST_PLAY", "positionSec": 3}, "PLAY")
        assert play["playing"] and play["positionSec"] == 3
        pause = await command({"t": "HOST_PAUSE"}, "PAUSE")
        assert not pause["playing"] and pause["positionSec"] >= 3
        seek = await command({"t": "HOST_SEEK", "positionSec": 12.5}, "SEEK")
        assert seek["positionSec"] == 12.5 and not seek["playing"]
        # And back: a guest's report on B reaches the host on A.
        await guest.send_json({"t": "SYNC_REPORT", "offsetMs": 1.0, "driftMs": 2.0, "rttMs": 3.0})
        report = await host.receive_json("MEMBER_SYNC")
        assert report["name"] == "Bob"
    finally:
        await host.close()
        await guest.close()


# -- a track uploaded through A, transcoded by the worker, played through B -----------------


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_track_uploaded_through_a_is_transcoded_by_the_worker_and_plays_from_b(
        scaled_layout, tmp_path):  # noqa: F811
    layout = scaled_layout
    data = make_tone(tmp_path / "tone.mp3", 8, title="Scaled", artist="Out").read_bytes()
    async with httpx.AsyncClient(base_url=layout.a.url, timeout=30) as a, \
            httpx.AsyncClient(base_url=layout.b.url, timeout=30) as b, \
            httpx.AsyncClient(timeout=30) as storage:
        alice = await register(a, "uploader-alice")
        init = await a.post("/tracks/upload/init", headers=alice, json={
            "title": "", "artist_name": "", "file_extension": "mp3", "file_size": len(data)})
        assert init.status_code == 200, init.text
        init = init.json()
        track_id = init["track_id"]
        # The bytes go straight to the bucket (presigned POST), not through either instance.
        assert init["audio_upload_url"].startswith(layout.s3["endpoint_url"])
        posted = await storage.post(init["audio_upload_url"], data=init["audio_upload_fields"],
                                    files={"file": ("track", data)})
        assert posted.status_code in (200, 201, 204), posted.text
        complete = await a.post("/tracks/upload/complete", headers=alice,
                                json={"track_id": track_id})
        assert complete.status_code == 200, complete.text

        async def finished():
            status = (await b.get(f"/tracks/upload/status/{track_id}", headers=alice)).json()
            return status if status["status"] in ("completed", "failed") else None

        final = await eventually(finished, timeout=60)
        assert final and final["status"] == "completed", final
        detail = (await a.get(f"/api/tracks/{track_id}", headers=alice)).json()
        assert (detail["title"], detail["artist_name"]) == ("Scaled", "Out")

        # The master playlist link, signed by A, is honoured by B (the same secret_key).
        master = await b.get(detail["hls_master_url"])
        assert master.status_code == 200, master.text
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        variants = parse_master_playlist(master.text)
        assert len(variants) == 2
        media = await b.get(variants[0][1])
        assert media.status_code == 200, media.text
        listed = parse_media_playlist(media.text)
        assert listed.ended and abs(listed.duration - 8) < 0.5
        segment = await storage.get(listed.segments[0][0])  # a presigned GET from the bucket
        assert segment.status_code == 200 and len(segment.content) > 1000

    # The worker process ran the job; neither serve instance runs jobs with backend "arq".
    done = re.compile(r"job \S+ \(hls_transcode\) done on attempt")
    assert done.search(layout.worker.output()), layout.worker.output()[-3000:]
    for server in (layout.a, layout.b):
        assert "hls_transcode" not in server.output(), server.output()[-3000:]
    rows = await query(layout.database_url, "SELECT state FROM jobs WHERE key = $1",
                       f"hls:{track_id}")
    assert [row["state"] for row in rows] == ["done"]


# -- a temp upload through A, deleted by the party ending on B ------------------------------


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_temp_upload_through_a_is_deleted_when_the_party_ends_on_b(scaled_layout):  # noqa: F811
    layout = scaled_layout
    async with httpx.AsyncClient(base_url=layout.a.url, timeout=20) as a, \
            httpx.AsyncClient(base_url=layout.b.url, timeout=20) as b:
        dj = await register(a, "dj-carol")
        party = (await a.post("/api/parties", json={}, headers=dj)).json()
        session_id = party["sessionId"]
        body, content_type = multipart([("audio", "local-song.wav", wav_bytes(seconds=2)),
                                        ("sessionId", None, session_id.encode()),
                                        ("songTitle", None, b"From my phone")])
        uploaded = await a.post("/api/temp-upload/upload-temp", content=body,
                                headers={**dj, **content_type})
        assert uploaded.status_code == 200, uploaded.text
        public_id = uploaded.json()["publicId"]

        ledger = await query(layout.database_url,
                             "SELECT key, state FROM media_objects WHERE purpose = 'temp'")
        mine = [row for row in ledger if public_id in row["key"]]
        assert [row["state"] for row in mine] == ["stored"], ledger
        key = mine[0]["key"]
        assert any(stored.endswith(key) for stored in await asyncio.to_thread(bucket_keys, layout.s3))
        # Playable (a presigned GET) before the party ends.
        assert (await b.get(uploaded.json()["url"])).status_code in (200, 206)

        ended = await b.post(f"/api/parties/{party['code']}/end", headers=dj)
        assert ended.status_code == 200, ended.text

    async def gone() -> bool:
        rows = await query(layout.database_url, "SELECT 1 FROM media_objects WHERE key = $1", key)
        keys = await asyncio.to_thread(bucket_keys, layout.s3)
        return not rows and not any(stored.endswith(key) for stored in keys)

    assert await eventually(gone), "the temp upload outlived its party"
    left = await query(layout.database_url,
                       "SELECT 1 FROM temp_uploads WHERE session_id = $1", session_id)
    assert left == []


# -- a library change on A reaches the user's other device on B -----------------------------


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_library_change_on_a_reaches_the_other_device_on_b(scaled_layout):  # noqa: F811
    layout = scaled_layout
    async with httpx.AsyncClient(base_url=layout.a.url, timeout=20) as a:
        user = await register(a, "roaming-dave")
        device = await WebSocketClient.connect(
            layout.ws_url(layout.b, f"/ws/library?access_token={token_of(user)}"))
        try:
            assert (await device.receive_json(None))["type"] == "ready"
            latencies, answers = [], []
            for n in range(5):
                started = time.perf_counter()
                put = asyncio.create_task(a.put("/api/me/favorites", headers=user, json={
                    "favorites": [{"videoId": f"video-{n}", "addedAt": "2025-12-28T10:00:00Z"}],
                    "device_id": "laptop"}))
                put.add_done_callback(
                    lambda _, t0=started: answers.append((time.perf_counter() - t0) * 1000))
                message = await device.receive_json(None, timeout=5)
                latencies.append((time.perf_counter() - started) * 1000)
                changed = await put
                assert changed.status_code == 200, changed.text
                assert message["type"] == "library_changed" and message["device_id"] == "laptop"
                assert message["version"] == changed.json()["version"]
        finally:
            await device.close()
    # Measured from sending the PUT to A until the device on B has the message; the PUT's
    # own answer time is printed beside it (the write to PostgreSQL is most of both).
    print(f"\nlibrary change on A -> device on B, {len(latencies)} changes: median "
          f"{statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms "
          f"(PUT answered after median {statistics.median(answers):.1f} ms)")
    async with httpx.AsyncClient(base_url=layout.b.url, timeout=20) as b:
        library = (await b.get("/api/me/library", headers=user)).json()
    assert "video-4" in [favorite["videoId"] for favorite in library["favorites"]]
