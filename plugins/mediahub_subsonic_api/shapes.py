"""The collection's dataclasses (from `music_catalog()`) in Subsonic's shapes: Child, AlbumID3, ArtistID3.

`Marks` carries what the user added to an item (starred time, rating, play count), so
every list an endpoint returns shows the same ♥ the browser shows.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone

IGNORED_ARTICLES = "The El La Los Las Le Les"
_ARTICLES = tuple(f"{word.lower()} " for word in IGNORED_ARTICLES.split())


@dataclass
class Marks:
    starred: dict[str, str] = field(default_factory=dict)  # item id -> ISO time
    ratings: dict[str, int] = field(default_factory=dict)
    plays: dict[str, int] = field(default_factory=dict)

    def of(self, item_id: str) -> dict:
        return {"starred": self.starred.get(item_id), "userRating": self.ratings.get(item_id),
                "playCount": self.plays.get(item_id)}


NO_MARKS = Marks()


def iso(value) -> str | None:
    """Times as Subsonic servers write them: UTC, milliseconds, a Z."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def seconds(value) -> int:
    return int(round(value or 0))


def _genre(genres: list[str]) -> str | None:
    return genres[0] if genres else None


def _replay_gain(value: dict | None) -> dict | None:
    if not value:
        return None
    keys = {"track_gain": "trackGain", "track_peak": "trackPeak", "album_gain": "albumGain",
            "album_peak": "albumPeak", "trackGain": "trackGain", "trackPeak": "trackPeak",
            "albumGain": "albumGain", "albumPeak": "albumPeak"}
    gain = {keys[k]: v for k, v in value.items() if k in keys and v is not None}
    return gain or None


def song(track, marks: Marks = NO_MARKS) -> dict:
    """A track as a Subsonic Child (song)."""
    album_artists = ([{"id": track.album_artist_id, "name": track.album_artist}]
                     if track.album_artist_id and track.album_artist else [])
    return {
        "id": track.id, "parent": track.album_id, "isDir": False, "title": track.title,
        "album": track.album, "artist": track.artist, "track": track.track_no,
        "year": track.year, "genre": _genre(track.genres), "coverArt": track.cover_id,
        "size": track.size, "contentType": track.content_type, "suffix": track.suffix,
        "duration": seconds(track.duration), "bitRate": track.bitrate, "path": track.path or None,
        "discNumber": track.disc_no, "created": iso(track.created_at), "albumId": track.album_id,
        "artistId": track.artist_id, "type": "music", "mediaType": "song", "isVideo": False,
        **marks.of(track.id),
        "samplingRate": track.sample_rate, "channelCount": track.channels,
        "musicBrainzId": track.mbid or None,
        "genres": [{"name": name} for name in track.genres],
        "artists": [{"id": a.get("id"), "name": a.get("name")} for a in track.artists
                    if a.get("id") and a.get("name")],
        "displayArtist": track.artist,
        "albumArtists": album_artists, "displayAlbumArtist": track.album_artist,
        "replayGain": _replay_gain(track.replay_gain),
    }


def album_id3(album, marks: Marks = NO_MARKS) -> dict:
    return {
        "id": album.id, "name": album.name, "artist": album.artist, "artistId": album.artist_id,
        "coverArt": album.cover_id, "songCount": album.song_count,
        "duration": seconds(album.duration), "created": iso(album.created_at) or iso(EPOCH),
        "year": album.year, "genre": _genre(album.genres), **marks.of(album.id),
        "musicBrainzId": album.mbid or None, "genres": [{"name": name} for name in album.genres],
        "artists": [{"id": album.artist_id, "name": album.artist}], "displayArtist": album.artist,
        "sortName": sort_name(album.name),
    }


def album_child(album, marks: Marks = NO_MARKS) -> dict:
    """An album as a directory Child (getAlbumList, getMusicDirectory of an artist, search2)."""
    return {
        "id": album.id, "parent": album.artist_id, "isDir": True, "title": album.name,
        "name": album.name, "album": album.name, "artist": album.artist, "year": album.year,
        "genre": _genre(album.genres), "coverArt": album.cover_id,
        "duration": seconds(album.duration), "created": iso(album.created_at),
        "artistId": album.artist_id, "songCount": album.song_count, **marks.of(album.id),
        "mediaType": "album",
    }


def artist_id3(artist, marks: Marks = NO_MARKS) -> dict:
    marked = marks.of(artist.id)
    return {"id": artist.id, "name": artist.name, "coverArt": artist.cover_id,
            "albumCount": artist.album_count, "starred": marked["starred"],
            "userRating": marked["userRating"], "musicBrainzId": artist.mbid or None,
            "sortName": sort_name(artist.name)}


def artist_plain(artist, marks: Marks = NO_MARKS) -> dict:
    """An artist as the folder-based API's Artist (getIndexes, search2, getStarred)."""
    marked = marks.of(artist.id)
    return {"id": artist.id, "name": artist.name, "starred": marked["starred"],
            "userRating": marked["userRating"], "coverArt": artist.cover_id,
            "albumCount": artist.album_count}


def sort_name(name: str) -> str:
    lowered = name.lower()
    for article in _ARTICLES:
        if lowered.startswith(article) and len(name) > len(article):
            return name[len(article):]
    return name


def index_letter(name: str) -> str:
    stripped = sort_name(name).strip()
    if not stripped:
        return "#"
    # "É" files under "E": the letter without its accent.
    first = unicodedata.normalize("NFKD", stripped[0])[0].upper()
    return first if "A" <= first <= "Z" else "#"


def indexed(artists: list, shape) -> list[dict]:
    """Artists grouped under their first letter (articles ignored), "#" for the rest."""
    groups: dict[str, list[dict]] = {}
    for artist in sorted(artists, key=lambda a: sort_name(a.name).casefold()):
        groups.setdefault(index_letter(artist.name), []).append(shape(artist))
    order = sorted(groups, key=lambda letter: (letter == "#", letter))
    return [{"name": letter, "artist": groups[letter]} for letter in order]


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
