"""Pure pieces of hls-transcode: playlists, the ffmpeg command, progress and loudness parsing."""

from __future__ import annotations

import os
import types
import uuid

import pytest

from mediahub.media import ffmpeg_path
from mediahub_hls_transcode import transcode
from mediahub_hls_transcode.playlist import (as_event, as_vod, ladder, master_playlist,
                                             parse_master_playlist, parse_media_playlist,
                                             rewrite_uris, safe_segment_name)
from mediahub_hls_transcode.settings import HlsSettings
from mediahub_hls_transcode.worker import Publisher
from tests.support.hls import make_tone

EVENT = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6.013968,
seg_00000.m4s
#EXTINF:2.5,
seg_00001.m4s
"""


def test_master_playlist_lists_every_rendition_with_bandwidth_and_codecs():
    text = master_playlist(ladder([192, 96]), lambda r: f"{r.name}/index.m3u8")
    assert text.startswith("#EXTM3U\n")
    variants = parse_master_playlist(text)
    assert [(a["BANDWIDTH"], a["CODECS"], uri) for a, uri in variants] == [
        ("105600", "mp4a.40.2", "a96k/index.m3u8"), ("211200", "mp4a.40.2", "a192k/index.m3u8")]


def test_media_playlist_is_read_and_turned_vod_or_kept_event():
    parsed = parse_media_playlist(EVENT)
    assert parsed.init == "init.mp4"
    assert parsed.segments == [("seg_00000.m4s", 6.013968), ("seg_00001.m4s", 2.5)]
    assert (parsed.target_duration, parsed.playlist_type, parsed.ended) == (6, "EVENT", False)
    assert parsed.duration == pytest.approx(8.513968)
    vod = parse_media_playlist(as_vod(EVENT))
    assert (vod.playlist_type, vod.ended, len(vod.segments)) == ("VOD", True, 2)
    assert as_vod(as_vod(EVENT)).count("#EXT-X-ENDLIST") == 1
    assert not parse_media_playlist(as_event(EVENT + "#EXT-X-ENDLIST\n")).ended


def test_rewrite_replaces_segment_and_init_uris_only():
    text = rewrite_uris(EVENT, lambda name: f"https://cdn/{name}?sig=1")
    parsed = parse_media_playlist(text)
    assert parsed.init == "https://cdn/init.mp4?sig=1"
    assert [name for name, _ in parsed.segments] == ["https://cdn/seg_00000.m4s?sig=1",
                                                     "https://cdn/seg_00001.m4s?sig=1"]
    assert "#EXT-X-TARGETDURATION:6" in text


@pytest.mark.parametrize("name,ok", [("seg_00001.m4s", True), ("a96k", True), ("../x", False),
                                     ("a/b", False), ("", False), ("x" * 65, False)])
def test_only_plain_segment_names_resolve(name, ok):
    assert safe_segment_name(name) is ok


def test_progress_lines_give_percentages():
    assert transcode.progress_percent("out_time_us=5000000", 10) == 50
    assert transcode.progress_percent("out_time_ms=2500000\n", 10) == 25  # microseconds too
    assert transcode.progress_percent("out_time_us=N/A", 10) is None
    assert transcode.progress_percent("out_time_us=99000000", 10) == 100
    assert transcode.progress_percent("out_time_us=-20", 10) == 0
    assert transcode.progress_percent("progress=end", 0) == 100
    assert transcode.progress_percent("out_time_us=100", 0) is None
    assert transcode.progress_percent("bitrate=128k", 10) is None


def test_loudness_and_errors_are_read_from_stderr():
    summary = "[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -22.2 LUFS\n"
    assert transcode.integrated_loudness(summary) == -22.2
    assert transcode.integrated_loudness(summary.replace("-22.2", "-inf")) is None
    assert transcode.integrated_loudness("nothing") is None
    message = transcode.readable_error("Input #0, wav\n[wav @ 0x1] bad header\nError opening input\n", 1)
    assert message.startswith("ffmpeg could not decode the file (exit 1)")
    assert "bad header" in message


def test_command_encodes_each_rendition_once_with_globals_first():
    command = transcode.hls_command("ffmpeg", "in.mp3", "/w", ladder([96, 192]), 6)
    assert command[:7] == ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-y", "-progress", "pipe:1"]
    assert command.count("-i") == 1
    assert "/w/a96k/index.m3u8" in command and "/w/a192k/index.m3u8" in command
    assert command.count("fmp4") == 2 and "ebur128" in " ".join(command)


def test_settings_reject_a_bad_ladder():
    assert HlsSettings(renditions=[192, 64]).renditions == [64, 192]
    for bad in ([], [8], [96, 96]):
        with pytest.raises(ValueError):
            HlsSettings(renditions=bad)


async def test_real_ffmpeg_run_reports_rising_progress_and_loudness(tmp_path):
    source = make_tone(tmp_path / "t.mp3", 13)
    renditions = ladder([64])
    os.makedirs(tmp_path / "out" / "a64k")
    seen: list[float] = []

    async def on_progress(percent):
        seen.append(percent)

    stderr = await transcode.run(transcode.hls_command(ffmpeg_path(), str(source), str(tmp_path / "out"),
                                                       renditions, 6), 13.0, on_progress)
    assert seen == sorted(seen) and seen[-1] == 100
    assert transcode.integrated_loudness(stderr) is not None
    playlist = parse_media_playlist((tmp_path / "out" / "a64k" / "index.m3u8").read_text())
    assert len(playlist.segments) == 3 and abs(playlist.duration - 13) < 0.1
    with pytest.raises(transcode.TranscodeFailed):
        await transcode.run([ffmpeg_path(), "-i", str(tmp_path / "missing.wav"), "-f", "null", "-"],
                            1.0, on_progress)


async def test_publisher_stores_event_playlists_then_vod(mediahub_app_factory, tmp_path):
    """Segments are stored before the playlist naming them; EVENT while running, VOD at the end."""
    app = await mediahub_app_factory()
    host = app.extensions["mediahub"]
    storage = host.storage.default
    source = make_tone(tmp_path / "t.mp3", 8)
    renditions = ladder([64])
    workdir = tmp_path / "work"
    os.makedirs(workdir / "a64k")
    await transcode.run(transcode.hls_command(ffmpeg_path(), str(source), str(workdir), renditions, 6),
                        8.0, lambda p: _noop())
    track = types.SimpleNamespace(id=uuid.uuid4(), prefix="tracks/x/")
    publisher = Publisher(storage, track, str(workdir), renditions)
    assert await publisher.publish() == pytest.approx(8, abs=0.1)
    keys = sorted([s.key async for s in storage.list("tracks/x/")])
    assert keys == ["tracks/x/hls/a64k/index.m3u8", "tracks/x/hls/a64k/init.mp4",
                    "tracks/x/hls/a64k/seg_00000.m4s", "tracks/x/hls/a64k/seg_00001.m4s",
                    "tracks/x/hls/master.m3u8"]

    async def text(key):
        return b"".join([c async for c in storage.open_range(key, 0, (await storage.stat(key)).size - 1)]).decode()

    running = parse_media_playlist(await text("tracks/x/hls/a64k/index.m3u8"))
    assert (running.playlist_type, running.ended) == ("EVENT", False)
    await publisher.publish(final=True)
    done = parse_media_playlist(await text("tracks/x/hls/a64k/index.m3u8"))
    assert (done.playlist_type, done.ended) == ("VOD", True)
    assert (await storage.stat("tracks/x/hls/a64k/seg_00000.m4s")).content_type == "video/iso.segment"


async def _noop():
    return None


async def test_a_transcode_past_its_time_limit_is_killed():
    import sys
    import time

    async def ignore(percent: float) -> None:
        pass

    started = time.monotonic()
    with pytest.raises(transcode.TranscodeFailed, match="longer than 0.2 s"):
        await transcode.run([sys.executable, "-c", "import time; time.sleep(60)"], 0, ignore, 0.2)
    assert time.monotonic() - started < 10


def test_the_ffmpeg_command_reads_no_more_than_the_duration_limit(tmp_path):
    command = transcode.hls_command("ffmpeg", "in.mp3", str(tmp_path), ladder([96]), 6, 600)
    assert command[command.index("-i") - 2:command.index("-i")] == ["-t", "601.000"]
