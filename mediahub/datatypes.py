"""Plain data types several layers share (storage, ranges, uploads, hooks, ASGI), importing nothing of mediahub but sniff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from mediahub.sniff import AudioType

# ASGI (https://asgi.readthedocs.io): what middleware such as the media gateway passes on.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class InvalidKey(ValueError):
    """A key that would escape the backend's root or is otherwise unusable."""


@dataclass(frozen=True)
class ObjectStat:
    key: str
    size: int
    etag: str
    last_modified: float  # unix seconds
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class PresignedUpload:
    """Where and how a client POSTs a file itself (an HTML-form style multipart POST)."""

    url: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ByteRange:
    """Bytes start..end of an object, both inclusive (as in Content-Range)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class IncomingUpload:
    """What `upload_validate` implementations see: nothing has been stored yet."""

    purpose: str
    user: Any  # mediahub.models.User | None
    detected_type: AudioType
    declared_size: int | None  # what the client announced (Content-Length), if anything
    head: bytes  # the first bytes of the file (at least 64 KiB unless the file is shorter)
    backend: str
    key: str
