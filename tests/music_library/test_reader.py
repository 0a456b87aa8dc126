"""What a scan's reader gives per file: one cover id per distinct picture, fingerprints that do not
depend on the path."""

from __future__ import annotations

import hashlib
import os
import shutil

from mediahub_music_library.reader import FileRead, read_batch
from tests.support.music_library import make_audio, make_image

SEPARATORS = ([";"], [";"])


def batch(folder, names):
    files = [(name, str(folder / name), os.path.getsize(folder / name)) for name in names]
    return read_batch(files, str(folder), *SEPARATORS, str(folder.parent / "covers"))


def test_tracks_embedding_the_same_picture_share_its_cover_and_a_new_picture_gets_its_own(tmp_path):
    music = tmp_path / "music"
    make_image(tmp_path / "blue.jpg", "blue", "200x200")
    make_image(tmp_path / "red.jpg", "red", "200x200")
    make_audio(music / "a.mp3", {"title": "A"}, picture=tmp_path / "blue.jpg")
    make_audio(music / "b.mp3", {"title": "B"}, frequency=500, picture=tmp_path / "blue.jpg")
    make_audio(music / "c.mp3", {"title": "C"}, frequency=600, picture=tmp_path / "red.jpg")
    make_audio(music / "d.mp3", {"title": "D"}, frequency=700, picture=tmp_path / "blue.jpg")
    read = batch(music, ["a.mp3", "b.mp3", "c.mp3", "d.mp3"])
    assert all(isinstance(outcome, FileRead) for outcome in read)
    a, b, c, d = (outcome.cover for outcome in read)
    assert a.id == b.id == d.id != c.id
    assert [cover.rel_path for cover in (a, b, c, d)] == ["a.mp3", "b.mp3", "c.mp3", "d.mp3"]
    assert sorted(os.listdir(tmp_path / "covers")) == sorted({a.id, c.id})


def stored_fingerprint(path) -> str:
    """The fingerprint indexed tracks have in the database: size + sha1 of the first and last
    64 KiB (a moved file is matched against it, so it must not change)."""
    data = path.read_bytes()
    return hashlib.sha1(str(len(data)).encode() + data[:65536] + data[-65536:]).hexdigest()


def test_a_moved_file_keeps_its_fingerprint_and_another_file_does_not_share_it(tmp_path):
    music = tmp_path / "music"
    make_audio(music / "a.flac", {"title": "A"}, seconds=10)
    make_audio(music / "b.flac", {"title": "A"}, seconds=10, frequency=550)
    (music / "moved").mkdir()
    shutil.copy(music / "a.flac", music / "moved" / "renamed.flac")
    assert (music / "a.flac").stat().st_size > 2 * 65536  # head and tail both count
    first, other, moved = batch(music, ["a.flac", "b.flac", "moved/renamed.flac"])
    assert first.fingerprint == moved.fingerprint == stored_fingerprint(music / "a.flac")
    assert other.fingerprint == stored_fingerprint(music / "b.flac") != first.fingerprint
