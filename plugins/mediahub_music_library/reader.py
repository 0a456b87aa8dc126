"""What one audio file gives the collection without the database: tags, names, fingerprint, cover.

Pure and blocking: the scanner runs `read_batch` in worker processes (a full scan) or a thread
(a few changed files), then writes what it returns; nothing here touches the database or
writes anywhere but the cover cache (the music folders stay read-only).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from mediahub_music_library.names import fold, sort_name
from mediahub_music_library.tags import TrackTags, Unreadable, read_tags

HEAD_BYTES = 64 * 1024
UNKNOWN_ARTIST = "Unknown Artist"
UNKNOWN_ALBUM = "Unknown Album"


def fingerprint(handle, size: int) -> str:
    """size + sha1 of the first and last 64 KiB of the open file: survives a move or rename,
    cheap to compute."""
    digest = hashlib.sha1(str(size).encode())
    handle.seek(0)
    digest.update(handle.read(HEAD_BYTES))
    if size > 2 * HEAD_BYTES:
        handle.seek(-HEAD_BYTES, os.SEEK_END)
        digest.update(handle.read(HEAD_BYTES))
    return digest.hexdigest()


def display(rel_path: str) -> str:
    """A path as text even when its bytes are not UTF-8 (shown with replacement characters)."""
    return rel_path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def raw_path(rel_path: str) -> str | None:
    """The bytes of a path that is not UTF-8, base64 (for music_tracks.raw_path); else None.

    os.walk gives such names as str with surrogate escapes, which neither database can
    store; their bytes are what opening the file again needs.
    """
    try:
        rel_path.encode("utf-8")
    except UnicodeEncodeError:
        return base64.b64encode(rel_path.encode("utf-8", "surrogateescape")).decode("ascii")
    return None


def artist_key(name: str) -> str:
    return fold(name) or name.lower()


@dataclass
class AlbumInfo:
    """An album as one file names it; its row is made from the first file met."""

    key: str  # album artist key + folded name + MusicBrainz album id
    name: str
    year: int | None
    genres: list[str]
    compilation: bool
    mbid: str | None


@dataclass
class Description:
    """A file's track columns that need no database, and the artists and album it names."""

    columns: dict
    artists: list[tuple[str, str, str | None]]  # (key, name, MusicBrainz id) in tag order
    album_artist: tuple[str, str]  # (key, name)
    album: AlbumInfo


def describe(tags: TrackTags, rel: str) -> Description:
    """Track columns from tags, with folder and file names where tags are missing."""
    parts = rel.replace("\\", "/").split("/")
    stem = os.path.splitext(parts[-1])[0]
    title = tags.title or display(stem)
    artist_names = tags.artists or ([display(parts[-3])] if len(parts) >= 3 else [UNKNOWN_ARTIST])
    album_name = tags.album or (display(parts[-2]) if len(parts) >= 2 else UNKNOWN_ALBUM)
    compilation = tags.compilation or "various artists" in [fold(a) for a in tags.album_artists]
    album_artist_name = (tags.album_artists or (["Various Artists"] if compilation else artist_names))[0]
    album_artist = (artist_key(album_artist_name), album_artist_name)
    album = AlbumInfo(key=f"{album_artist[0]}\n{fold(album_name)}\n{tags.album_mbid or ''}"[:1100],
                      name=album_name, year=tags.year, genres=tags.genres, compilation=compilation,
                      mbid=tags.album_mbid)
    columns = dict(
        title=title[:500], sort_title=sort_name(title)[:500],
        search_text=fold(f"{title} {' '.join(artist_names)} {album_name}"),
        artist_name=", ".join(artist_names)[:1000], track_no=tags.track_no,
        track_total=tags.track_total, disc_no=tags.disc_no, disc_total=tags.disc_total,
        year=tags.year, date=tags.date, genres=tags.genres, duration=tags.duration,
        bitrate=tags.bitrate, sample_rate=tags.sample_rate, channels=tags.channels,
        bit_depth=tags.bit_depth, codec=tags.codec, suffix=tags.suffix,
        content_type=tags.content_type, replay_gain=tags.replay_gain, mbid=tags.mbid,
        compilation=compilation, lyrics=tags.lyrics)
    artists = [(artist_key(name), name, tags.artist_mbid if i == 0 else None)
               for i, name in enumerate(artist_names)]
    return Description(columns, artists, album_artist, album)


