"""The one ffmpeg locator (PATH, else the imageio-ffmpeg binary) and the mutagen audio probe."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@functools.cache
def ffmpeg_path() -> str:
    """ffmpeg from PATH if installed, else the static binary shipped in the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class AudioInfo:
    """What mutagen reads from a file's own headers (no ffprobe needed)."""

    duration: float
    bitrate: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


class NotAudio(ValueError):
    """mutagen recognised no audio stream in the file."""


TAG_NAMES = {
    "title": ("title", "TIT2", "\xa9nam"),
    "artist": ("artist", "TPE1", "\xa9ART"),
    "album": ("album", "TALB", "\xa9alb"),
}


def probe(path: str | Path) -> AudioInfo:
    """Duration, bitrate and the common tags of an audio file; raises NotAudio otherwise.

    Blocking (reads the file): call it through asyncio.to_thread from async code.
    """
    import mutagen

    try:
        audio = mutagen.File(str(path))
    except mutagen.MutagenError as exc:
        raise NotAudio(str(exc)) from exc
    if audio is None or getattr(audio, "info", None) is None:
        raise NotAudio(f"{Path(path).name}: no audio stream recognised")
    info = audio.info
    return AudioInfo(
        duration=float(getattr(info, "length", 0.0) or 0.0),
        bitrate=getattr(info, "bitrate", None) or None,
        sample_rate=getattr(info, "sample_rate", None) or None,
        channels=getattr(info, "channels", None) or None,
        tags=read_tags(audio),
    )


def read_tags(audio) -> dict[str, str]:
    tags = {}
    for name, keys in TAG_NAMES.items():
        for key in keys:
            try:
                value = audio.tags.get(key) if audio.tags is not None else None
            except (KeyError, ValueError, AttributeError):
                value = None
            if value:
                text = value[0] if isinstance(value, list) else getattr(value, "text", [value])[0]
                if str(text).strip():
                    tags[name] = str(text).strip()
                    break
    return tags
