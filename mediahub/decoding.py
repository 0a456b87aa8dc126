"""Bounds on decoding what users upload: a few ffmpeg runs at once, each with a time limit.

A small file can claim (and hold) hours of audio: a 72 KB FLAC of silence decodes for 10
hours of samples. So every decode of a user's file holds one of `[server]
max_concurrent_decodes` slots (a request waits at most `decode_wait` seconds for one, then
gets 503 `busy` with Retry-After), runs in its own ffmpeg process that is killed after
`decode_timeout` seconds, and each feature refuses files longer than its own
`max_duration_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import weakref
from typing import AsyncIterator

from mediahub.errors import MediahubError, UploadRejected
from mediahub.host import current_host

_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class DecodeTooLong(UploadRejected):
    """The file holds (or claims) more audio than the feature accepts, or took too long."""

    code = "audio_too_long"


@contextlib.asynccontextmanager
async def decode_slot(pool: str = "decode", size: int | None = None) -> AsyncIterator[float]:
    """Hold one decode slot of this process; yields the time limit (seconds) for the decode.

    The default pool is `[server] max_concurrent_decodes` places shared by every decode of an
    upload. A feature whose ffmpeg runs are of another kind names its own `pool` of `size`
    places with the same rules (wait `decode_wait`, then 503 busy): music-library's streamed
    transcodes, which last as long as a listener listens, must not take the uploads' places.
    """
    host = current_host()
    server = host.settings.server
    pools = _slots.setdefault(host, {})
    semaphore = pools.get(pool)
    if semaphore is None:
        semaphore = pools[pool] = asyncio.Semaphore(size or server.max_concurrent_decodes)
    try:
        await asyncio.wait_for(semaphore.acquire(), server.decode_wait)
    except asyncio.TimeoutError:
        what = "decoding other uploads" if pool == "decode" else "with other transcodes"
        raise MediahubError(f"the server is busy {what}; try again shortly",
                            status=503, code="busy",
                            headers={"Retry-After": str(max(1, math.ceil(server.decode_wait)))}) from None
    try:
        yield server.decode_timeout
    finally:
        semaphore.release()


def check_duration(seconds: float | None, limit: float, what: str = "the file") -> None:
    """DecodeTooLong (422) if `seconds` of audio is over `limit`."""
    if seconds is not None and seconds > limit:
        raise DecodeTooLong(f"{what} is {format_duration(seconds)} long; at most "
                            f"{format_duration(limit)} is accepted")


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
