"""Test plugin for uploads: routes that use the ingest API, hooks that record or refuse, a failing backend.

Also makes real audio samples with ffmpeg (`make_audio_samples`) for the sniffing and upload tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import AsyncIterator

from quart import Blueprint, jsonify, request

from mediahub import UploadRejected, hookimpl
from mediahub.errors import BadRequest
from mediahub.storage import ObjectStat
from mediahub.uploads import ingest_multipart, ingest_request

blueprint = Blueprint("upload_probe", __name__)

# Every upload_received call, in order: (media id, state, purpose).
received: list[tuple[str, str, str]] = []


def media_json(media) -> dict:
    return {"id": str(media.id), "key": media.key, "backend": media.backend,
            "state": media.state, "size": media.size, "sha256": media.sha256,
            "content_type": media.content_type, "purpose": media.purpose,
            "owner_id": str(media.owner_id) if media.owner_id else None}


async def ingest_options() -> dict:
    from mediahub.auth import current_user

    options = {"purpose": request.args.get("purpose", "probe"), "user": await current_user()}
    if "backend" in request.args:
        options["backend"] = request.args["backend"]
    if "max_bytes" in request.args:
        options["max_bytes"] = int(request.args["max_bytes"])
    if "allowed" in request.args:
        options["allowed"] = set(request.args["allowed"].split(","))
    return options


@blueprint.route("/probe/raw", methods=["PUT", "POST"])
async def raw_upload():
    media = await ingest_request(request, **await ingest_options())
    return jsonify(media_json(media)), 201


def require_format(fields: dict[str, str]) -> None:
    # The seed clients send the file first and `format` after it.
    if fields.get("format", "ok") != "ok":
        raise BadRequest("format must be 'ok'")


@blueprint.route("/probe/multipart", methods=["POST"])
async def multipart_upload():
    media, fields = await ingest_multipart(request, file_field="file",
                                           validate_fields=require_format, **await ingest_options())
    return jsonify({"media": media_json(media), "fields": fields}), 201


@blueprint.route("/probe/echo-json", methods=["POST"])
async def echo_json():
    # Quart's own body handling must keep working behind the bounded connection.
    return jsonify(await request.get_json())


@blueprint.route("/probe/echo-form", methods=["POST"])
async def echo_form():
    form = await request.form
    return jsonify(form.to_dict())


@hookimpl
def register_routes(app):
    return [blueprint]


@hookimpl
def upload_validate(upload):
    if upload.purpose == "refuse":
        raise UploadRejected("this purpose is refused", status=403)
    if upload.purpose == "crash":
        raise RuntimeError("a bug in a validating plugin")


@hookimpl
async def upload_received(media, purpose, user):
    received.append((str(media.id), media.state, purpose))


@hookimpl
def register_storage_backends():
    return {"probe-failing": FailingStorage.from_settings}


class FailingStorage:
    """Keeps objects in memory but breaks (OSError) once a write passes `fail_after` bytes.

    Like a real non-atomic store, the bytes written before the failure stay behind.
    """

    def __init__(self, name: str, fail_after: int):
        self.name = name
        self.fail_after = fail_after
        self.objects: dict[str, bytes] = {}

    @classmethod
    def from_settings(cls, options: dict) -> FailingStorage:
        return cls(options["name"], int(options.get("fail_after", 100_000)))

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str,
                  size: int | None = None) -> ObjectStat:
        written = bytearray()
        async for chunk in chunks:
            written += chunk
            self.objects[key] = bytes(written)
            if len(written) > self.fail_after:
                raise ConnectionResetError("storage went away")
        return ObjectStat(key=key, size=len(written), etag="x", last_modified=0.0,
                          content_type=content_type)

    async def stat(self, key: str) -> ObjectStat | None:
        data = self.objects.get(key)
        return None if data is None else ObjectStat(key=key, size=len(data), etag="x",
                                                     last_modified=0.0)

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        keys = [k for k in self.objects if k.startswith(prefix)]
        for key in keys:
            del self.objects[key]
        return len(keys)

    async def list(self, prefix: str = ""):
        for key, data in list(self.objects.items()):
            if key.startswith(prefix):
                yield ObjectStat(key=key, size=len(data), etag="x", last_modified=0.0)

    async def url(self, key: str, expires_in: int) -> str | None:
        return None

    def open_range(self, key: str, start: int, end: int):
        raise NotImplementedError


# -- real audio samples ---------------------------------------------------------------

# name -> ffmpeg output arguments for a 1 s 440 Hz tone.
SAMPLE_RECIPES = {
    "tone_id3.mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-metadata", "title=Tone"],
    "tone_bare.mp3": ["-c:a", "libmp3lame", "-b:a", "96k", "-id3v2_version", "0",
                      "-write_xing", "0"],
    "tone.wav": ["-c:a", "pcm_s16le"],
    "tone.flac": ["-c:a", "flac"],
    "tone_opus.ogg": ["-c:a", "libopus", "-f", "ogg"],
    "tone_vorbis.ogg": ["-c:a", "libvorbis", "-f", "ogg"],
    "tone.m4a": ["-c:a", "aac", "-f", "ipod"],
    "tone.aac": ["-c:a", "aac", "-f", "adts"],
    "tone.webm": ["-c:a", "libopus", "-f", "webm"],
}


def ffmpeg_exe() -> str:
    return shutil.which("ffmpeg") or __import__("imageio_ffmpeg").get_ffmpeg_exe()


def make_audio_samples(directory: Path) -> dict[str, Path]:
    """Real 1 s tones in every accepted format (made once per directory)."""
    directory.mkdir(parents=True, exist_ok=True)
    samples = {}
    for name, args in SAMPLE_RECIPES.items():
        path = directory / name
        if not path.exists():
            subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                            "-i", "sine=frequency=440:duration=1", *args, str(path)], check=True)
        samples[name] = path
    # An MP3 whose ID3 tag (cover art) is far larger than the first 64 KiB.
    covered = directory / "tone_cover.mp3"
    if not covered.exists():
        from mutagen.id3 import APIC, ID3

        shutil.copy(samples["tone_id3.mp3"], covered)
        tags = ID3(covered)
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover",
                      data=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1200))
        tags.save(covered)
    samples["tone_cover.mp3"] = covered
    return samples
