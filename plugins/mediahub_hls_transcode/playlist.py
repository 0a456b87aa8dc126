"""HLS playlists as text: the master playlist, reading media playlists, rewriting their URIs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

# AAC-LC in fMP4 (RFC 6381 codec string).
AAC_LC = "mp4a.40.2"
MAP_URI = re.compile(r'(#EXT-X-MAP:.*?URI=")([^"]*)(")')


@dataclass(frozen=True)
class Rendition:
    """One rung of the ladder: its folder name under the track's hls/ prefix and bitrate."""

    name: str
    kbps: int

    @property
    def bandwidth(self) -> int:
        # Peak bits per second, with room for the fMP4 boxes around the AAC frames.
        return int(self.kbps * 1000 * 1.1)


def ladder(bitrates: list[int]) -> list[Rendition]:
    return [Rendition(f"a{kbps}k", kbps) for kbps in sorted(bitrates)]


def master_playlist(renditions: list[Rendition], uri: Callable[[Rendition], str]) -> str:
    """The master playlist listing every rendition with BANDWIDTH and CODECS."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions:
        lines.append(f'#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},'
                     f'AVERAGE-BANDWIDTH={rendition.kbps * 1000},CODECS="{AAC_LC}"')
        lines.append(uri(rendition))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class MediaPlaylist:
    """What a media playlist lists: its init section, segments with durations, and whether it ended."""

    init: str | None
    segments: list[tuple[str, float]]
    target_duration: int | None
    playlist_type: str | None
    ended: bool

    @property
    def duration(self) -> float:
        return sum(length for _, length in self.segments)


def parse_media_playlist(text: str) -> MediaPlaylist:
    init = None
    segments: list[tuple[str, float]] = []
    target = kind = None
    ended = False
    pending: float | None = None
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        if line.startswith("#EXT-X-MAP:"):
            match = MAP_URI.search(line)
            init = match.group(2) if match else None
        elif line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:"):].split(",")[0])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            kind = line.split(":", 1)[1]
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif not line.startswith("#"):
            segments.append((line, pending or 0.0))
            pending = None
    return MediaPlaylist(init, segments, target, kind, ended)


def parse_master_playlist(text: str) -> list[tuple[dict[str, str], str]]:
    """(attributes, uri) of every variant of a master playlist."""
    variants = []
    attributes: dict[str, str] | None = None
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            attributes = {name: value.strip('"') for name, value in attributes.items()}
        elif line and not line.startswith("#") and attributes is not None:
            variants.append((attributes, line))
            attributes = None
    return variants


def as_vod(text: str) -> str:
    """The finished playlist: type VOD, with ENDLIST (ffmpeg wrote it as EVENT)."""
    lines = [line for line in text.splitlines() if line.strip()]
    lines = ["#EXT-X-PLAYLIST-TYPE:VOD" if line.startswith("#EXT-X-PLAYLIST-TYPE:") else line
             for line in lines]
    if "#EXT-X-PLAYLIST-TYPE:VOD" not in lines:
        lines.insert(1, "#EXT-X-PLAYLIST-TYPE:VOD")
    if "#EXT-X-ENDLIST" not in lines:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def as_event(text: str) -> str:
    """A playlist still growing: without ENDLIST, even if ffmpeg already closed it."""
    lines = [line for line in text.splitlines() if line.strip() and line.strip() != "#EXT-X-ENDLIST"]
    return "\n".join(lines) + "\n"


def rewrite_uris(text: str, resolve: Callable[[str], str]) -> str:
    """Replace every segment and init URI by resolve(uri) (signed URLs, per request)."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#EXT-X-MAP:"):
            line = MAP_URI.sub(lambda m: m.group(1) + resolve(m.group(2)) + m.group(3), stripped)
        elif stripped and not stripped.startswith("#"):
            line = resolve(stripped)
        out.append(line)
    return "\n".join(out) + "\n"


def safe_segment_name(name: str) -> bool:
    """Only plain names ffmpeg wrote (no paths) may be resolved to storage keys."""
    return bool(re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name)) and ".." not in name
