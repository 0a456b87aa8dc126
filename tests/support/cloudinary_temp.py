"""Shared pieces of the cloudinary-temp tests: the plugin's settings, real mp3 tones, the seed's upload form."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.plugins.upload_probe import ffmpeg_exe
from tests.support.multipart import multipart

FOLDER = "party/temp"
TTL = 7200


def tone(directory: Path, frequency: int, seconds: int = 1) -> bytes:
    path = directory / f"tone_{frequency}_{seconds}.mp3"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"sine=frequency={frequency}:duration={seconds}",
                        "-c:a", "libmp3lame", "-b:a", "128k", str(path)], check=True)
    return path.read_bytes()


def form(fields: dict[str, str], audio: bytes | None, *, file_first: bool = True) -> tuple[bytes, dict]:
    """A multipart body like the seed's client sends (the file first, then the fields)."""
    field_parts = [(name, None, str(value)) for name, value in fields.items()]
    file_parts = [("audio", "song.mp3", audio)] if audio is not None else []
    return multipart(file_parts + field_parts if file_first else field_parts + file_parts)


async def upload(client, auth, audio, session_id="party-1", title="Tum Hi Ho", **kwargs):
    fields = {"sessionId": session_id, "songTitle": title} if session_id is not None else {"songTitle": title}
    body, headers = form(fields, audio, **kwargs)
    return await client.post("/api/temp-upload/upload-temp", data=body, headers={**headers, **auth})


async def uploaded(client, auth, audio, **kwargs) -> dict:
    response = await upload(client, auth, audio, **kwargs)
    body = await response.get_json()
    assert response.status_code == 200, body
    return body
