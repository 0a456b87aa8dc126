"""A track's audio: the original file through the host's Range rules, or an ffmpeg transcode.

Originals of folder tracks are read from the folder (read-only) and served by
`mediahub.media_response` with `FolderFiles` as its backend, so Range, ETag, 206, 304 and
416 follow the one set of rules. A transcode (`format`, `maxBitRate`, `timeOffset`) is one
ffmpeg process whose output is streamed as it comes (constant memory); at most
`[plugins.music_library.transcode] max_concurrent` run at once per process, through
`mediahub.decode_slot` (its own pool: a listen lasts minutes and must not take the places of
uploads' decodes): the next listener waits up to `[server] decode_wait` seconds for one, then
gets 503 `busy` with Retry-After before any audio. A listener who goes away stops theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat as stat_module
from typing import AsyncIterator

from quart import Response

from mediahub import (BadRequest, MediaObject, NotFound, ObjectStat, current_host, decode_slot,
                      ffmpeg_path, media_response)
from mediahub_music_library.models import MusicFolder, MusicTrack
from mediahub_music_library.scanner import stored_path

READ_CHUNK = 256 * 1024
PIPE_CHUNK = 64 * 1024
# ffmpeg encoder and container per format a client may ask for.
FORMATS = {
    "opus": (["-c:a", "libopus", "-f", "ogg"], "audio/ogg"),
    "aac": (["-c:a", "aac", "-f", "adts"], "audio/aac"),
    "mp3": (["-c:a", "libmp3lame", "-f", "mp3"], "audio/mpeg"),
}
MIN_BITRATE, MAX_BITRATE = 32, 320


class FolderFiles:
    """One music folder, read-only, shaped like the Storage methods media_response uses."""

    def __init__(self, root: str):
        self.root = root

    def path(self, key: str) -> str | None:
        # Keys are the scanner's relative paths, never a client's; refuse escapes anyway.
        if not key or key.startswith("/") or ".." in key.split("/") or "\x00" in key:
            return None
        return os.path.join(self.root, key)

    async def stat(self, key: str) -> ObjectStat | None:
        path = self.path(key)
        if path is None:
            return None
        try:
            info = await asyncio.to_thread(os.stat, path)
        except OSError:
            return None
        if not stat_module.S_ISREG(info.st_mode):
            return None
        return ObjectStat(key, info.st_size, f"{info.st_size:x}-{info.st_mtime_ns:x}", info.st_mtime)

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        path = self.path(key)
        if path is None:
            return
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            position = start
            while position <= end:
                chunk = await asyncio.to_thread(os.pread, handle.fileno(),
                                                min(READ_CHUNK, end - position + 1), position)
                if not chunk:
                    break  # the file shrank while it was served
                position += len(chunk)
                yield chunk
        finally:
            handle.close()


def transcode_plan(track: MusicTrack, format: str | None, max_bitrate: int | None,
                   time_offset: float, settings) -> tuple[str, int] | None:
    """(format, kbit/s) to transcode to, or None to send the original file.

    `format` "raw" is always the original; no format sends the original unless the file's
    bitrate is above `max_bitrate` or playback starts at an offset (then the configured
    default format is used). Asking for the file's own codec without a lower bitrate or
    an offset sends the original too.
    """
    if format == "raw":
        return None
    if format is not None and format not in FORMATS:
        raise BadRequest(f"format: one of raw, {', '.join(FORMATS)}", code="invalid_request")
    too_big = bool(max_bitrate) and (track.bitrate or MAX_BITRATE + 1) > max_bitrate
    if not too_big and time_offset <= 0 and (format is None or format == track.codec):
        return None
    bitrate = max_bitrate or settings.bitrate
    return format or settings.format, max(MIN_BITRATE, min(MAX_BITRATE, bitrate))


async def track_audio(track: MusicTrack, user, format: str | None = None,
                      max_bitrate: int | None = None, time_offset: float = 0) -> Response:
    """The response for a track the caller may play (visibility is checked by the caller)."""
    settings = current_host().plugin_config("music_library")
    plan = transcode_plan(track, format, max_bitrate, time_offset, settings.transcode)
    source, media, backend = await original_of(track)
    if plan is None:
        return await media_response(media, user, backend=backend)
    target, bitrate = plan
    codec, content_type = FORMATS[target]
    # The body runs after this handler returns: resolve what it needs from the app now.
    storage = current_host().storage.get(media.backend) if source is None else None
    # The place is taken before the answer starts, so a busy server can still say 503.
    slot = await HeldSlot.take(settings.transcode.max_concurrent)
    response = Response(transcoded(source, storage, media.key, codec, bitrate, time_offset, slot),
                        status=200, content_type=content_type)
    response.headers["Accept-Ranges"] = "none"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Duration"] = f"{max(track.duration - time_offset, 0):.3f}"
    response.timeout = None  # a slow listener must get every byte
    return response


async def original_of(track: MusicTrack):
    """(path or None, media row, backend or None) of the track's bytes; NotFound if gone."""
    if track.folder_id is not None:
        folder = await MusicFolder.get_or_none(id=track.folder_id)
        files = FolderFiles(folder.path) if folder else None
        key = stored_path(track.rel_path, track.raw_path) or ""  # not-UTF-8 names: their bytes
        path = files.path(key) if files else None
        if path is None or not os.path.isfile(path):
            raise NotFound("the track's file is gone")
        media = MediaObject(backend="music-library", key=key, state="stored",
                            content_type=track.content_type, size=track.size)
        return path, media, files
    # An upload: the ledger row is the uploading plugin's; rel_path is the audio's key in it.
    media = await current_host().ledger.get(track.media_id) if track.media_id else None
    if media is None or media.state != "stored" or not track.rel_path:
        await MusicTrack.filter(id=track.id).update(present=False)
        raise NotFound("the track's upload is gone")
    described = MediaObject(id=media.id, backend=media.backend, key=track.rel_path, state="stored",
                            content_type=track.content_type, size=track.size, owner_id=media.owner_id)
    return None, described, None


