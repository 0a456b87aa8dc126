"""The columns each catalog list selects and how a raw row of them becomes a Track, Album or Artist.

Lists are read as plain rows, never as ORM objects: building Tortoise models (field
conversions, iso8601 parsing of every timestamp) cost more than the queries themselves
(a 500-track page of the empty search on 50,000 tracks: 52 ms of CPU on PostgreSQL with
models, 13 ms with rows; 116 ms against 47 ms on SQLite). Both databases hand back the
same columns; what differs is the raw form of a value (SQLite: JSON as text, times as ISO
text, booleans as 0/1; PostgreSQL through asyncpg: jsonb as text, aware datetimes, bools),
which the small converters below even out.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from mediahub_music_library.shapes import Album, Artist, Track

# A track row: the track `t` and its album `a` (album name, album artist, album cover).
TRACK_COLUMNS = (
    "t.id, t.title, t.album_id, a.name AS album_name, t.artist_id, t.artist_name, t.artists,"
    " a.artist_id AS album_artist_id, a.artist_name AS album_artist, t.track_no, t.disc_no,"
    " t.year, t.genres, t.duration, t.bitrate, t.sample_rate, t.channels, t.suffix,"
    " t.content_type, t.size, t.rel_path, t.folder_id, t.created_at, t.cover_id,"
    " a.cover_id AS album_cover_id, t.lyrics IS NOT NULL AND t.lyrics <> '' AS has_lyrics,"
    " t.replay_gain, t.mbid, t.shared, t.owner_id")

ALBUM_COLUMNS = ("a.id, a.name, a.artist_id, a.artist_name, a.year, a.genres, a.cover_id,"
                 " a.created_at, a.mbid")

ARTIST_COLUMNS = "ar.id, ar.name, ar.cover_id, ar.mbid"


def cover_url(cover_id: str | None, size: int = 300) -> str | None:
    return f"/api/music/covers/{cover_id}?size={size}" if cover_id else None


def stream_url(track_id: str) -> str:
    return f"/api/music/tracks/{track_id}/stream"


def json_value(value):
    """A JSON column: text on both drivers here, already decoded if a driver ever decodes it."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def moment(value) -> datetime | None:
    """A stored time as an aware UTC datetime (what the ORM gives with use_tz)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def track_from_row(row: dict, user_id: str | None) -> Track:
    """A TRACK_COLUMNS row as the Track the viewer `user_id` sees (`mine` is theirs)."""
    gain = json_value(row["replay_gain"])
    cover_id = row["cover_id"] or row["album_cover_id"]
    folder_id, owner_id = row["folder_id"], row["owner_id"]
    return Track(
        id=row["id"], title=row["title"], album_id=row["album_id"], album=row["album_name"],
        artist_id=row["artist_id"], artist=row["artist_name"],
        artists=[{"id": artist_id, "name": name} for artist_id, name in json_value(row["artists"]) or []],
        album_artist_id=row["album_artist_id"], album_artist=row["album_artist"],
        track_no=row["track_no"], disc_no=row["disc_no"], year=row["year"],
        genres=list(json_value(row["genres"]) or []), duration=round(row["duration"], 3),
        bitrate=row["bitrate"], sample_rate=row["sample_rate"], channels=row["channels"],
        suffix=row["suffix"], content_type=row["content_type"], size=row["size"],
        path=row["rel_path"] if folder_id is not None else f"uploads/{row['title']}.{row['suffix']}",
        created_at=moment(row["created_at"]), cover_id=cover_id, cover_url=cover_url(cover_id),
        stream_url=stream_url(row["id"]), has_lyrics=bool(row["has_lyrics"]),
        replay_gain=dict(gain) if gain else None, mbid=row["mbid"], folder_id=folder_id,
        uploaded=folder_id is None, shared=bool(row["shared"]),
        mine=owner_id is not None and str(owner_id) == user_id)


def album_from_row(row: dict) -> Album:
    """An ALBUM_COLUMNS row with its visible `song_count` and `duration`."""
    return Album(row["id"], row["name"], row["artist_id"], row["artist_name"], row["year"],
                 list(json_value(row["genres"]) or []), int(row["song_count"] or 0),
                 round(float(row["duration"] or 0), 3), row["cover_id"], cover_url(row["cover_id"]),
                 moment(row["created_at"]), row["mbid"])


def artist_from_row(row: dict) -> Artist:
    """An ARTIST_COLUMNS row with its visible `album_count`."""
    return Artist(row["id"], row["name"], int(row["album_count"] or 0), row["cover_id"],
                  cover_url(row["cover_id"]), row["mbid"])
