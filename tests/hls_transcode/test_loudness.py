"""The loudness measured on the way to the first rendition is the one a separate meter gives."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from mediahub.media import ffmpeg_path
from mediahub_hls_transcode import transcode
from mediahub_hls_transcode.playlist import ladder

TOLERANCE_LU = 0.1
# The renditions are stereo: a meter placed after that conversion reads 5.1 without its
# surround weighting (the surround case fails then); mono and a lower rate are covered too.
SOURCES = {
    "stereo": ["-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.2:duration=9:sample_rate=44100",
               "-af", "pan=stereo|c0=c0|c1=0.6*c0"],
    "mono": ["-f", "lavfi", "-i", "sine=frequency=330:duration=9:sample_rate=22050", "-ac", "1"],
    "surround": ["-f", "lavfi", "-i", "anoisesrc=color=white:amplitude=0.2:duration=9:sample_rate=48000",
                 "-af", "pan=5.1|c0=c0|c1=0.5*c0|c2=0.3*c0|c3=0.1*c0|c4=0.7*c0|c5=0.2*c0"],
}


def make_source(folder, name: str) -> str:
    path = str(folder / f"{name}.wav")
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", *SOURCES[name], path],
                   check=True)
    return path


def separate_meter(source: str) -> float:
    """EBU R128 of the source through ebur128 alone (what the transcode measured before)."""
    done = subprocess.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-i", source,
                           "-af", "ebur128=framelog=verbose", "-f", "null", os.devnull],
                          capture_output=True, text=True, check=True)
    return transcode.integrated_loudness(done.stderr)


def transcode_loudness(source: str, workdir) -> float:
    renditions = ladder([64, 96])
    for rendition in renditions:
        os.makedirs(workdir / rendition.name)
    done = subprocess.run(transcode.hls_command(ffmpeg_path(), source, str(workdir), renditions, 6),
                          capture_output=True, text=True, check=True)
    return transcode.integrated_loudness(done.stderr)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_transcode_measures_the_loudness_a_separate_meter_does(tmp_path, name):
    source = make_source(tmp_path, name)
    reference = separate_meter(source)
    assert reference is not None
    assert transcode_loudness(source, tmp_path / "out") == pytest.approx(reference, abs=TOLERANCE_LU)


def test_the_meter_leaves_the_rendition_it_sits_in_front_of_unchanged(tmp_path):
    """The first rendition's segments are byte for byte those of an encode without the meter."""
    source = make_source(tmp_path, "stereo")
    transcode_loudness(source, tmp_path / "metered")
    plain = tmp_path / "plain"
    os.makedirs(plain)
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-i", source, "-vn", "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-f", "hls",
                    "-hls_time", "6", "-hls_segment_type", "fmp4", "-hls_playlist_type", "event",
                    "-hls_fmp4_init_filename", transcode.INIT_NAME,
                    "-hls_segment_filename", str(plain / transcode.SEGMENT_PATTERN),
                    str(plain / transcode.PLAYLIST_NAME)], check=True)

    def digests(folder):
        return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                for name in sorted(os.listdir(folder)) if name.endswith((".m4s", ".mp4"))}

    metered = digests(tmp_path / "metered" / "a64k")
    assert len(metered) == 3  # init + two segments of a 9 s source
    assert metered == digests(plain)
