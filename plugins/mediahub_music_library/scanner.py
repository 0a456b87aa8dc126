"""Walk the configured folders into the collection: incremental, moves keep ids, failures reported."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid
from dataclasses import dataclass, field

from mediahub_music_library.models import (MusicAlbum, MusicArtist, MusicFolder, MusicScanIssue,
                                           MusicTrack, MusicTrackArtist, MusicTrackGenre)
from mediahub_music_library.names import fold, sort_name
from mediahub_music_library.queries import tidy_tables
from mediahub_music_library.tags import Unreadable, read_tags

AUDIO_SUFFIXES = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".alac",
                  ".wav", ".aif", ".aiff", ".wma"}
HEAD_BYTES = 64 * 1024
BATCH = 200  # files indexed per transaction
UNKNOWN_ARTIST = "Unknown Artist"
UNKNOWN_ALBUM = "Unknown Album"


@dataclass
class ScanCounts:
    """What one scan did, for the progress line and the summary."""

    seen: int = 0
    added: int = 0
    changed: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def path_key(folder_id: int, rel_path: str) -> str:
    return hashlib.sha1(f"{folder_id}/{rel_path}".encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(path: str, size: int) -> str:
    """size + sha1 of the first and last 64 KiB: survives a move or rename, cheap to compute."""
    digest = hashlib.sha1(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(HEAD_BYTES))
        if size > 2 * HEAD_BYTES:
            handle.seek(-HEAD_BYTES, os.SEEK_END)
            digest.update(handle.read(HEAD_BYTES))
    return digest.hexdigest()


def walk(root: str, counts: ScanCounts):
    """(rel_path, abs_path, stat) of every audio file; symlink loops are reported, not followed."""
    visited: set[tuple[int, int]] = set()

    def report(error: OSError) -> None:
        counts.failed += 1
        counts.problems.append((display(os.path.relpath(error.filename or root, root)),
                                f"unreadable: {error.strerror}"))

    for directory, subdirs, files in os.walk(root, followlinks=True, onerror=report):
        try:
            stat = os.stat(directory)
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) in visited:
            subdirs[:] = []
            counts.problems.append((display(os.path.relpath(directory, root)), "symlink loop: skipped"))
            continue
        visited.add((stat.st_dev, stat.st_ino))
        subdirs.sort()
        for name in sorted(files):
            if os.path.splitext(name)[1].lower() not in AUDIO_SUFFIXES:
                continue
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, root)
            try:
                yield rel, full, os.stat(full)
            except OSError as exc:
                counts.failed += 1
                counts.problems.append((display(rel), f"unreadable: {exc.strerror}"))


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


def stored_path(rel_path: str | None, raw: str | None) -> str | None:
    """The relative path to open: raw_path's bytes back as the str os.walk gave (surrogate
    escapes), else rel_path."""
    if raw:
        return base64.b64decode(raw).decode("utf-8", "surrogateescape")
    return rel_path


async def scan_folders(config, progress=None, only: set[str] | None = None) -> ScanCounts:
    """Scan every configured folder (or those whose paths are in `only`) once;
    `progress(counts)` is called as files are seen."""
    from mediahub_music_library.covers import CoverFinder, cover_root

    counts = ScanCounts()
    covers = CoverFinder(cover_root())
    for folder_settings in config.folders:
        path = folder_settings.path.rstrip("/") or "/"
        if only is not None and path not in only:
            continue
        folder, _ = await MusicFolder.get_or_create(path=path, defaults={"name": folder_settings.name})
        await FolderScan(folder, config, counts, progress, covers).run()
    await tidy_tables(counts.added + counts.changed + counts.moved + counts.removed)
    return counts


@dataclass
class Known:
    """What a rescan needs of an indexed track (not whole rows: 10,000 of those cost seconds)."""

    id: str
    size: int
    mtime: float
    fingerprint: str


def read_batch(batch, artist_separators, genre_separators) -> list:
    """(tags, fingerprint) or the exception, per (rel, full, stat) of `batch` (blocking).

    One worker-thread call per batch, not two per file: each hand-off between the event
    loop and a thread costs a GIL switch, and a full scan was spending most of its time there.
    """
    results = []
    for _, full, stat in batch:
        try:
            if stat.st_size == 0:
                raise Unreadable("empty file")
            results.append((read_tags(full, artist_separators, genre_separators),
                            fingerprint(full, stat.st_size)))
        except (Unreadable, OSError) as exc:
            results.append(exc)
    return results


class FolderScan:
    """One pass over one folder."""

    def __init__(self, folder: MusicFolder, config, counts: ScanCounts, progress, covers):
        self.folder, self.config, self.counts, self.progress = folder, config, counts, progress
        self.covers = covers
        self.moved: set[str] = set()  # ids of known tracks found under a new path
        self.rows: dict = {}  # artists and albums met in this pass, by key
        self.issues: dict = {}  # path_key -> MusicScanIssue of this folder
        self.new_tracks: list[MusicTrack] = []  # made in this batch, inserted at its end
        self.new_links: list = []

    async def run(self) -> None:
        rows = await MusicTrack.filter(folder_id=self.folder.id, present=True).values_list(
            "path_key", "id", "size", "mtime", "fingerprint")
        known = {key: Known(track_id, size, mtime, print_) for key, track_id, size, mtime, print_ in rows}
        issues = self.issues = {i.path_key: i for i in await MusicScanIssue.filter(folder_id=self.folder.id)}
        seen_keys: set[str] = set()
        fresh: list[tuple[str, str, os.stat_result]] = []
        if not os.path.isdir(self.folder.path):
            self.counts.problems.append((self.folder.path, "folder missing or unreadable: nothing removed"))
            return
        for rel, full, stat in await asyncio.to_thread(lambda: list(walk(self.folder.path, self.counts))):
            self.counts.seen += 1
            key = path_key(self.folder.id, rel)
            seen_keys.add(key)
            track = known.get(key)
            issue = issues.get(key)
            if track is not None and track.size == stat.st_size and track.mtime == stat.st_mtime:
                continue
            if issue is not None and issue.size == stat.st_size and issue.mtime == stat.st_mtime:
                self.counts.failed += 1
                continue
            fresh.append((rel, full, stat))
        if self.progress:
            self.progress(self.counts)
        gone = {key: track for key, track in known.items() if key not in seen_keys}
        by_fingerprint = {track.fingerprint: track for track in gone.values()}
        from tortoise.transactions import in_transaction

        for start in range(0, len(fresh), BATCH):
            batch = fresh[start:start + BATCH]
            read = await asyncio.to_thread(read_batch, batch, self.config.artist_separators,
                                           self.config.genre_separators)
            # One transaction per batch: a commit per file would make SQLite sync ~10x more often.
            async with in_transaction():
                for (rel, full, stat), outcome in zip(batch, read):
                    await self.index(rel, full, stat, known.get(path_key(self.folder.id, rel)),
                                     by_fingerprint, outcome)
                await self.insert_new()
            if self.progress:
                self.progress(self.counts)
        for track in gone.values():
            if track.id not in self.moved:
                await MusicTrack.filter(id=track.id).update(present=False, path_key=None)
                self.counts.removed += 1
        stale = [key for key in issues if key not in seen_keys]
        if stale:
            await MusicScanIssue.filter(path_key__in=stale).delete()

    async def index(self, rel, full, stat, existing, by_fingerprint, outcome) -> None:
        key = path_key(self.folder.id, rel)
        if isinstance(outcome, Exception):
            self.counts.failed += 1
            self.counts.problems.append((display(rel), str(outcome)))
            await MusicScanIssue.update_or_create(
                path_key=key, defaults={"folder_id": self.folder.id, "rel_path": display(rel),
                                        "size": stat.st_size, "mtime": stat.st_mtime,
                                        "reason": str(outcome)[:2000]})
            return
        tags, print_ = outcome
        if key in self.issues:  # it was skipped before, it reads now
            await MusicScanIssue.filter(path_key=key).delete()
        track = existing
        if track is None and print_ in by_fingerprint:
            track = by_fingerprint.pop(print_)  # moved or renamed: same id
            self.moved.add(track.id)
            self.counts.moved += 1
        elif track is None:
            self.counts.added += 1
        else:
            self.counts.changed += 1
        values = await row_values(tags, rel, self.rows)
        cover_id = await self.covers.cover_for(self.folder.id, self.folder.path, full, rel,
                                               tags.picture)
        values.update(folder_id=self.folder.id, rel_path=display(rel), raw_path=raw_path(rel),
                      path_key=key, present=True,
                      size=stat.st_size, mtime=stat.st_mtime, fingerprint=print_, cover_id=cover_id)
        await give_cover(values, cover_id, self.rows)
        if track is None:  # new: inserted with the rest of its batch
            track_id = new_id("tr")
            self.new_tracks.append(MusicTrack(id=track_id, **values))
            self.new_links += link_rows(track_id, values["artists"], values["genres"])
            return
        await MusicTrack.filter(id=track.id).update(**values)
        await link_artists_and_genres(track.id, values["artists"], values["genres"])

    async def insert_new(self) -> None:
        """The batch's new tracks, their artist and genre rows: three INSERTs, not three per file."""
        if self.new_tracks:
            await MusicTrack.bulk_create(self.new_tracks)
        artists = [row for row in self.new_links if isinstance(row, MusicTrackArtist)]
        genres = [row for row in self.new_links if isinstance(row, MusicTrackGenre)]
        if artists:
            await MusicTrackArtist.bulk_create(artists)
        if genres:
            await MusicTrackGenre.bulk_create(genres)
        self.new_tracks, self.new_links = [], []


