"""Shared pieces of the hls-transcode tests: generated audio, the upload flow as a client does it."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from mediahub.media import ffmpeg_path
from mediahub.testing import login
from tests.support.multipart import multipart


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


async def post_presigned(client, url: str, fields: dict, data: bytes):
    """POST a presigned form: to the app for host-relative URLs, over HTTP (S3) otherwise."""
    # The file comes last, as S3 POST forms require.
    body, headers = multipart([*((name, None, str(value)) for name, value in fields.items()),
                               ("file", "track.mp3", data)], file_type="application/octet-stream")
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


class Env:
    def __init__(self, app):
        self.app = app
        self.host = app.extensions["mediahub"]
        self.client = app.test_client()

    async def sign_in(self):
        self.alice = await login(self.client, "alice")
        self.bob = await login(self.client, "bob")
        return self

    async def init(self, headers, size: int, **body) -> dict:
        response = await self.client.post("/tracks/upload/init", headers=headers, json={
            "title": "", "artist_name": "", "file_extension": "mp3", "file_size": size, **body})
        answer = await response.get_json()
        assert response.status_code == 200, answer
        return answer

    async def upload(self, init: dict, data: bytes, which: str = "audio"):
        return await post_presigned(self.client, init[f"{which}_upload_url"],
                                    init[f"{which}_upload_fields"], data)

    async def complete(self, headers, track_id: str):
        response = await self.client.post("/tracks/upload/complete", headers=headers,
                                          json={"track_id": track_id})
        return response.status_code, await response.get_json()

    async def keys(self) -> list[str]:
        return sorted([stat.key async for stat in self.host.storage.default.list("")])
