"""`mediahub library scan/status` on a real folder: added, unchanged, moved (same id), removed, failed."""

from __future__ import annotations

import shutil
import sqlite3

from tests.support.music_library import run


def tracks(database):
    with sqlite3.connect(database) as db:
        return {row[0]: (row[1], row[2]) for row in
                db.execute("SELECT id, rel_path, present FROM music_tracks")}


def test_scan_is_incremental_keeps_ids_across_moves_and_reports_what_it_skipped(library):
    music, config, database = library
    first = run(config, "scan")
    assert "2 added" in first and "2 failed" in first and "symlink loop" in first
    assert "broken.flac" in first and "empty.mp3: empty file" in first
    before = tracks(database)
    assert sorted(path for path, _ in before.values()) == ["Sigur Rós/Takk/01.mp3", "Sigur Rós/Takk/02.mp3"]

    again = run(config, "scan")
    assert "0 added, 0 changed, 0 moved, 0 removed" in again

    shutil.move(music / "Sigur Rós" / "Takk" / "02.mp3", music / "Hoppipolla.mp3")
    (music / "Sigur Rós" / "Takk" / "01.mp3").unlink()
    moved = run(config, "scan")
    assert "1 moved, 1 removed" in moved
    after = tracks(database)
    assert set(after) == set(before)  # same ids: the moved one present, the removed one kept
    assert sorted(after.values()) == [("Hoppipolla.mp3", 1), ("Sigur Rós/Takk/01.mp3", 0)]

    status = run(config, "status")
    assert "total: 1 tracks" in status and "skipped files: 2" in status
    assert "broken.flac" in status
