"""The collection's dataclasses (what `music_catalog()` returns) and their JSON form (camelCase)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime


@dataclass
class Folder:
    id: int
    name: str


@dataclass
class Artist:
    id: str
    name: str
    album_count: int = 0
    cover_id: str | None = None
    cover_url: str | None = None
    mbid: str | None = None


@dataclass
class Album:
    id: str
    name: str
    artist_id: str
    artist: str
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    song_count: int = 0
    duration: float = 0.0
    cover_id: str | None = None
    cover_url: str | None = None
    created_at: datetime | None = None
    mbid: str | None = None


@dataclass
class Track:
    id: str
    title: str
    album_id: str
    album: str
    artist_id: str
    artist: str
    artists: list[dict] = field(default_factory=list)  # [{"id", "name"}] in tag order
    album_artist_id: str | None = None
    album_artist: str | None = None
    track_no: int | None = None
    disc_no: int | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    duration: float = 0.0  # seconds
    bitrate: int | None = None  # kbit/s
    sample_rate: int | None = None
    channels: int | None = None
    suffix: str = ""
    content_type: str = "application/octet-stream"
    size: int = 0
    path: str = ""
    created_at: datetime | None = None
    cover_id: str | None = None
    cover_url: str | None = None
    stream_url: str = ""
    has_lyrics: bool = False
    replay_gain: dict | None = None  # {"track_gain", "track_peak", "album_gain", "album_peak"}
    mbid: str | None = None
    folder_id: int | None = None
    uploaded: bool = False
    shared: bool = False
    mine: bool = False


@dataclass
class Genre:
    name: str
    song_count: int = 0
    album_count: int = 0


@dataclass
class SearchResult:
    artists: list[Artist] = field(default_factory=list)
    albums: list[Album] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def as_json(value):
    """A dataclass (or a list of them, or a dict) with camelCase keys; datetimes as ISO 8601."""
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {camel(key): as_json(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {camel(f.name): as_json(getattr(value, f.name)) for f in fields(value)}
    return value
