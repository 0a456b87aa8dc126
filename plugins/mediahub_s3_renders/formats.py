"""Which sniffed audio types a declared render `format` accepts (pure)."""

from __future__ import annotations

# Declared format (the seed's `format` field) -> sniffed type names (mediahub.sniff) it may be.
ACCEPTED = {
    "mp3": {"mp3"},
    "wav": {"wav"},
    "flac": {"flac"},
    "ogg": {"opus", "vorbis"},
    "opus": {"opus"},
    "m4a": {"m4a"},
    "aac": {"aac", "m4a"},
    "webm": {"webm"},
}
# The key extension ingest gives each sniffed type -> that type's name.
TYPE_BY_EXTENSION = {"mp3": "mp3", "wav": "wav", "flac": "flac", "opus": "opus", "ogg": "vorbis",
                     "m4a": "m4a", "aac": "aac", "webm": "webm"}
ALL_TYPES = set(TYPE_BY_EXTENSION.values())


def normalise_format(declared: str | None) -> str | None:
    """The declared format in its canonical spelling, "mp3" when omitted, None if unknown."""
    value = (declared or "mp3").strip().lower().lstrip(".")
    return value if value in ACCEPTED else None


def sniffed_type_of_key(key: str) -> str | None:
    return TYPE_BY_EXTENSION.get(key.rpartition(".")[2].lower())


def matches(declared: str, sniffed: str | None) -> bool:
    return sniffed is not None and sniffed in ACCEPTED.get(declared, set())


def reconcile_duration(claimed: float | None, measured: float) -> float:
    """The client's duration if it is within a second of the measured one, else the measured one."""
    if claimed is None or abs(claimed - measured) > 1.0:
        return measured
    return claimed


def reconcile_bitrate(claimed: int | None, size_bytes: int, duration: float) -> int | None:
    """Average kbit/s measured from size and duration; the client's claim only when there is no duration."""
    if duration > 0:
        return max(1, round(size_bytes * 8 / duration / 1000))
    if claimed is not None and 1 <= claimed <= 5000:
        return claimed
    return None


MAX_DURATION = 24 * 3600.0


def parse_upload_fields(fields: dict[str, str]) -> dict:
    """The upload's text fields, checked: {format, bitrate, duration, token}; raises ValueError."""
    declared = normalise_format(fields.get("format"))
    if declared is None:
        raise ValueError(f"format must be one of {', '.join(sorted(ACCEPTED))}")
    bitrate = duration = None
    if fields.get("bitrate", "").strip():
        try:
            bitrate = int(fields["bitrate"].strip())
        except ValueError:
            raise ValueError("bitrate must be an integer (kbit/s)") from None
        if not 1 <= bitrate <= 5000:
            raise ValueError("bitrate must be between 1 and 5000 kbit/s")
    if fields.get("duration", "").strip():
        try:
            duration = float(fields["duration"].strip())
        except ValueError:
            raise ValueError("duration must be a number of seconds") from None
        if not 0 <= duration <= MAX_DURATION:  # also refuses nan and inf
            raise ValueError(f"duration must be between 0 and {MAX_DURATION:.0f} seconds")
    return {"format": declared, "bitrate": bitrate, "duration": duration,
            "token": fields.get("token") or None}
