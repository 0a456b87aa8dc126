"""Request and response shapes of the threads / messages / renders API (documented in /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from mediahub import NO_NUL

USERNAME = Field(min_length=1, max_length=64)
# Requests are strict: `"is_private": 0` or `"title": 5` is refused as the schema says,
# not quietly converted (which the API fuzzer rightly reports as a schema violation).
STRICT = ConfigDict(strict=True)


class ThreadCreate(BaseModel):
    model_config = STRICT

    title: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    is_private: bool = True
    members: list[Annotated[str, Field(max_length=64, pattern=NO_NUL)]] = Field(
        default_factory=list, max_length=200)


class ThreadOut(BaseModel):
    id: str
    title: str
    owner_id: str
    is_private: bool
    created_at: str
    members: list[str]


class ThreadList(BaseModel):
    threads: list[ThreadOut]


class MessageCreate(BaseModel):
    model_config = STRICT

    text: str = Field("", max_length=10_000, pattern=NO_NUL)
    snapshot: dict[str, Any] = Field(default_factory=dict)
    snapshot_metadata: Optional[dict[str, Any]] = None


class RenderOut(BaseModel):
    """The seed's Render object, plus the waveform peaks (0..1) and the message it is on."""

    id: str
    url: str
    format: str
    bitrate: Optional[int] = None
    duration: float
    size_bytes: int
    created_at: str
    message_id: Optional[str] = None
    peaks: list[float]


class MessageOut(BaseModel):
    id: str
    parent_thread: str
    user_id: str
    author: str
    text: str
    created_at: str
    timestamp: str
    snapshot: dict[str, Any]
    snapshot_metadata: Optional[dict[str, Any]] = None
    renders: list[RenderOut]


class MessageList(BaseModel):
    messages: list[MessageOut]


class AudioUpload(BaseModel):
    """multipart/form-data: the file plus the seed's fields (the token may be a bearer header instead)."""

    file: bytes
    format: Optional[str] = Field("mp3", max_length=16)
    bitrate: Optional[int] = None
    duration: Optional[float] = None
    token: Optional[str] = None


class RenderRef(BaseModel):
    model_config = STRICT

    id: str = Field(min_length=1, max_length=64)


class AttachRender(BaseModel):
    """The seed sends the whole Render object; only its id matters (the rest is the server's)."""

    model_config = STRICT

    render: RenderRef
    token: Optional[str] = Field(None, max_length=512)


class RenderAttached(BaseModel):
    status: str
    message_id: str


class MessageDeleted(BaseModel):
    status: str
    id: str
    renders_deleted: int


class TokenQuery(BaseModel):
    token: Optional[str] = Field(None, max_length=512)
