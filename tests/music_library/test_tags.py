"""Tags of real files made by ffmpeg in every format, and the broken files the scanner must skip."""

from __future__ import annotations

import subprocess

import pytest

from mediahub import ffmpeg_path
from mediahub_music_library.tags import Unreadable, read_tags

FORMATS = {"mp3": ["-c:a", "libmp3lame", "-id3v2_version", "3"], "flac": ["-c:a", "flac"],
           "ogg": ["-c:a", "libvorbis"] , "opus": ["-c:a", "libopus"], "m4a": ["-c:a", "aac"],
           "wav": ["-c:a", "pcm_s16le", "-write_id3v2", "1"], "aiff": ["-c:a", "pcm_s16be", "-write_id3v2", "1"]}
SEPARATORS = ([";", " / ", " feat. "], [";", ",", "/"])


@pytest.fixture(scope="session")
def tagged_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagged")
    files = {}
    for suffix, codec in FORMATS.items():
        path = folder / f"song.{suffix}"
        subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=1", *codec,
                        "-metadata", "title=Hoppípolla", "-metadata", "artist=Sigur Rós; Jónsi",
                        "-metadata", "album=Takk...", "-metadata", "album_artist=Sigur Rós",
                        "-metadata", "track=3/12", "-metadata", "disc=1/2", "-metadata", "date=2005",
                        "-metadata", "genre=Post-Rock; Ambient", str(path)], check=True)
        files[suffix] = path
    return files


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_yields_its_tags_and_stream_facts(tagged_files, suffix):
    tags = read_tags(str(tagged_files[suffix]), *SEPARATORS)
    assert 0.9 < tags.duration < 1.2
    assert tags.suffix == suffix and tags.content_type.startswith("audio/")
    if suffix == "wav":
        # ffmpeg tags WAV with a RIFF INFO chunk, which mutagen does not read (only ID3 in WAV):
        # such files fall back to folder and file names.
        assert tags.title == "" and tags.artists == []
        return
    assert tags.title == "Hoppípolla"
    assert tags.artists == ["Sigur Rós", "Jónsi"]
    assert tags.album == "Takk..."
    assert tags.year == 2005
    assert tags.genres == ["Post-Rock", "Ambient"]
    if suffix != "aiff":  # ffmpeg writes no album artist/track into these ID3 chunks
        assert (tags.track_no, tags.track_total) == (3, 12)
        assert tags.album_artists == ["Sigur Rós"]


def test_broken_files_are_unreadable_not_crashes(tmp_path, tagged_files):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    text = tmp_path / "notes.flac"
    text.write_text("not audio at all")
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(tagged_files["flac"].read_bytes()[:100])
    for path in (empty, text, truncated):
        with pytest.raises(Unreadable):
            read_tags(str(path), *SEPARATORS)


def test_a_format_the_plugin_does_not_index_is_named_in_its_report(tmp_path):
    # mutagen reads ADTS AAC, the scanner does not index it: the file says so, whatever
    # formats read_tags tries first.
    adts = tmp_path / "raw.aac"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac",
                    "-f", "adts", str(adts)], check=True)
    with pytest.raises(Unreadable, match="unsupported format AAC"):
        read_tags(str(adts), *SEPARATORS)
    with open(adts, "rb") as handle, pytest.raises(Unreadable, match="unsupported format AAC"):
        read_tags(handle, *SEPARATORS)


def test_tags_read_from_an_open_file_are_those_of_its_path(tagged_files):
    for path in tagged_files.values():
        with open(path, "rb") as handle:
            assert read_tags(handle, *SEPARATORS) == read_tags(str(path), *SEPARATORS)
