"""Read one audio file's tags with mutagen into one shape, whatever the format (ID3, Vorbis, MP4, ASF)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from mediahub_music_library.names import number_pair, split_values, year_of


class Unreadable(ValueError):
    """Not audio mutagen understands, or a tag parser failed on it: skipped and reported."""


@dataclass
class TrackTags:
    """What the scanner stores of a file (empty strings and None where a tag is missing)."""

    title: str = ""
    artists: list[str] = field(default_factory=list)
    album: str = ""
    album_artists: list[str] = field(default_factory=list)
    track_no: int | None = None
    track_total: int | None = None
    disc_no: int | None = None
    disc_total: int | None = None
    date: str | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    compilation: bool = False
    duration: float = 0.0
    bitrate: int | None = None  # kbit/s
    sample_rate: int | None = None
    channels: int | None = None
    bit_depth: int | None = None
    codec: str = ""
    suffix: str = ""
    content_type: str = "application/octet-stream"
    replay_gain: dict | None = None
    mbid: str | None = None
    album_mbid: str | None = None
    artist_mbid: str | None = None
    lyrics: str | None = None
    picture: bytes | None = None


# (codec, suffix, content type) by mutagen class name.
FORMATS = {
    "MP3": ("mp3", "mp3", "audio/mpeg"), "EasyMP3": ("mp3", "mp3", "audio/mpeg"),
    "FLAC": ("flac", "flac", "audio/flac"), "OggVorbis": ("vorbis", "ogg", "audio/ogg"),
    "OggOpus": ("opus", "opus", "audio/ogg"), "OggFLAC": ("flac", "oga", "audio/ogg"),
    "MP4": ("aac", "m4a", "audio/mp4"), "WAVE": ("pcm", "wav", "audio/wav"),
    "AIFF": ("pcm", "aiff", "audio/aiff"), "ASF": ("wma", "wma", "audio/x-ms-wma"),
}
GAIN_KEYS = {"replaygain_track_gain": "track_gain", "replaygain_track_peak": "track_peak",
             "replaygain_album_gain": "album_gain", "replaygain_album_peak": "album_peak"}


def supported_kinds() -> list:
    """mutagen's classes of the formats in FORMATS (imported once, not per file)."""
    global SUPPORTED_KINDS
    if SUPPORTED_KINDS is None:
        from mutagen.aiff import AIFF
        from mutagen.asf import ASF
        from mutagen.flac import FLAC
        from mutagen.mp3 import MP3
        from mutagen.mp4 import MP4
        from mutagen.oggflac import OggFLAC
        from mutagen.oggopus import OggOpus
        from mutagen.oggvorbis import OggVorbis
        from mutagen.wave import WAVE

        SUPPORTED_KINDS = [MP3, FLAC, OggVorbis, OggOpus, OggFLAC, MP4, WAVE, AIFF, ASF]
    return SUPPORTED_KINDS


SUPPORTED_KINDS: list | None = None


def open_audio(source):
    """mutagen's reading of `source` (a path or a binary file object), or None if not audio.

    Only the formats this plugin indexes are tried first: mutagen.File otherwise imports and
    scores its 24 formats for every file (a quarter of its time on small files); a file none
    of ours claims is tried with all of them, so its report names what it is.
    """
    import mutagen

    audio = mutagen.File(source, options=supported_kinds())
    if audio is None:
        if hasattr(source, "seek"):
            source.seek(0)
        audio = mutagen.File(source)
    return audio


def read_tags(source, artist_separators: list[str], genre_separators: list[str]) -> TrackTags:
    """Blocking: call through asyncio.to_thread. Raises Unreadable for anything not audio.

    `source` is a path or a file object open for reading in binary (the scanner's readers
    open each file once, for its tags and its fingerprint).
    """
    try:
        audio = open_audio(source)
    except Exception as exc:  # mutagen's parsers raise more than MutagenError on broken files
        raise Unreadable(f"tag parser failed: {type(exc).__name__}: {exc}") from exc
    if audio is None or getattr(audio, "info", None) is None:
        raise Unreadable("not an audio file mutagen recognises")
    kind = type(audio).__name__
    if kind not in FORMATS:
        raise Unreadable(f"unsupported format {kind}")
    raw = {"ID3": id3_values, "MP4": mp4_values, "ASF": asf_values}.get(tag_family(audio), vorbis_values)(audio)
    info = audio.info
    codec, suffix, content_type = FORMATS[kind]
    if kind == "MP4" and "alac" in str(getattr(info, "codec", "")).lower():
        codec = "alac"
    duration = float(getattr(info, "length", 0.0) or 0.0)
    if duration <= 0:
        raise Unreadable("no audio stream (zero length)")
    tags = TrackTags(duration=duration, codec=codec, suffix=suffix, content_type=content_type)
    tags.bitrate = round(info.bitrate / 1000) if getattr(info, "bitrate", 0) else None
    tags.sample_rate = getattr(info, "sample_rate", None) or None
    tags.channels = getattr(info, "channels", None) or None
    tags.bit_depth = getattr(info, "bits_per_sample", None) or None
    # The first non-blank value of each tag, once (a file has a few of the ~20 looked up).
    first: dict[str, str] = {}
    for key, values in raw.items():
        if key != "_picture":
            value = next((v for v in values if v.strip()), None)
            if value is not None:
                first[key] = value.strip()
    tags.title = first.get("title", "")
    tags.artists = split_values(raw.get("artist", ()), artist_separators)
    tags.album = first.get("album", "")
    tags.album_artists = split_values(raw.get("albumartist", ()), artist_separators)
    tags.track_no, tags.track_total = number_pair(first.get("tracknumber"))
    tags.track_total = tags.track_total or number_pair(first.get("tracktotal"))[0]
    tags.disc_no, tags.disc_total = number_pair(first.get("discnumber"))
    tags.date = first.get("date", "")[:32] or None
    tags.year = year_of(tags.date)
    tags.genres = split_values(raw.get("genre", ()), genre_separators)
    tags.compilation = first.get("compilation", "").lower() in ("1", "true", "yes")
    if any(key in first for key in GAIN_KEYS):
        gains = {name: parse_gain(first[key]) for key, name in GAIN_KEYS.items() if key in first}
        tags.replay_gain = {name: value for name, value in gains.items() if value is not None} or None
    tags.mbid = first.get("musicbrainz_trackid", "")[:36] or None
    tags.album_mbid = first.get("musicbrainz_albumid", "")[:36] or None
    tags.artist_mbid = first.get("musicbrainz_artistid", "")[:36] or None
    tags.lyrics = first.get("lyrics") or None
    tags.picture = raw.get("_picture")
    return tags


