"""Recognise audio files by their magic bytes; a client's MIME type or filename is never trusted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AudioType:
    """What a file really is: a short name, the extension keys get, the Content-Type it is served with."""

    name: str
    extension: str
    content_type: str


MP3 = AudioType("mp3", "mp3", "audio/mpeg")
WAV = AudioType("wav", "wav", "audio/wav")
FLAC = AudioType("flac", "flac", "audio/flac")
OGG_OPUS = AudioType("opus", "opus", "audio/ogg")
OGG_VORBIS = AudioType("vorbis", "ogg", "audio/ogg")
M4A = AudioType("m4a", "m4a", "audio/mp4")
AAC = AudioType("aac", "aac", "audio/aac")
WEBM = AudioType("webm", "webm", "audio/webm")

AUDIO_TYPES = (MP3, WAV, FLAC, OGG_OPUS, OGG_VORBIS, M4A, AAC, WEBM)

# How many leading bytes are enough for every format except MP3/FLAC behind a big ID3 tag.
SNIFF_BYTES = 64 * 1024
# An ID3 tag (cover art) longer than this is refused: the whole tag must be held in memory
# to find the audio behind it, and a hostile tag could otherwise claim 256 MiB.
MAX_SNIFF_BYTES = 4 * 1024 * 1024

# Brands of ISO BMFF files that hold (or may hold) AAC audio; image brands are refused below.
M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"mp42", b"mp41", b"isom", b"iso2", b"iso4",
              b"iso5", b"iso6", b"dash", b"3gp4", b"3gp5", b"3gp6", b"F4A ", b"F4B "}
IMAGE_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
                b"avif", b"avis", b"jpeg", b"jxl ", b"crx "}

# MPEG audio Layer III: kbit/s by bitrate index, for MPEG-1 and for MPEG-2/2.5.
MPEG1_L3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MPEG2_L3_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
# Sample rates by MPEG version bits (0 = 2.5, 2 = MPEG-2, 3 = MPEG-1; 1 is reserved).
MPEG_SAMPLE_RATES = {0: (11025, 12000, 8000), 2: (22050, 24000, 16000), 3: (44100, 48000, 32000)}


def detect_audio_type(head: bytes) -> AudioType | None:
    """The audio format `head` (the first bytes of a file) starts, or None if it is not audio we take."""
    head = bytes(head)
    if head.startswith(b"ID3"):
        audio_start = id3_end(head)
        if audio_start is None:
            return None
        return detect_after_id3(head, audio_start)
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return WAV
    if is_flac(head, 0):
        return FLAC
    if head.startswith(b"OggS"):
        return ogg_codec(head)
    if head[4:8] == b"ftyp":
        return M4A if is_m4a(head) else None
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM if ebml_doctype(head) == b"webm" else None
    if mpeg_frames_at(head, 0):
        return MP3
    if adts_frames_at(head, 0):
        return AAC
    return None


def bytes_needed(head: bytes) -> int:
    """How many leading bytes detection wants to see, given what it has seen so far.

    Usually SNIFF_BYTES; more when an ID3 tag must be skipped (capped: see MAX_SNIFF_BYTES).
    """
    if head.startswith(b"ID3") and len(head) >= 10:
        size = id3_declared_size(head)
        if size is not None:
            # A few frames past the tag, so the frame check can look at the next header too.
            return min(max(SNIFF_BYTES, size + 8 * 1024), MAX_SNIFF_BYTES)
    return SNIFF_BYTES


def is_allowed(audio_type: AudioType, allowed: set[str] | None) -> bool:
    """`allowed` names types by `name` ("mp3", "opus") or by content type ("audio/ogg")."""
    return allowed is None or audio_type.name in allowed or audio_type.content_type in allowed


# -- ID3 ---------------------------------------------------------------------------------


def id3_declared_size(head: bytes) -> int | None:
    """Total bytes of the ID3v2 tag (header, body, footer) as its header claims, or None if malformed."""
    if len(head) < 10 or not head.startswith(b"ID3"):
        return None
    major, revision, flags = head[3], head[4], head[5]
    if major not in (2, 3, 4) or revision == 0xFF:
        return None
    size_bytes = head[6:10]
    if any(b & 0x80 for b in size_bytes):  # syncsafe: the high bit of each byte is always 0
        return None
    size = (size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3]
    footer = 10 if major == 4 and flags & 0x10 else 0
    return 10 + size + footer


def id3_end(head: bytes) -> int | None:
    """Offset of the first byte after the ID3 tag(s) and their padding, or None if not inside head."""
    position = 0
    # Some taggers write a second tag after the first; skip any run of them.
    while head.startswith(b"ID3", position):
        size = id3_declared_size(head[position:position + 10])
        if size is None or size > MAX_SNIFF_BYTES:
            return None
        position += size
        if position >= len(head):
            return None
    # Zero padding past the declared size is common (taggers that shrink tags in place).
    while position < len(head) and head[position] == 0:
        position += 1
    return position if position < len(head) else None


def detect_after_id3(head: bytes, offset: int) -> AudioType | None:
    if mpeg_frames_at(head, offset):
        return MP3
    if is_flac(head, offset):
        return FLAC
    if adts_frames_at(head, offset):
        return AAC
    return None


# -- MPEG audio (MP3) and ADTS (AAC) frames ----------------------------------------------


def mpeg_frame_length(header: bytes) -> int | None:
    """Length of the MPEG Layer III frame this 4-byte header starts, or None if it is not one."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 0b11
    layer = (header[1] >> 1) & 0b11
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0b11
    padding = (header[2] >> 1) & 1
    emphasis = header[3] & 0b11
    if version == 1 or layer != 0b01 or rate_index == 3 or emphasis == 2:
        return None
    if bitrate_index in (0, 15):  # free format and the forbidden index: nobody ships these
        return None
    sample_rate = MPEG_SAMPLE_RATES[version][rate_index]
    if version == 3:
        return 144_000 * MPEG1_L3_KBPS[bitrate_index] // sample_rate + padding
    return 72_000 * MPEG2_L3_KBPS[bitrate_index] // sample_rate + padding


