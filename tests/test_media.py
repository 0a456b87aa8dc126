"""The ffmpeg locator finds a working binary; the probe reads duration and tags from real files."""

from __future__ import annotations

import subprocess

import pytest

from mediahub.media import NotAudio, ffmpeg_path, probe


def make_tone(path, seconds=2.0, extra=()):
    subprocess.run([ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"sine=frequency=440:duration={seconds}", *extra, str(path)], check=True)
    return path


def test_ffmpeg_path_runs():
    result = subprocess.run([ffmpeg_path(), "-version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("ffmpeg version")


@pytest.mark.parametrize("suffix", ["mp3", "flac", "ogg", "m4a", "wav"])
def test_probe_reads_duration(tmp_path, suffix):
    info = probe(make_tone(tmp_path / f"tone.{suffix}", seconds=2.0))
    assert info.duration == pytest.approx(2.0, abs=0.15)
    assert info.sample_rate and info.sample_rate > 0


def test_probe_reads_tags(tmp_path):
    path = make_tone(tmp_path / "tagged.mp3", extra=["-metadata", "title=Night Drive",
                                                      "-metadata", "artist=Ada"])
    assert probe(path).tags == {"title": "Night Drive", "artist": "Ada"}


def test_probe_refuses_what_is_not_audio(tmp_path):
    path = tmp_path / "not-audio.mp3"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 1000)
    with pytest.raises(NotAudio):
        probe(path)
