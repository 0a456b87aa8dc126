"""`[plugins.hls_transcode]`: the rendition ladder, segment length and upload limits."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class HlsSettings(BaseModel):
    """`[plugins.hls_transcode]` in the config file."""

    model_config = {"extra": "forbid"}
    # AAC bitrates (kbit/s) of the renditions, one media playlist each.
    renditions: list[int] = Field(default_factory=lambda: [96, 192], min_length=1, max_length=6)
    segment_seconds: int = Field(6, ge=2, le=30)
    # Loudness the track gain aims at (LUFS; ReplayGain 2 uses -18).
    target_lufs: float = Field(-18.0, ge=-40, le=-5)
    # The storage backend tracks go to (None: [storage] default).
    backend: str | None = None
    # How long presigned upload URLs and signed playlist URLs stay valid.
    upload_url_ttl: int = Field(3600, ge=60, le=7 * 86400)
    max_artwork_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    # Longer tracks fail with a clear error (a few KB can claim hours), and ffmpeg stops
    # there even if the file's headers lie; a transcode running longer than
    # transcode_timeout seconds is killed. At most [jobs] concurrency run at once.
    max_duration_seconds: float = Field(4 * 3600, gt=0)
    transcode_timeout: float = Field(1800.0, gt=0)

    @field_validator("renditions")
    @classmethod
    def sane_bitrates(cls, value: list[int]) -> list[int]:
        if any(not 16 <= kbps <= 512 for kbps in value) or len(set(value)) != len(value):
            raise ValueError("renditions are distinct AAC bitrates between 16 and 512 kbit/s")
        return sorted(value)
