"""Walk the configured folders into the collection: incremental, moves keep ids, failures reported.

Files are read (workers.py, reader.py) apart from this, the one writer: a batch of files per
transaction, and the artist, album and track rows of a batch written together (writes.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from dataclasses import dataclass, field

from tortoise import timezone
from tortoise.transactions import in_transaction

from mediahub_music_library.models import MusicFolder, MusicScanIssue, MusicTrack
from mediahub_music_library.queries import tidy_tables
from mediahub_music_library.reader import FileRead, display, raw_path
from mediahub_music_library.workers import Readers
from mediahub_music_library.writes import NewTracks, Rows, execute_many, link_artists_and_genres, new_id

AUDIO_SUFFIXES = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".alac",
                  ".wav", ".aif", ".aiff", ".wma"}


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


def path_key(folder_id: int, rel_path: str) -> str:
    return hashlib.sha1(f"{folder_id}/{rel_path}".encode("utf-8", "surrogateescape")).hexdigest()


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
        # The folder's relative path once, not relpath per file (a tenth of the writer's work).
        rel_dir = os.path.relpath(directory, root)
        rel_prefix = "" if rel_dir == "." else rel_dir + os.sep
        for name in sorted(files):
            if os.path.splitext(name)[1].lower() not in AUDIO_SUFFIXES:
                continue
            full = os.path.join(directory, name)
            rel = rel_prefix + name
            try:
                yield rel, full, os.stat(full)
            except OSError as exc:
                counts.failed += 1
                counts.problems.append((display(rel), f"unreadable: {exc.strerror}"))


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
    readers = Readers(config.artist_separators, config.genre_separators, str(covers.root))
    try:
        for folder_settings in config.folders:
            path = folder_settings.path.rstrip("/") or "/"
            if only is not None and path not in only:
                continue
            folder, _ = await MusicFolder.get_or_create(path=path, defaults={"name": folder_settings.name})
            await FolderScan(folder, counts, progress, covers, readers).run()
    finally:
        await readers.close()
    await tidy_tables(counts.added + counts.changed + counts.moved + counts.removed)
    return counts


@dataclass
class Known:
    """What a rescan needs of an indexed track (not whole rows: 10,000 of those cost seconds)."""

    id: str
    size: int
    mtime: float
    fingerprint: str


class FolderScan:
    """One pass over one folder."""

    def __init__(self, folder: MusicFolder, counts: ScanCounts, progress, covers, readers: Readers):
        self.folder, self.counts, self.progress = folder, counts, progress
        self.covers, self.readers = covers, readers
        self.moved: set[str] = set()  # ids of known tracks found under a new path
        self.rows = Rows()  # artists and albums met in this pass
        self.issues: dict = {}  # path_key -> MusicScanIssue of this folder
        self.new_tracks = NewTracks()  # made in this batch, inserted at its end
        self.covers_given: list[tuple[str, str, str]] = []  # (cover id, album id, artist id)
        self.now = timezone.localtime()

    async def run(self) -> None:
        rows = await MusicTrack.filter(folder_id=self.folder.id, present=True).values_list(
            "path_key", "id", "size", "mtime", "fingerprint")
        known = {key: Known(track_id, size, mtime, print_) for key, track_id, size, mtime, print_ in rows}
        issues = self.issues = {i.path_key: i for i in await MusicScanIssue.filter(folder_id=self.folder.id)}
        seen_keys: set[str] = set()
        fresh: list[tuple[str, str, os.stat_result, str]] = []
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
            fresh.append((rel, full, stat, key))
        if self.progress:
            self.progress(self.counts)
        gone = {key: track for key, track in known.items() if key not in seen_keys}
        by_fingerprint = {track.fingerprint: track for track in gone.values()}
        files = [(rel, full, stat.st_size) for rel, full, stat, _ in fresh]
        async for start, read in self.readers.batches(files, self.folder.path):
            batch = fresh[start:start + len(read)]
            self.now = timezone.localtime()
            # One transaction per batch: a commit per file would make SQLite sync ~10x more often.
            async with in_transaction() as db:
                await self.rows.prepare(db, [outcome.description for outcome in read
                                             if isinstance(outcome, FileRead)])
                for (rel, full, stat, key), outcome in zip(batch, read):
                    await self.index(rel, stat, key, known.get(key), by_fingerprint, outcome)
                await self.write_batch(db)
            if self.progress:
                self.progress(self.counts)
        for track in gone.values():
            if track.id not in self.moved:
                await MusicTrack.filter(id=track.id).update(present=False, path_key=None)
                self.counts.removed += 1
        stale = [key for key in issues if key not in seen_keys]
        if stale:
            await MusicScanIssue.filter(path_key__in=stale).delete()

    async def index(self, rel, stat, key, existing, by_fingerprint, outcome) -> None:
        if isinstance(outcome, Exception):
            self.counts.failed += 1
            self.counts.problems.append((display(rel), str(outcome)))
            await MusicScanIssue.update_or_create(
                path_key=key, defaults={"folder_id": self.folder.id, "rel_path": display(rel),
                                        "size": stat.st_size, "mtime": stat.st_mtime,
                                        "reason": str(outcome)[:2000]})
            return
        if key in self.issues:  # it was skipped before, it reads now
            await MusicScanIssue.filter(path_key=key).delete()
        track = existing
        if track is None and outcome.fingerprint in by_fingerprint:
            track = by_fingerprint.pop(outcome.fingerprint)  # moved or renamed: same id
            self.moved.add(track.id)
            self.counts.moved += 1
        elif track is None:
            self.counts.added += 1
        else:
            self.counts.changed += 1
        values = self.rows.track_values(outcome.description)
        cover_id = await self.covers.record(outcome.cover, self.folder.id)
        values.update(folder_id=self.folder.id, rel_path=display(rel), raw_path=raw_path(rel),
                      path_key=key, present=True, size=stat.st_size, mtime=stat.st_mtime,
                      fingerprint=outcome.fingerprint, cover_id=cover_id)
        if cover_id:  # the first cover met becomes its album's and its album artist's
            album = self.rows.albums[outcome.description.album.key]
            if not album.cover_id:
                album.cover_id = cover_id
                self.covers_given.append((cover_id, album.id, album.artist_id))
        if track is None:  # new: inserted with the rest of its batch
            self.new_tracks.add(new_id("tr"), values, self.now)
            return
        await MusicTrack.filter(id=track.id).update(**values)
        await link_artists_and_genres(track.id, values["artists"], values["genres"])

    async def write_batch(self, db) -> None:
        await self.new_tracks.insert(db)
        given, self.covers_given = self.covers_given, []
        await execute_many(db, "UPDATE music_albums SET cover_id = ? WHERE id = ? AND cover_id IS NULL",
                           [(cover_id, album_id) for cover_id, album_id, _ in given])
        await execute_many(db, "UPDATE music_artists SET cover_id = ? WHERE id = ? AND cover_id IS NULL",
                           [(cover_id, artist_id) for cover_id, _, artist_id in given])
