"""Shared pieces of the hls-transcode tests: generated audio, the upload flow as a client does it."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from mediahub.media import ffmpeg_path

BOUNDARY = "----hls-test-boundary"


def make_tone(path: Path, seconds: float, *, title: str | None = None, artist: str | None = None,
              codec: str = "libmp3lame") -> Path:
    """A stereo sine tone encoded by ffmpeg (tags optional)."""
    command = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
               "-i", f"sine=frequency=440:duration={seconds}:sample_rate=44100", "-ac", "2",
               "-c:a", codec, "-b:a", "128k"]
    for name, value in (("title", title), ("artist", artist)):
        if value:
            command += ["-metadata", f"{name}={value}"]
    subprocess.run(command + [str(path)], check=True)
    return path


def multipart(fields: dict[str, str], data: bytes, filename: str = "track.mp3") -> tuple[bytes, dict]:
    body = b""
    for name, value in fields.items():
        body += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                 f"{value}\r\n").encode()
    body += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += data + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def post_presigned(client, url: str, fields: dict, data: bytes):
    """POST a presigned form: to the app for host-relative URLs, over HTTP (S3) otherwise."""
    body, headers = multipart(fields, data)
    if url.startswith("/"):
        response = await client.post(url, data=body, headers=headers)
        return response.status_code, await response.get_data()
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(url, data=fields, files={"file": ("track", data)})
        return response.status_code, response.content


async def wait_for_status(client, headers, track_id: str, wanted=("completed", "failed"),
                          limit: float = 120) -> dict:
    """Poll the status endpoint until the track is completed or failed (bounded: a stuck job fails)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        response = await client.get(f"/tracks/upload/status/{track_id}", headers=headers)
        body = await response.get_json()
        assert response.status_code == 200, body
        if body["status"] in wanted or loop.time() > deadline:
            return body
        await asyncio.sleep(0.1)
