"""The Storage protocol every backend implements, the backend registry, and the media ledger."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import re
import uuid
from typing import TYPE_CHECKING, Any, AsyncIterator, Protocol, runtime_checkable

from mediahub.datatypes import InvalidKey, ObjectStat, PresignedUpload
from mediahub.errors import ConfigProblem

if TYPE_CHECKING:
    from mediahub.config import Settings
    from mediahub.plugins import PluginHost

log = logging.getLogger("mediahub.storage")


MAX_KEY_BYTES = 1024
UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")  # control characters, backslash

# Types Python's mimetypes gets wrong or lacks (DESIGN.md, pitfalls).
KNOWN_TYPES = {
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
    ".opus": "audio/ogg", ".oga": "audio/ogg", ".m4a": "audio/mp4", ".aac": "audio/aac",
    ".webm": "audio/webm", ".ts": "video/mp2t", ".m4s": "video/iso.segment",
    ".m3u8": "application/vnd.apple.mpegurl", ".mp4": "video/mp4",
}


def check_key(key: str, *, prefix: bool = False) -> str:
    """The key if it names a file strictly inside the root; InvalidKey otherwise.

    With prefix=True an empty string and a trailing slash are allowed (list, delete_prefix).
    """
    if not isinstance(key, str):
        raise InvalidKey("a key is a string")
    if prefix and key == "":
        return key
    if not key or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKey("a key is 1 to 1024 bytes long")
    if UNSAFE_CHARACTERS.search(key):
        raise InvalidKey(f"{key!r}: control characters and backslashes are not allowed")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey(f"{key!r}: not valid UTF-8") from None
    if key.startswith("/"):
        raise InvalidKey(f"{key!r}: absolute keys are not allowed")
    parts = key.split("/")
    if prefix and parts[-1] == "":
        parts = parts[:-1]
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidKey(f"{key!r}: empty, '.' and '..' path segments are not allowed")
        if part.startswith("."):
            raise InvalidKey(f"{key!r}: segments may not start with '.'")
        if len(part.encode("utf-8")) > 255:
            raise InvalidKey(f"{key!r}: a path segment is longer than 255 bytes")
    return key


def guess_content_type(key: str) -> str:
    extension = os.path.splitext(key)[1].lower()
    return KNOWN_TYPES.get(extension) or mimetypes.guess_type(key)[0] or "application/octet-stream"


@runtime_checkable
class Storage(Protocol):
    """An object store. Keys are made by the server (uuid-based), never taken from a client.

    Every method is async and must not block the event loop.
    """

    name: str  # the [storage.<name>] this backend was built from

    async def start(self) -> None:
        """Open clients, create the bucket/directory. Called once at app start."""

    async def close(self) -> None:
        """Release clients. Called once at app stop."""

    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str,
                  size: int | None = None) -> ObjectStat:
        """Store the chunks under key, atomically: a reader sees the whole object or none."""

    def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Yield bytes start..end (inclusive) in large chunks; stop early if not iterated."""

    async def stat(self, key: str) -> ObjectStat | None:
        """Size, etag and mtime, or None if there is no such object."""

    async def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone."""

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under prefix; return how many."""

    def list(self, prefix: str = "") -> AsyncIterator[ObjectStat]:
        """Every object under prefix."""

    async def url(self, key: str, expires_in: int) -> str | None:
        """A URL a browser can GET (with Range) until it expires, or None."""

    async def presign_upload(self, key: str, content_type: str, max_size: int,
                             expires_in: int) -> PresignedUpload:
        """A URL + form fields that accept exactly one upload of key, content_type and at
        most max_size bytes, until expires_in seconds from now."""


async def put_small_objects(storage: Storage, objects: list[tuple[str, bytes, str]],
                            at_once: int = 8) -> None:
    """Store small objects held whole in memory, (key, data, content_type) each: every one is
    stored and durable when this returns, so something naming them can be stored next.

    A backend with `put_many(objects)` (local disk: one worker-thread call, one sync pass for
    the lot) gets them in one call; any other gets `put`s side by side, at most at_once at a
    time. If one fails, the others end first, then its error is raised."""
    if not objects:
        return
    put_many = getattr(storage, "put_many", None)
    if put_many is not None:
        await put_many(objects)
        return
    slots = asyncio.Semaphore(at_once)

    async def put_one(key: str, data: bytes, content_type: str) -> None:
        async def once():
            yield data

        async with slots:
            await storage.put(key, once(), content_type, len(data))

    results = await asyncio.gather(*(put_one(*item) for item in objects), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def new_key(prefix: str, extension: str = "") -> str:
    """A server-made key: `{prefix}{uuid4}.{ext}`; the extension is checked, not trusted."""
    extension = extension.lower().lstrip(".")
    if extension and not (extension.isalnum() and len(extension) <= 8):
        raise InvalidKey(f"unusable file extension {extension!r}")
    return f"{prefix}{uuid.uuid4().hex}{'.' + extension if extension else ''}"


class StorageRegistry:
    """The configured backends by name; `default` is the one `[storage] default` names."""

    def __init__(self, backends: dict[str, Storage], default_name: str):
        self.backends = backends
        self.default_name = default_name

    @classmethod
    def from_settings(cls, settings: Settings, plugins: PluginHost,
                      secret_key: bytes | None = None) -> StorageRegistry:
        """Build every configured backend. Each factory gets its table's keys plus the host
        options `name`, `data_dir` and `secret_key` (bytes: signs local download URLs)."""
        if secret_key is None:
            from mediahub.host import load_secret_key

            secret_key = load_secret_key(settings)
        factories: dict[str, Any] = {}
        for _, offered in plugins.call_sync("register_storage_backends"):
            factories.update(offered)
        backends: dict[str, Storage] = {}
        problems = []
        for name, table in settings.storage_backends().items():
            options = dict(table.model_extra or {})
            factory = factories.get(table.type)
            if factory is None:
                problems.append(f"storage.{name}.type: unknown backend type '{table.type}' "
                                f"(known: {', '.join(sorted(factories)) or 'none'})")
                continue
            try:
                backend = factory({**options, "name": name, "data_dir": str(settings.server.data_dir),
                                   "secret_key": secret_key})
            except ConfigProblem as exc:
                problems.append(f"storage.{name}.{exc.key}: {exc.message}")
                continue
            backends[name] = backend
        if problems:
            from mediahub.config import ConfigError

            # The default backend failing is fatal; another one only disables itself.
            if settings.storage_default not in backends:
                raise ConfigError(problems)
            for problem in problems:
                log.error("storage backend disabled: %s", problem)
        return cls(backends, settings.storage_default)

    @property
    def default(self) -> Storage:
        return self.backends[self.default_name]

    def get(self, name: str | None = None) -> Storage:
        if name is None:
            return self.default
        try:
            return self.backends[name]
        except KeyError:
            raise KeyError(f"no storage backend named {name!r}") from None

    async def start(self) -> None:
        for backend in self.backends.values():
            await backend.start()

    async def close(self) -> None:
        for backend in self.backends.values():
            await backend.close()