def tag_family(audio) -> str:
    name = type(audio.tags).__name__ if audio.tags is not None else ""
    if name in ("ID3", "_WaveID3", "_IFFID3", "EasyID3"):
        return "ID3"
    return {"MP4Tags": "MP4", "ASFTags": "ASF"}.get(name, "Vorbis")


def parse_gain(text: str) -> float | None:
    try:
        return float(text.lower().replace("db", "").strip())
    except ValueError:
        return None


def vorbis_values(audio) -> dict:
    values: dict = {}
    # A VComment is a list of (key, value) pairs: read as one (its dict view looks every
    # key up again in the whole list).
    for key, item in audio.tags if audio.tags is not None else ():
        values.setdefault(key.lower(), []).append(str(item))
    values.setdefault("lyrics", values.get("unsyncedlyrics", []))
    pictures = getattr(audio, "pictures", None)
    if pictures:
        values["_picture"] = pictures[0].data
    elif values.get("metadata_block_picture"):
        from mutagen.flac import Picture

        try:
            values["_picture"] = Picture(base64.b64decode(values["metadata_block_picture"][0])).data
        except Exception:
            pass  # a broken picture block loses the picture, not the track
    return values


ID3_FRAMES = {"TIT2": "title", "TPE1": "artist", "TALB": "album", "TPE2": "albumartist",
              "TRCK": "tracknumber", "TPOS": "discnumber", "TDRC": "date", "TYER": "date",
              "TCON": "genre", "TCMP": "compilation"}
ID3_TXXX = {"MusicBrainz Album Id": "musicbrainz_albumid", "MusicBrainz Artist Id": "musicbrainz_artistid",
            "MusicBrainz Release Track Id": "musicbrainz_releasetrackid",
            "USLT": "lyrics"}  # ffmpeg's `-metadata lyrics=` writes TXXX:USLT, not a USLT frame


def id3_values(audio) -> dict:
    values: dict = {}
    for frame in audio.tags.values():
        frame_id = frame.FrameID
        if frame_id in ID3_FRAMES:
            values.setdefault(ID3_FRAMES[frame_id], []).extend(str(text) for text in frame.text)
        elif frame_id == "TXXX":
            key = ID3_TXXX.get(frame.desc, frame.desc.lower())
            values.setdefault(key, []).extend(str(text) for text in frame.text)
        elif frame_id == "UFID" and frame.owner == "http://musicbrainz.org":
            values["musicbrainz_trackid"] = [frame.data.decode("ascii", "replace")]
        elif frame_id == "USLT":
            values.setdefault("lyrics", []).append(frame.text)
        elif frame_id == "APIC" and "_picture" not in values:
            values["_picture"] = frame.data
    return values


MP4_ATOMS = {"\xa9nam": "title", "\xa9ART": "artist", "\xa9alb": "album", "aART": "albumartist",
             "\xa9day": "date", "\xa9gen": "genre", "\xa9lyr": "lyrics"}


def mp4_values(audio) -> dict:
    values: dict = {}
    for atom, items in audio.tags.items():
        if atom in MP4_ATOMS:
            values.setdefault(MP4_ATOMS[atom], []).extend(str(item) for item in items)
        elif atom in ("trkn", "disk") and items:
            number, total = items[0]
            values["tracknumber" if atom == "trkn" else "discnumber"] = [f"{number}/{total}"]
        elif atom == "cpil":
            values["compilation"] = ["1" if items else "0"]
        elif atom.startswith("----:com.apple.iTunes:"):
            key = atom.split(":", 2)[2].lower().replace(" ", "_")
            values.setdefault(key, []).extend(bytes(item).decode("utf-8", "replace") for item in items)
        elif atom == "covr" and items:
            values["_picture"] = bytes(items[0])
    return values


ASF_NAMES = {"Title": "title", "Author": "artist", "WM/AlbumTitle": "album",
             "WM/AlbumArtist": "albumartist", "WM/TrackNumber": "tracknumber",
             "WM/PartOfSet": "discnumber", "WM/Year": "date", "WM/Genre": "genre",
             "WM/Lyrics": "lyrics", "MusicBrainz/Track Id": "musicbrainz_trackid",
             "MusicBrainz/Album Id": "musicbrainz_albumid"}


def asf_values(audio) -> dict:
    values: dict = {}
    for name, items in audio.tags.items():
        key = ASF_NAMES.get(name, name.lower())
        values.setdefault(key, []).extend(str(item.value) for item in items if name != "WM/Picture")
    return values
