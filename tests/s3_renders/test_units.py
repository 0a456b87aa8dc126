"""The pure parts of s3-renders: waveform peaks, format matching, duration and bitrate rules."""

from __future__ import annotations

import math
from array import array

import pytest

from mediahub_s3_renders import formats, waveform


def test_block_maxima_take_the_loudest_sample_of_each_block_either_sign():
    samples_ = array("h", [1, -5, 3, 2, 7, -9, 0])
    assert waveform.block_maxima(samples_, 3) == [5, 9, 0]


def test_reduce_peaks_keeps_the_loudest_block_of_each_span_scaled_to_one():
    maxima = [0, 16384, 0, 0, 32768, 0, 8192, 0]
    assert waveform.reduce_peaks(maxima, 4) == [0.5, 0.0, 1.0, 0.25]
    assert waveform.reduce_peaks(maxima, 100) == [round(m / 32768, 3) for m in maxima]
    assert waveform.reduce_peaks([], 10) == []


def test_decode_measures_a_real_file(samples):  # noqa: F811
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".ogg") as handle:
        handle.write(samples["tone_opus.ogg"])
        handle.flush()
        decoded = waveform.decode(handle.name, 50)
    assert abs(decoded.duration - 1.0) < 0.05
    assert len(decoded.peaks) == 50 and all(0.05 < p <= 1.0 for p in decoded.peaks[5:-5])


def test_decode_refuses_what_is_not_audio(tmp_path):
    path = tmp_path / "x.mp3"
    path.write_bytes(b"hello" * 1000)
    with pytest.raises(waveform.Undecodable):
        waveform.decode(path, 10)


@pytest.mark.parametrize("declared,sniffed,ok", [
    ("mp3", "mp3", True), ("mp3", "webm", False), ("ogg", "opus", True), ("ogg", "vorbis", True),
    ("opus", "vorbis", False), ("webm", "webm", True), ("aac", "m4a", True), ("wav", None, False)])
def test_declared_format_must_match_the_sniffed_type(declared, sniffed, ok):
    assert formats.matches(declared, sniffed) is ok


def test_formats_and_keys():
    assert formats.normalise_format(None) == "mp3"
    assert formats.normalise_format(" .MP3 ") == "mp3"
    assert formats.normalise_format("exe") is None
    assert formats.sniffed_type_of_key("renders/abc.ogg") == "vorbis"
    assert formats.sniffed_type_of_key("renders/abc.opus") == "opus"


def test_duration_is_the_clients_only_within_a_second():
    assert formats.reconcile_duration(None, 4.2) == 4.2
    assert formats.reconcile_duration(4.9, 4.2) == 4.9
    assert formats.reconcile_duration(5.3, 4.2) == 4.2


def test_bitrate_is_measured_when_possible():
    assert formats.reconcile_bitrate(320, 40_000, 2.0) == 160
    assert formats.reconcile_bitrate(320, 40_000, 0.0) == 320
    assert formats.reconcile_bitrate(None, 40_000, 0.0) is None


@pytest.mark.parametrize("fields,problem", [
    ({"format": "wma"}, "format"), ({"bitrate": "x"}, "bitrate"), ({"bitrate": "0"}, "bitrate"),
    ({"duration": "inf"}, "duration"), ({"duration": str(math.nan)}, "duration"),
    ({"duration": "1e9"}, "duration")])
def test_bad_upload_fields_are_named(fields, problem):
    with pytest.raises(ValueError, match=problem):
        formats.parse_upload_fields(fields)


def test_good_upload_fields():
    assert formats.parse_upload_fields({"format": "webm", "bitrate": " 128 ", "duration": "2.5",
                                        "token": "t"}) == {
        "format": "webm", "bitrate": 128, "duration": 2.5, "token": "t"}
    assert formats.parse_upload_fields({"bitrate": "", "duration": ""})["duration"] is None


def test_decode_is_killed_at_its_time_limit_and_stops_past_its_length(tmp_path):
    import subprocess
    import time

    from mediahub import ffmpeg_path

    path = tmp_path / "hour.flac"
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "anullsrc=r=8000:cl=mono", "-t", "3600", "-c:a", "flac", str(path)], check=True)
    started = time.monotonic()
    with pytest.raises(waveform.TooLong, match="longer than 0.05 s"):
        waveform.decode(path, 10, timeout=0.05)
    assert time.monotonic() - started < 30  # killed, not decoded to the end
    with pytest.raises(waveform.TooLong, match="more than 60 s"):
        waveform.decode(path, 10, max_seconds=60)
