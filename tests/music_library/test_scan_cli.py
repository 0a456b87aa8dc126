"""`mediahub library scan/status` on a real folder: added, unchanged, moved (same id), removed, failed."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest
from click.testing import CliRunner

from mediahub import ffmpeg_path
from mediahub.cli import main


def make_song(path, title, artist, album, track):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={300 + 50 * track}:duration=1", "-c:a", "libmp3lame",
                    "-metadata", f"title={title}", "-metadata", f"artist={artist}",
                    "-metadata", f"album={album}", "-metadata", f"track={track}/2", str(path)],
                   check=True)


@pytest.fixture
def library(tmp_path):
    music = tmp_path / "music"
    make_song(music / "Sigur Rós" / "Takk" / "01.mp3", "Glósóli", "Sigur Rós", "Takk", 1)
    make_song(music / "Sigur Rós" / "Takk" / "02.mp3", "Hoppípolla", "Sigur Rós", "Takk", 2)
    (music / "broken.flac").write_bytes(b"fLaC not really")
    (music / "empty.mp3").write_bytes(b"")
    (music / "cover.txt").write_text("not audio, not looked at")
    (music / "loop").symlink_to(music)
    config = tmp_path / "mediahub.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[plugins.music_library]\nfolders = ["{music}"]\n')
    return music, config, tmp_path / "data" / "mediahub.sqlite3"


def run(config, *args):
    result = CliRunner().invoke(main, ["-c", str(config), "library", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


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
