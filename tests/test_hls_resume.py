"""A real `mediahub serve` killed in the middle of a transcode: restarted, the track completes."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

from mediahub.media import ffmpeg_path
from mediahub_hls_transcode.playlist import parse_master_playlist, parse_media_playlist
from tests.server_process import ServerProcess

LONG_SECONDS = 300


def sign_in(http: httpx.Client) -> dict:
    credentials = {"username": "alice", "password": "correct horse battery"}
    http.post("/api/auth/register", json=credentials)
    token = http.post("/api/auth/login", json=credentials).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def status_of(http: httpx.Client, headers: dict, track_id: str) -> dict:
    response = http.get(f"/tracks/upload/status/{track_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(http, headers, track_id, done, limit=180) -> dict:
    deadline = time.monotonic() + limit
    while True:
        status = status_of(http, headers, track_id)
        if done(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_killed_server_resumes_the_transcode(tmp_path):
    # Long but small: a low bitrate keeps the upload quick while ffmpeg has minutes to encode.
    source = tmp_path / "long.mp3"
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=330:duration={LONG_SECONDS}:sample_rate=22050", "-ac", "1",
                    "-c:a", "libmp3lame", "-b:a", "16k", str(source)], check=True)
    data = source.read_bytes()
    env = {"MEDIAHUB__JOBS__LEASE_SECONDS": "2", "MEDIAHUB__JOBS__RETRY_BACKOFF": "0"}
    data_dir = tmp_path / "data"

    server = ServerProcess(data_dir, env=env).__enter__()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            headers = sign_in(http)
            init = http.post("/tracks/upload/init", headers=headers, json={
                "title": "Long", "artist_name": "Tone", "file_extension": "mp3",
                "file_size": len(data)}).json()
            track_id = init["track_id"]
            upload = http.post(init["audio_upload_url"], data=init["audio_upload_fields"],
                               files={"file": ("long.mp3", data)})
            assert upload.status_code == 204, upload.text
            assert http.post("/tracks/upload/complete", headers=headers,
                             json={"track_id": track_id}).status_code == 200
            midway = wait_until(http, headers, track_id, lambda s: s["progress"] > 0 or s["status"] != "processing")
            assert midway["status"] == "processing" and 0 < midway["progress"] < 100, midway
            # Progressive: playable while still processing, the media playlist an open EVENT one.
            deadline = time.monotonic() + 60
            while not (detail := http.get(f"/api/tracks/{track_id}", headers=headers).json())["hls_master_url"]:
                assert time.monotonic() < deadline, detail
                time.sleep(0.05)
            assert detail["status"] == "processing", detail
            master = parse_master_playlist(http.get(detail["hls_master_url"]).text)
            growing = parse_media_playlist(http.get(master[0][1]).text)
            assert growing.playlist_type == "EVENT" and not growing.ended and growing.segments
            first = http.get(growing.segments[0][0])
            assert first.status_code == 200 and first.headers["Content-Type"] == "video/iso.segment"
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        server.log.close()

    with ServerProcess(data_dir, env=env) as again, httpx.Client(base_url=again.url, timeout=30) as http:
        headers = sign_in(http)
        final = wait_until(http, headers, track_id, lambda s: s["status"] in ("ready", "failed"))
        assert final["status"] == "ready", (final, again.output()[-3000:])
        detail = http.get(f"/api/tracks/{track_id}", headers=headers).json()
        assert abs(detail["duration_seconds"] - LONG_SECONDS) < 0.2
        # ffmpeg itself reads the master playlist, its variants and segments back over HTTP.
        check = subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-i",
                                again.url + detail["hls_master_url"], "-map", "0:a:0", "-t", "20",
                                "-f", "null", os.devnull], capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        assert check.stderr.strip() == ""
