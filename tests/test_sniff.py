"""Audio detection by magic bytes, on real files made by ffmpeg and on hostile ones."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from mediahub.sniff import (AAC, FLAC, M4A, MAX_SNIFF_BYTES, MP3, OGG_OPUS, OGG_VORBIS,
                            SNIFF_BYTES, WAV, WEBM, bytes_needed, detect_audio_type,
                            id3_declared_size, is_allowed)

EXPECTED = {
    "tone_id3.mp3": MP3,
    "tone_bare.mp3": MP3,
    "tone_cover.mp3": MP3,
    "tone.wav": WAV,
    "tone.flac": FLAC,
    "tone_opus.ogg": OGG_OPUS,
    "tone_vorbis.ogg": OGG_VORBIS,
    "tone.m4a": M4A,
    "tone.aac": AAC,
    "tone.webm": WEBM,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_files_are_recognised_from_their_head(samples, name):
    data = samples[name]
    head = data[:bytes_needed(data[:SNIFF_BYTES])]
    assert detect_audio_type(head) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_whole_files_are_recognised_too(samples, name):
    assert detect_audio_type(samples[name]) == EXPECTED[name]


def test_samples_are_what_their_names_say(samples):
    assert samples["tone_id3.mp3"].startswith(b"ID3")
    assert not samples["tone_bare.mp3"].startswith(b"ID3")
    assert samples["tone_bare.mp3"][0] == 0xFF
    assert id3_declared_size(samples["tone_cover.mp3"]) > SNIFF_BYTES
    assert samples["tone.aac"][:2] in (b"\xff\xf1", b"\xff\xf9")


def test_an_id3_tag_larger_than_the_first_64_kib_asks_for_more(samples):
    data = samples["tone_cover.mp3"]
    assert detect_audio_type(data[:SNIFF_BYTES]) is None  # the audio is not in sight yet
    needed = bytes_needed(data[:SNIFF_BYTES])
    assert id3_declared_size(data) < needed <= MAX_SNIFF_BYTES
    assert detect_audio_type(data[:needed]) == MP3


def test_flac_behind_an_id3_tag(samples):
    tag = samples["tone_id3.mp3"][:id3_declared_size(samples["tone_id3.mp3"])]
    assert detect_audio_type(tag + samples["tone.flac"]) == FLAC


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + b"\x00\x00\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", b"\x00" * 12) + chunk(b"IEND", b""))


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("song.mp3", b"\xff\xfb\x90\x64" + b"\x00" * 1000)
    return buffer.getvalue()


def test_hostile_inputs_are_not_audio(samples):
    hostile = {
        "empty": b"",
        "png": png_bytes(),
        "text": b"hello, this is definitely an mp3 file\n" * 100,
        "html": b"<!doctype html><html><body>audio/mpeg</body></html>",
        "zip named .mp3": zip_bytes(),
        "truncated RIFF": b"RIFF\x24\x00",
        "RIFF but AVI": b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 64,
        "truncated fLaC": b"fLaC\x00\x00",
        "fLaC without STREAMINFO": b"fLaC\x04\x00\x00\x22" + b"\x00" * 64,
        "truncated ID3": b"ID3\x04\x00",
        "ID3 with no audio after": b"ID3\x04\x00\x00\x00\x00\x00\x10" + b"\x01" * 16 + b"hello",
        "ID3 then PNG": b"ID3\x04\x00\x00\x00\x00\x00\x00" + png_bytes(),
        "ID3 with a non-syncsafe size": b"ID3\x04\x00\x00\xff\xff\xff\xff" + samples["tone_bare.mp3"],
        "Ogg with another codec": b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e" + b"\x80theora" + b"\x00" * 40,
        "truncated Ogg": b"OggS\x00\x02\x00",
        "ftyp of a HEIC image": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        "Matroska video": b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02",
        "EBML truncated": b"\x1a\x45\xdf\xa3\x93\x42\x82\x88web",
        "lone frame sync": b"\xff\xfb" + b"\x00" * 4000,
        "frame sync with reserved bits": b"\xff\xff\xff\xff" * 1000,
        "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 500,
    }
    for name, data in hostile.items():
        assert detect_audio_type(data) is None, name


def test_an_id3_tag_claiming_a_huge_size_is_refused(samples):
    # 0x7f7f7f7f syncsafe = 256 MiB of "tag": never buffered, never accepted.
    data = b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + samples["tone_bare.mp3"]
    assert bytes_needed(data) == MAX_SNIFF_BYTES
    assert detect_audio_type(data[:MAX_SNIFF_BYTES]) is None


def test_audio_after_the_sniff_window_is_not_enough():
    # A frame sync followed by garbage where the next frame should start.
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413  # 128 kbit/s, 44.1 kHz: 417-byte frames
    assert detect_audio_type(frame + frame + frame) == MP3
    assert detect_audio_type(frame + b"garbage!" * 100) is None


def test_every_truncation_of_a_real_header_is_handled(samples):
    # Never an exception, whatever prefix of a real file arrives.
    for name, data in samples.items():
        for length in range(0, 80):
            detect_audio_type(data[:length])


def test_allowed_names_types_by_name_or_content_type():
    assert is_allowed(MP3, None)
    assert is_allowed(MP3, {"mp3"})
    assert is_allowed(OGG_OPUS, {"audio/ogg"})
    assert not is_allowed(WAV, {"mp3", "audio/ogg"})
