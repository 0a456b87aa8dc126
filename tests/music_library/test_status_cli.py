"""`mediahub library status`: what is indexed, the last scan (when, why, counts, duration, error),
a scan running elsewhere, and every skipped file with its reason."""

from __future__ import annotations

import re
import sqlite3
import time

from click.testing import CliRunner

from mediahub.cli import main
from tests.support.music_library import run


def test_status_says_what_is_indexed_and_what_the_last_scan_did(library):
    music, config, database = library
    before = run(config, "status")
    assert "total: 0 tracks, 0 albums, 0 artists" in before and "last scan: never" in before

    run(config, "scan")
    status = run(config, "status")
    assert f"{music}: 2 tracks" in status and "total: 2 tracks, 1 albums, 1 artists" in status
    last = re.search(r"last scan: (\S+ \S+) UTC to (\S+ \S+) UTC \(([\d.]+) s\), reason: cli", status)
    assert last, status
    assert last.group(1) <= last.group(2) and float(last.group(3)) < 60
    assert "  4 seen, 2 added, 0 changed, 0 moved, 0 removed, 2 failed" in status
    assert "  error: none" in status
    assert "  skipped loop: symlink loop: skipped" in status  # not a file: only in the scan's record
    assert re.search(r"  skipped broken\.flac: \S", status) and "  skipped empty.mp3: empty file" in status
    assert "skipped files: 2" in status and "  empty.mp3: empty file" in status

    (music / "Sigur Rós" / "Takk" / "01.mp3").unlink()
    run(config, "scan")
    assert "  3 seen, 0 added, 0 changed, 0 moved, 1 removed, 2 failed" in run(config, "status")


def test_a_failed_scan_and_a_scan_held_elsewhere_are_shown(library, monkeypatch):
    from mediahub_music_library import scanner

    music, config, database = library
    run(config, "scan")

    async def broken(self, *args):  # a fault inside the scan, e.g. the database going away
        raise RuntimeError("disk I/O error")

    (music / "new.mp3").write_bytes((music / "Sigur Rós" / "Takk" / "01.mp3").read_bytes())
    monkeypatch.setattr(scanner.FolderScan, "index", broken)
    failed = CliRunner().invoke(main, ["-c", str(config), "library", "scan"])
    assert failed.exit_code != 0 and "scan failed: RuntimeError: disk I/O error" in failed.output
    monkeypatch.undo()
    status = run(config, "status")
    assert "reason: cli" in status and "  error: RuntimeError: disk I/O error" in status
    assert "total: 2 tracks" in status  # what was indexed before stays

    with sqlite3.connect(database) as db:  # another server holds the scan lease
        db.execute("UPDATE music_scan_state SET holder = 'other-host:42', lease_until = ?",
                   [time.time() + 300])
    held = CliRunner().invoke(main, ["-c", str(config), "library", "scan"])
    assert held.exit_code != 0 and "another server is scanning" in held.output
    assert "scanning now: yes (other-host:42, since " in run(config, "status")
