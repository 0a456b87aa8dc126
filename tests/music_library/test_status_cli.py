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


def test_a_lease_left_by_a_server_killed_mid_scan_on_this_host_is_taken_over(library):
    """A `mediahub serve` killed while scanning left its lease: its process is gone, so the
    next scan need not wait the lease out; a live process's lease is still respected."""
    import os
    import subprocess
    import sys

    from mediahub_music_library.service import this_host

    music, config, database = library
    run(config, "scan")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that was this host's and no longer runs

    def hold(pid: int) -> None:
        with sqlite3.connect(database) as db:
            db.execute("UPDATE music_scan_state SET holder = ?, lease_until = ?",
                       [f"{this_host()}:{pid}:0badc0de", time.time() + 300])

    hold(os.getpid())  # alive: this test's own process
    held = CliRunner().invoke(main, ["-c", str(config), "library", "scan"])
    assert held.exit_code != 0 and "another server is scanning" in held.output
    hold(gone.pid)
    taken = CliRunner().invoke(main, ["-c", str(config), "library", "scan"])
    assert taken.exit_code == 0, taken.output
    assert "scanned 4 files" in taken.output
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT lease_until FROM music_scan_state").fetchone()[0] == 0


async def test_a_scan_stopped_while_taking_the_lease_gives_it_back(library):
    """Stopping the server (its scan task cancelled) right after the lease's update was
    committed must not leave the lease held."""
    import asyncio

    from mediahub.config import load_settings
    from mediahub.testing import running_app
    from mediahub_music_library.models import MusicScanState
    from mediahub_music_library.service import LibraryService

    music, config, database = library
    # The app's own service must not scan meanwhile (it would hold the lease).
    config.write_text(config.read_text() + "scan_on_start = false\nwatch = false\nrescan_interval = 0\n")
    async with running_app(load_settings(config)) as app:
        async with app.app_context():
            service = LibraryService(app.extensions["mediahub"].plugin_config("music_library"))
            real = service.take_lease

            async def taken_then_stopped():
                assert await real()
                raise asyncio.CancelledError  # the server stopping at this very await

            service.take_lease = taken_then_stopped
            try:
                await service.scan("start")
            except asyncio.CancelledError:
                pass
            state = await MusicScanState.get(name="scan")
            assert state.holder == service.holder and state.lease_until == 0
