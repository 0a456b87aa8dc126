"""A folder of more than one batch is read by worker processes: `mediahub library scan` and a
server's background scan index it (names, albums, broken files, moves keep ids) with the
progress line per batch, and no worker is left once a scan ends, fails or is stopped."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import sqlite3

from mediahub import current_host
from mediahub_music_library.workers import BATCH
from tests.support.music_library import make_many, run

FILES = 3 * BATCH + 50  # four batches: more than the pool keeps in flight on two cores


def rows(database, sql):
    with sqlite3.connect(database) as db:
        return db.execute(sql).fetchall()


def test_the_cli_scans_a_big_folder_through_worker_processes(tmp_path):
    music = tmp_path / "music"
    make_many(music, FILES)
    (music / "Artist 0" / "broken.flac").write_bytes(b"fLaC not really")
    (music / "Artist 2" / "empty.mp3").write_bytes(b"")
    config = tmp_path / "mediahub.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[plugins.music_library]\nfolders = ["{music}"]\n')
    database = tmp_path / "data" / "mediahub.sqlite3"

    first = run(config, "scan")
    assert f"scanned {FILES + 2} files: {FILES} added, 0 changed, 0 moved, 0 removed, 2 failed" in first
    assert "skipped Artist 0/broken.flac: " in first and "skipped Artist 2/empty.mp3: empty file" in first
    assert first.count("\rseen ") >= 1 + FILES // BATCH  # after the walk, then after every batch
    assert multiprocessing.active_children() == []
    # Names and grouping as the tags say, whichever worker read the file.
    assert rows(database, "SELECT COUNT(*) FROM music_artists") == [(FILES // 100 + 1,)]
    assert rows(database, "SELECT COUNT(*) FROM music_albums") == [(FILES // 10,)]
    album_42 = rows(database, "SELECT t.title, t.track_no, t.artist_name, t.rel_path FROM music_tracks t"
                              " JOIN music_albums a ON a.id = t.album_id WHERE a.name = 'Album 42'"
                              " ORDER BY t.track_no")
    assert len(album_42) == 10 and album_42[2] == ("Song 422", 3, "Artist 4", "Artist 4/Album 42/00422.ogg")
    assert rows(database, "SELECT COUNT(*) FROM music_track_artists") == [(FILES,)]
    before = dict(rows(database, "SELECT rel_path, id FROM music_tracks"))

    # A reorganisation bigger than a batch: moved files keep their ids, removed ones leave.
    shutil.move(music / "Artist 1", music / "Moved" / "Artist 1")
    shutil.move(music / "Artist 2", music / "Moved" / "Artist 2")
    shutil.rmtree(music / "Artist 3" / "Album 35")
    again = run(config, "scan")
    assert "0 added, 0 changed, 200 moved, 10 removed, 2 failed" in again
    after = dict(rows(database, "SELECT rel_path, id FROM music_tracks WHERE present"))
    assert after["Moved/Artist 1/Album 17/00172.mp3"] == before["Artist 1/Album 17/00172.mp3"]
    assert len(after) == FILES - 10
    assert multiprocessing.active_children() == []


async def test_a_servers_scan_stopped_midway_leaves_no_worker_and_the_next_one_finishes(
        mediahub_app_factory, tmp_path):
    from mediahub_music_library.models import MusicTrack
    from mediahub_music_library.service import LibraryService

    music = tmp_path / "music"
    make_many(music, FILES)
    app = await mediahub_app_factory(overrides={"plugins": {"music_library": {
        "folders": [str(music)], "scan_on_start": False, "watch": False, "rescan_interval": 0}}})
    async with app.app_context():
        config = current_host().plugin_config("music_library").model_copy(update={"scan_on_start": True})
        service = LibraryService(config)
        service.start()
        while not service.progress.get("added"):  # the first batch is in
            await asyncio.sleep(0.01)
        assert multiprocessing.active_children()  # the workers read the rest meanwhile
        await service.stop()
        assert multiprocessing.active_children() == []
        assert service.scanning is False
        indexed = await MusicTrack.filter(present=True).count()

        counts = await LibraryService(config).scan("admin")
        assert counts.added == FILES - indexed and counts.failed == 0, counts.problems
        assert await MusicTrack.filter(present=True).count() == FILES
        assert multiprocessing.active_children() == []