@dataclass
class CoverRead:
    """A cover found for a file, already in the cover cache (`<data_dir>/music-library/covers/<id>`)."""

    id: str  # sha1 of the bytes
    kind: str  # embedded | file
    # Where it was found (the track, or the image file, in its folder), to extract it again if
    # the cache is lost; None for a name that is not UTF-8, which no database column holds.
    rel_path: str | None
    mime: str
    size: int


@dataclass
class FileRead:
    """What the scanner writes of one file that reads."""

    description: Description
    fingerprint: str
    cover: CoverRead | None


def cache_cover(data: bytes | None, kind: str, rel_path: str, cache: Path) -> CoverRead | None:
    """`data` as a cover in the cache, if it is an image Pillow can read (checked once per picture)."""
    from mediahub_music_library.covers import MAX_COVER_BYTES, decodable, image_mime, write_atomically

    if not data or len(data) > MAX_COVER_BYTES:
        return None
    mime = image_mime(data[:16])
    if mime is None:
        return None
    cover_id = hashlib.sha1(data).hexdigest()
    # Only pictures that decoded are ever cached, so one already there needs no second look.
    if not (cache / cover_id).exists():
        if not decodable(data):
            return None
        write_atomically(cache / cover_id, data)
    return CoverRead(cover_id, kind, rel_path if raw_path(rel_path) is None else None, mime, len(data))


def read_batch(files: list[tuple[str, str, int]], folder_path: str, artist_separators: list[str],
               genre_separators: list[str], cover_cache: str) -> list[FileRead | Exception]:
    """A FileRead, or the Unreadable that skips it, per (rel, full path, size) of `files`.

    A whole batch per call: one hand-off per 200 files, and each worker keeps its own
    folder-image lookups (a folder's files arrive together, in walk order).
    """
    from mediahub_music_library.covers import folder_image, read_image

    cache = Path(cover_cache)
    folder_covers: dict[str, CoverRead | None] = {}
    # An album's tracks mostly embed the same picture: comparing its bytes with the last
    # one's is cheaper than hashing it again (and its cache file is known to be there).
    last_picture: tuple[bytes, CoverRead | None] | None = None
    results: list[FileRead | Exception] = []
    for rel, full, size in files:
        try:
            if size == 0:
                raise Unreadable("empty file")
            # One open for both: the tags, then the fingerprint from the same handle.
            with open(full, "rb") as handle:
                tags = read_tags(handle, artist_separators, genre_separators)
                print_ = fingerprint(handle, size)
        except Unreadable as exc:
            results.append(exc)
            continue
        except OSError as exc:
            results.append(Unreadable(f"unreadable: {exc.strerror or exc}"))
            continue
        picture, cover = tags.picture, None
        if picture:
            if last_picture is not None and last_picture[0] == picture:
                known = last_picture[1]
                cover = known and replace(known, rel_path=rel if raw_path(rel) is None else None)
            else:
                cover = cache_cover(picture, "embedded", rel, cache)
                last_picture = (picture, cover)
        tags.picture = None  # the bytes stay here: only the cover's id goes back
        if cover is None:
            directory = os.path.dirname(full)
            if directory not in folder_covers:
                image = folder_image(directory)
                data = read_image(image) if image else None
                folder_covers[directory] = (
                    cache_cover(data, "file", os.path.relpath(image, folder_path), cache) if data else None)
            cover = folder_covers[directory]
        results.append(FileRead(describe(tags, rel), print_, cover))
    return results