TRANSCODE_POOL = "music-library-transcode"
# A response whose body never starts (the client left between the handler and the first
# byte) gives its place back after this long.
UNCLAIMED_AFTER = 30.0


class HeldSlot:
    """A transcode place taken by the route and given back by the response body that uses
    it, or by a timer if that body never starts."""

    def __init__(self, context):
        self._context = context
        self._claimed = False
        self._released = False
        self._timer = asyncio.get_running_loop().call_later(UNCLAIMED_AFTER, self._unclaimed)

    @classmethod
    async def take(cls, size: int) -> "HeldSlot":
        context = decode_slot(TRANSCODE_POOL, size)
        await context.__aenter__()  # 503 busy + Retry-After after [server] decode_wait
        return cls(context)

    def claim(self) -> bool:
        """The body starts: False if the place was already given back (too late)."""
        self._timer.cancel()
        self._claimed = not self._released
        return self._claimed

    def _unclaimed(self) -> None:
        if not self._claimed:
            asyncio.ensure_future(self.release())

    async def release(self) -> None:
        if not self._released:
            self._released = True
            self._timer.cancel()
            await self._context.__aexit__(None, None, None)


_running: set = set()


def running_transcodes() -> int:
    """ffmpeg transcodes running in this process now (for /api/music/status)."""
    return len(_running)


async def transcoded(path: str | None, storage, key: str, codec: list[str], bitrate: int,
                     offset: float, slot: HeldSlot) -> AsyncIterator[bytes]:
    """ffmpeg's output as it is made, in the place `slot` holds (given back at the end).
    The process starts inside the generator, so a response never sent leaks none."""
    if not slot.claim():
        return
    try:
        source = path if path is not None else "pipe:0"
        args = [ffmpeg_path(), "-hide_banner", "-v", "error"]
        if offset > 0:
            args += ["-ss", f"{offset:.3f}"]
        args += ["-i", source, "-map", "0:a:0", "-vn", "-map_metadata", "-1", *codec,
                 "-b:a", f"{bitrate}k", "pipe:1"]
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE if path is None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        _running.add(process)
        feeder = asyncio.ensure_future(feed(process, storage, key)) if path is None else None
        try:
            while chunk := await process.stdout.read(PIPE_CHUNK):
                yield chunk
        finally:
            _running.discard(process)
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            if feeder is not None:
                feeder.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feeder
            await asyncio.shield(process.wait())
    finally:
        await slot.release()


async def feed(process, storage, key: str) -> None:
    """An upload's bytes from storage into ffmpeg's stdin, as fast as ffmpeg takes them."""
    stat = await storage.stat(key)
    try:
        if stat is not None and stat.size > 0:
            async for chunk in storage.open_range(key, 0, stat.size - 1):
                process.stdin.write(chunk)
                await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # ffmpeg stopped reading (it was killed, or needs no more)
    finally:
        with contextlib.suppress(Exception):
            process.stdin.close()


async def stream_response(user, track_id: str, format: str | None = None,
                          max_bitrate: int | None = None, time_offset: float = 0) -> Response:
    """`music_catalog().stream_response`: NotFound unless `user` may see the track."""
    from mediahub_music_library.visibility import viewer_for

    track = await MusicTrack.get_or_none(id=track_id)
    if track is None or not (await viewer_for(user)).sees_track(track):
        raise NotFound("no such track")
    return await track_audio(track, user, format, max_bitrate, time_offset)