def mpeg_frames_at(head: bytes, offset: int) -> bool:
    """A valid frame header at offset, and another right after it if head reaches that far."""
    return consecutive_frames(head, offset, mpeg_frame_length, header_size=4)


def adts_frame_length(header: bytes) -> int | None:
    """Length of the ADTS (raw AAC) frame this 7-byte header starts, or None if it is not one."""
    if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
        return None
    profile = header[2] >> 6
    rate_index = (header[2] >> 2) & 0b1111
    if rate_index > 12 or profile == 3:
        return None
    length = ((header[3] & 0b11) << 11) | (header[4] << 3) | (header[5] >> 5)
    header_size = 7 if header[1] & 1 else 9  # protection_absent = 0 adds a CRC
    return length if length > header_size else None


def adts_frames_at(head: bytes, offset: int) -> bool:
    return consecutive_frames(head, offset, adts_frame_length, header_size=7)


def consecutive_frames(head: bytes, offset: int, frame_length, *, header_size: int) -> bool:
    # One header alone matches random bytes too often; a second one where the first frame
    # says it ends makes a false positive unlikely.
    length = frame_length(head[offset:offset + header_size])
    if length is None:
        return False
    following = offset + length
    if following + header_size > len(head):
        return True
    return frame_length(head[following:following + header_size]) is not None


# -- containers ----------------------------------------------------------------------------


def is_flac(head: bytes, offset: int) -> bool:
    # "fLaC" then the mandatory STREAMINFO block: type 0 (last-block bit may be set), 34 bytes.
    block = head[offset + 4:offset + 8]
    return (head.startswith(b"fLaC", offset) and len(block) == 4
            and block[0] & 0x7F == 0 and block[1:] == b"\x00\x00\x22")


def ogg_codec(head: bytes) -> AudioType | None:
    """Opus or Vorbis from the first packet of the first Ogg page."""
    if len(head) < 27 or head[4] != 0 or not head[5] & 0x02:  # version 0, beginning of stream
        return None
    segments = head[26]
    packet = head[27 + segments:27 + segments + 8]
    if packet == b"OpusHead":
        return OGG_OPUS
    if packet[:7] == b"\x01vorbis":
        return OGG_VORBIS
    return None


def is_m4a(head: bytes) -> bool:
    size = int.from_bytes(head[0:4], "big")
    if size < 16 or size > len(head) or size > 4096 or (size - 16) % 4:
        return False
    brands = {head[8:12]} | {head[i:i + 4] for i in range(16, size, 4)}
    return bool(brands & M4A_BRANDS) and not brands & IMAGE_BRANDS


def read_vint(data: bytes, position: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at position: (value, length in bytes), or None."""
    if position >= len(data) or data[position] == 0:
        return None
    length = 9 - data[position].bit_length()
    if position + length > len(data):
        return None
    value = int.from_bytes(data[position:position + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, length


def ebml_doctype(head: bytes) -> bytes | None:
    """The DocType ("webm", "matroska") from the EBML header at the start of head."""
    header_id = read_vint(head, 0, keep_marker=True)
    header_size = read_vint(head, 4, keep_marker=False)
    if header_id is None or header_size is None:
        return None
    position = 4 + header_size[1]
    end = min(position + header_size[0], len(head))
    while position < end:
        element = read_vint(head, position, keep_marker=True)
        if element is None:
            return None
        size = read_vint(head, position + element[1], keep_marker=False)
        if size is None:
            return None
        data_start = position + element[1] + size[1]
        data_end = data_start + size[0]
        if data_end > end:
            return None
        if element[0] == 0x4282:  # DocType
            return head[data_start:data_end].rstrip(b"\x00")
        position = data_end
    return None