async def artist_for(name: str, mbid: str | None = None, cache: dict | None = None) -> MusicArtist:
    key = fold(name) or name.lower()
    if cache is not None and ("ar", key) in cache:
        return cache[("ar", key)]
    artist = await MusicArtist.get_or_none(key=key)
    if artist is None:
        artist = await MusicArtist.create(id=new_id("ar"), key=fold(name) or name.lower(), name=name,
                                          sort_name=sort_name(name), search_text=fold(name),
                                          mbid=mbid)
    if cache is not None:
        cache[("ar", key)] = artist
    return artist


async def row_values(tags, rel: str, cache: dict) -> dict:
    """Track columns from tags, with folder and file names where tags are missing."""
    parts = rel.replace("\\", "/").split("/")
    stem = os.path.splitext(parts[-1])[0]
    title = tags.title or display(stem)
    artist_names = tags.artists or ([display(parts[-3])] if len(parts) >= 3 else [UNKNOWN_ARTIST])
    album_name = tags.album or (display(parts[-2]) if len(parts) >= 2 else UNKNOWN_ALBUM)
    compilation = tags.compilation or "various artists" in [fold(a) for a in tags.album_artists]
    album_artist_name = (tags.album_artists or (["Various Artists"] if compilation else artist_names))[0]
    artists = [await artist_for(name, tags.artist_mbid if i == 0 else None, cache)
               for i, name in enumerate(artist_names)]
    album_artist = await artist_for(album_artist_name, cache=cache)
    album_key = f"{album_artist.key}\n{fold(album_name)}\n{tags.album_mbid or ''}"[:1100]
    album = cache.get(("al", album_key)) or await MusicAlbum.get_or_none(key=album_key)
    if album is None:
        album = await MusicAlbum.create(
            id=new_id("al"), key=album_key, name=album_name, sort_name=sort_name(album_name),
            search_text=fold(f"{album_name} {album_artist.name}"), artist=album_artist,
            artist_name=album_artist.name, year=tags.year, genres=tags.genres,
            compilation=compilation, mbid=tags.album_mbid)
    cache[("al", album_key)] = album
    cache[("al-id", album.id)] = album
    return dict(
        title=title[:500], sort_title=sort_name(title)[:500],
        search_text=fold(f"{title} {' '.join(artist_names)} {album_name}"),
        album_id=album.id, artist_id=artists[0].id, artist_name=", ".join(artist_names)[:1000],
        artists=[[a.id, a.name] for a in artists], track_no=tags.track_no, track_total=tags.track_total,
        disc_no=tags.disc_no, disc_total=tags.disc_total, year=tags.year, date=tags.date,
        genres=tags.genres, duration=tags.duration, bitrate=tags.bitrate, sample_rate=tags.sample_rate,
        channels=tags.channels, bit_depth=tags.bit_depth, codec=tags.codec, suffix=tags.suffix,
        content_type=tags.content_type, replay_gain=tags.replay_gain, mbid=tags.mbid,
        compilation=compilation, lyrics=tags.lyrics)


