"""Request and response shapes of the track upload API (the seed's, plus detail and list)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from mediahub import NO_NUL


# Requests are strict: `"file_size": "10"` is refused as the schema says, not converted.
STRICT = ConfigDict(strict=True)


class TrackUploadInitRequest(BaseModel):
    model_config = STRICT

    title: str = Field("", max_length=200, pattern=NO_NUL)
    artist_name: str = Field("", max_length=200, pattern=NO_NUL)
    file_extension: str = Field(min_length=1, max_length=10, pattern=NO_NUL)
    file_size: int = Field(ge=1, le=1 << 50)
    artwork_extension: Optional[str] = Field(None, max_length=10, pattern=NO_NUL)


class TrackUploadInitResponse(BaseModel):
    """Where to POST the file(s): the URL and the form fields to send before the `file` field."""

    track_id: str
    audio_upload_url: str
    audio_upload_fields: dict[str, str]
    artwork_upload_url: Optional[str] = None
    artwork_upload_fields: Optional[dict[str, str]] = None


class TrackUploadCompleteRequest(BaseModel):
    model_config = STRICT

    track_id: str = Field(min_length=1, max_length=64, pattern=NO_NUL)


class TrackProcessingStatusResponse(BaseModel):
    track_id: str
    status: Literal["pending", "processing", "completed", "failed"]
    state: Literal["pending", "processing", "ready", "failed"]
    progress: float
    error: Optional[str] = None


class TrackOut(BaseModel):
    track_id: str
    title: str
    artist_name: str
    album: Optional[str] = None
    status: str
    progress: float
    error: Optional[str] = None
    duration_seconds: Optional[float] = None
    loudness_lufs: Optional[float] = None
    gain_db: Optional[float] = None
    artwork_url: Optional[str] = None
    hls_master_url: Optional[str] = None
    renditions: list[int]
    created_at: str


class TrackList(BaseModel):
    tracks: list[TrackOut]


class TrackDeleted(BaseModel):
    deleted: bool


class SignedQuery(BaseModel):
    exp: Optional[str] = None
    sig: Optional[str] = None
