"""ffmpeg commands for the HLS ladder and loudness (pure), and running one with progress."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from typing import Awaitable, Callable

import ffmpeg

from mediahub_hls_transcode.playlist import Rendition

INIT_NAME = "init.mp4"
PLAYLIST_NAME = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.m4s"
STDERR_TAIL = 16 * 1024
INTEGRATED = re.compile(r"Integrated loudness:\s*I:\s*(-?[0-9.]+|-inf)\s*LUFS", re.S)


class TranscodeFailed(RuntimeError):
    """ffmpeg exited with an error; the message is meant for the uploader."""


def hls_command(ffmpeg_binary: str, source: str, workdir: str, renditions: list[Rendition],
                segment_seconds: int, max_seconds: float | None = None) -> list[str]:
    """One ffmpeg run: decode once, encode every rendition to fMP4 HLS, measure EBU R128.

    With max_seconds, ffmpeg reads no more than that (plus a second) of the input."""
    limit = {"t": f"{max_seconds + 1:.3f}"} if max_seconds else {}
    decoded = ffmpeg.input(source, **limit).audio
    outputs = []
    for index, rendition in enumerate(renditions):
        folder = os.path.join(workdir, rendition.name)
        # The loudness is measured on the way to the first rendition's encoder, not in an
        # output of its own: that output (its s16 conversion, a PCM encoder and a muxer,
        # each a thread in ffmpeg 7+) cost more than the meter (~3% of ffmpeg's instructions
        # against ~2% inline). ebur128 passes the frames on unchanged; the aresample after it
        # turns its doubles back into the encoder's floats (exactly) and does any channel
        # conversion there, so the meter sees the source's own channels, as before.
        stream = measured(decoded) if index == 0 else decoded
        outputs.append(stream.output(
            os.path.join(folder, PLAYLIST_NAME), vn=None, sn=None, acodec="aac",
            audio_bitrate=f"{rendition.kbps}k", ac=2, f="hls", hls_time=segment_seconds,
            hls_segment_type="fmp4", hls_playlist_type="event", hls_flags="temp_file",
            hls_fmp4_init_filename=INIT_NAME,
            hls_segment_filename=os.path.join(folder, SEGMENT_PATTERN)))
    rest = ffmpeg.merge_outputs(*outputs).compile(cmd=ffmpeg_binary)[1:]
    # Global options first: ffmpeg 7+ ignores options trailing after the last output.
    return [ffmpeg_binary, "-nostdin", "-hide_banner", "-nostats", "-y",
            "-progress", "pipe:1", *rest]


def measured(stream):
    """The stream through the EBU R128 meter, back in the AAC encoder's sample format."""
    # framelog=verbose: only the summary, not a line per 100 ms that the worker would read.
    return (stream.filter("ebur128", framelog="verbose").filter("aresample")
            .filter("aformat", sample_fmts="fltp"))


def progress_percent(line: str, duration: float) -> float | None:
    """0-100 from one `-progress` line (`out_time_us=`; `out_time_ms` is microseconds too)."""
    name, _, value = line.strip().partition("=")
    if name == "progress" and value == "end":
        return 100.0
    if name not in ("out_time_us", "out_time_ms") or duration <= 0:
        return None
    try:
        microseconds = int(value)
    except ValueError:
        return None  # "N/A" before the first frame
    return max(0.0, min(100.0, microseconds / 1e6 / duration * 100))


def integrated_loudness(stderr: str) -> float | None:
    """The ebur128 summary's integrated loudness (LUFS), None for silence or no summary."""
    matches = INTEGRATED.findall(stderr)
    if not matches or matches[-1] == "-inf":
        return None
    value = float(matches[-1])
    return None if value <= -70 else value


def readable_error(stderr: str, returncode: int) -> str:
    """The last meaningful lines ffmpeg printed, for the uploader."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Input #", "Stream #", "Duration:",
                                                             "Metadata:", "[out#"))]
    tail = "; ".join(useful[-3:])[-500:]
    return f"ffmpeg could not decode the file (exit {returncode}): {tail or 'no output'}"


async def run(command: list[str], duration: float,
              on_progress: Callable[[float], Awaitable[None]], timeout: float | None = None) -> str:
    """Run ffmpeg, reporting progress; return its stderr, or raise TranscodeFailed.

    ffmpeg is killed after timeout seconds (TranscodeFailed says so)."""
    try:
        return await asyncio.wait_for(run_to_end(command, duration, on_progress), timeout)
    except asyncio.TimeoutError:
        raise TranscodeFailed(f"processing took longer than {timeout:g} s and was stopped") from None


async def run_to_end(command: list[str], duration: float,
                     on_progress: Callable[[float], Awaitable[None]]) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    stderr = bytearray()

    async def drain_stderr() -> None:
        # Kept short: a long file can print a lot, and only the end explains a failure.
        while chunk := await process.stderr.read(65536):
            stderr.extend(chunk)
            if len(stderr) > 4 * STDERR_TAIL:
                del stderr[:-STDERR_TAIL]

    drainer = asyncio.create_task(drain_stderr())
    try:
        while line := await process.stdout.readline():
            percent = progress_percent(line.decode("utf-8", "replace"), duration)
            if percent is not None:
                await on_progress(percent)
        returncode = await process.wait()
        await drainer
    except BaseException:
        # Cancelled (shutdown) or failed: never leave ffmpeg running behind us.
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(BaseException):
            await process.wait()
        drainer.cancel()
        raise
    text = stderr.decode("utf-8", "replace")
    if returncode != 0:
        raise TranscodeFailed(readable_error(text, returncode))
    return text
