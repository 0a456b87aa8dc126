"""Waveform peaks and the true duration of an audio file, from one ffmpeg decode."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from array import array
from dataclasses import dataclass
from pathlib import Path

from mediahub import ffmpeg_path

# Decoding to 8 kHz mono is plenty for a drawing a few hundred columns wide and keeps the
# PCM of an hour-long render under 60 MB of pipe traffic.
SAMPLE_RATE = 8000
# Samples per block: the decode is reduced to one maximum per 10 ms as it streams in, so
# memory stays small whatever the length.
BLOCK = 80
READ_BYTES = 256 * 1024
FULL_SCALE = 32768


class Undecodable(ValueError):
    """ffmpeg could not decode the file as audio (or it holds no samples)."""


class TooLong(ValueError):
    """More audio than max_seconds, or the decode ran past its time limit (ffmpeg was killed)."""


@dataclass(frozen=True)
class Decoded:
    duration: float
    peaks: list[float]


def block_maxima(samples: array, block: int = BLOCK) -> list[int]:
    """The largest absolute sample of each run of `block` samples (the last run may be shorter)."""
    return [max(max(chunk), -min(chunk)) for chunk in
            (samples[i:i + block] for i in range(0, len(samples), block))]


def reduce_peaks(maxima: list[int], count: int) -> list[float]:
    """`count` peaks in 0..1 (fewer if there are fewer blocks), each the loudest block of its span."""
    if not maxima or count <= 0:
        return []
    count = min(count, len(maxima))
    peaks = []
    for index in range(count):
        start = index * len(maxima) // count
        end = max(start + 1, (index + 1) * len(maxima) // count)
        peaks.append(round(min(max(maxima[start:end]) / FULL_SCALE, 1.0), 3))
    return peaks


def decode(path: str | Path, count: int, *, max_seconds: float = float("inf"),
           timeout: float | None = None) -> Decoded:
    """Decode `path` with ffmpeg: its duration (from the samples themselves) and `count` peaks.

    ffmpeg stops just past max_seconds of audio and is killed after timeout seconds; either
    raises TooLong. Blocking: run it through asyncio.to_thread. Raises Undecodable.
    """
    limit = [] if max_seconds == float("inf") else ["-t", f"{max_seconds + 1:.3f}"]
    command = [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
               *limit, "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le",
               "-acodec", "pcm_s16le", "pipe:1"]
    # stderr goes to a file: a pipe nobody reads while stdout streams could fill and stall ffmpeg.
    errors_file = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors_file,
                               stdin=subprocess.DEVNULL)
    killer = threading.Timer(timeout, process.kill) if timeout else None
    if killer:
        killer.daemon = True
        killer.start()
    maxima: list[int] = []
    total = 0
    pending = b""
    try:
        while True:
            data = process.stdout.read(READ_BYTES)
            if not data:
                break
            data = pending + data
            usable = len(data) - len(data) % (2 * BLOCK)
            pending = data[usable:]
            samples = array("h", data[:usable])
            total += len(samples)
            maxima.extend(block_maxima(samples))
        if len(pending) >= 2:
            tail = array("h", pending[:len(pending) - len(pending) % 2])
            total += len(tail)
            maxima.extend(block_maxima(tail))
    finally:
        process.stdout.close()
        returncode = process.wait()
        if killer:
            killer.cancel()
        errors_file.seek(0)
        errors = errors_file.read(64 * 1024)
        errors_file.close()
    if killer and killer.finished.is_set() and returncode < 0:
        raise TooLong(f"decoding took longer than {timeout:g} s")
    if total > max_seconds * SAMPLE_RATE:
        raise TooLong(f"it holds more than {max_seconds:g} s of audio")
    if returncode != 0 or total == 0:
        message = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no audio samples"]
        raise Undecodable(message[0])
    return Decoded(duration=round(total / SAMPLE_RATE, 3), peaks=reduce_peaks(maxima, count))