async def give_cover(values: dict, cover_id: str | None, cache: dict) -> None:
    """The first cover met becomes its album's and its album artist's, until they have one."""
    if cover_id is None:
        return
    album = cache.get(("al-id", values["album_id"]))
    if album is None or album.cover_id:
        return
    album.cover_id = cover_id
    await MusicAlbum.filter(id=album.id, cover_id=None).update(cover_id=cover_id)
    await MusicArtist.filter(id=album.artist_id, cover_id=None).update(cover_id=cover_id)


def link_rows(track_id: str, artists: list, genres: list[str]) -> list:
    """The music_track_artists and music_track_genres rows of one track."""
    return ([MusicTrackArtist(track_id=track_id, artist_id=artist_id, position=i)
             for i, (artist_id, _) in enumerate(artists)]
            + [MusicTrackGenre(track_id=track_id, genre=genre[:200]) for genre in genres])


async def link_artists_and_genres(track_id: str, artists: list, genres: list[str]) -> None:
    """Replace a changed track's artist and genre rows."""
    await MusicTrackArtist.filter(track_id=track_id).delete()
    await MusicTrackGenre.filter(track_id=track_id).delete()
    rows = link_rows(track_id, artists, genres)
    artist_rows = [row for row in rows if isinstance(row, MusicTrackArtist)]
    genre_rows = [row for row in rows if isinstance(row, MusicTrackGenre)]
    if artist_rows:
        await MusicTrackArtist.bulk_create(artist_rows)
    if genre_rows:
        await MusicTrackGenre.bulk_create(genre_rows)
