"""A storage backend on Cloudinary through the official SDK: staged to a temp file, then uploaded.

Credentials come from the environment only (`CLOUDINARY_URL`, or `CLOUDINARY_CLOUD_NAME`,
`CLOUDINARY_API_KEY`, `CLOUDINARY_API_SECRET`, optional `CLOUDINARY_UPLOAD_PREFIX`), never
from the TOML file. Every SDK call is blocking, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import posixpath
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, unquote, urlsplit

from mediahub import ConfigProblem, InvalidKey, ObjectStat, PresignedUpload

log = logging.getLogger("mediahub.cloudinary")

# Audio is a "video" resource for Cloudinary (the seed's resource_type).
RESOURCE_TYPE = "video"
# Cloudinary's own chunk size for upload_large; parts must be at least 5 MB except the last.
DEFAULT_CHUNK_SIZE = 20_000_000
# Above this size the upload goes in chunks (Cloudinary refuses single uploads over 100 MB).
DEFAULT_LARGE_THRESHOLD = 100_000_000
# Seconds one API request may take (one chunk of a large upload, a destroy): a stalled
# Cloudinary must not hold a worker thread forever.
REQUEST_TIMEOUT = 300
SECRET_KEYS = {"api_key", "api_secret", "cloudinary_url", "url", "cloud_name"}

# The tags the next `put` in this task applies ("temp", "session", the session id). Set by
# the route: the Storage protocol's `put` has no place for them.
upload_tags: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "cloudinary_upload_tags", default=())


@dataclass(frozen=True)
class Credentials:
    cloud_name: str
    api_key: str
    api_secret: str
    upload_prefix: str | None = None

    def options(self) -> dict[str, str]:
        """Passed to every SDK call, so the SDK's process-wide config is never relied on."""
        options = {"cloud_name": self.cloud_name, "api_key": self.api_key,
                   "api_secret": self.api_secret}
        if self.upload_prefix:
            options["upload_prefix"] = self.upload_prefix
        return options


def credentials_from_env(environ: dict[str, str] | os._Environ = os.environ) -> Credentials | None:
    """Read `CLOUDINARY_URL` (cloudinary://key:secret@cloud?upload_prefix=...) or the split variables."""
    url = environ.get("CLOUDINARY_URL", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme != "cloudinary" or not parts.hostname or not parts.username or not parts.password:
            return None
        query = parse_qs(parts.query)
        prefix = (query.get("upload_prefix") or [None])[0]
        return Credentials(parts.hostname, unquote(parts.username), unquote(parts.password), prefix)
    names = ("CLOUDINARY_CLOUD_NAME", "CLOUDINARY_API_KEY", "CLOUDINARY_API_SECRET")
    values = [environ.get(name, "").strip() for name in names]
    if not all(values):
        return None
    return Credentials(*values, environ.get("CLOUDINARY_UPLOAD_PREFIX") or None)


def public_id_of(key: str) -> str:
    """Cloudinary's public id of a key: the key without its extension (the format is separate)."""
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise InvalidKey(f"unusable key {key!r}")
    root, _ = posixpath.splitext(key)
    return root


def format_of(key: str) -> str:
    return posixpath.splitext(key)[1].lstrip(".")


class CloudinaryUnavailable(ConnectionError):
    """Cloudinary refused or could not be reached (a ConnectionError, so uploads answer 503)."""


class CloudinaryStorage:
    """The Storage protocol over Cloudinary's upload and admin APIs (resource type video)."""

    def __init__(self, name: str, credentials: Credentials, staging_dir: Path,
                 chunk_size: int = DEFAULT_CHUNK_SIZE,
                 large_threshold: int = DEFAULT_LARGE_THRESHOLD):
        self.name = name
        self.credentials = credentials
        self.staging_dir = staging_dir
        self.chunk_size = chunk_size
        self.large_threshold = large_threshold

    @classmethod
    def from_settings(cls, options: dict[str, Any]) -> CloudinaryStorage:
        for key in sorted(SECRET_KEYS.intersection(options)):
            raise ConfigProblem(key, "Cloudinary credentials are never read from the config "
                                     "file: set CLOUDINARY_URL in the environment")
        unknown = set(options) - {"type", "name", "data_dir", "secret_key", "chunk_size",
                                  "large_threshold"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigProblem(key, "unknown option (known: chunk_size, large_threshold)")
        credentials = credentials_from_env()
        if credentials is None:
            raise ConfigProblem("type", "Cloudinary needs CLOUDINARY_URL=cloudinary://"
                                        "<api_key>:<api_secret>@<cloud_name> in the environment")
        sizes = {}
        for key, default in (("chunk_size", DEFAULT_CHUNK_SIZE),
                             ("large_threshold", DEFAULT_LARGE_THRESHOLD)):
            value = options.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigProblem(key, "must be a positive number of bytes")
            sizes[key] = value
        staging = Path(options["data_dir"]) / "tmp" / f"cloudinary-{options['name']}"
        return cls(options["name"], credentials, staging, **sizes)

    async def start(self) -> None:
        await asyncio.to_thread(self.staging_dir.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        pass

    async def _call(self, function, *args, **kwargs) -> Any:
        """An SDK call in a worker thread; its errors become CloudinaryUnavailable."""
        import cloudinary.exceptions

        try:
            return await asyncio.to_thread(function, *args, **self.credentials.options(),
                                           timeout=REQUEST_TIMEOUT, **kwargs)
        except cloudinary.exceptions.NotFound:
            raise
        except (cloudinary.exceptions.Error, OSError) as exc:
            raise CloudinaryUnavailable(f"cloudinary: {exc}") from exc

    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str,
                  size: int | None = None) -> ObjectStat:
        """Stage the bytes in a temp file (constant memory), then upload it, in chunks if large."""
        import cloudinary.uploader

        public_id = public_id_of(key)
        await self.start()
        handle = await asyncio.to_thread(
            tempfile.NamedTemporaryFile, dir=self.staging_dir, prefix="upload-", delete=False)
        try:
            written = 0
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
                written += len(chunk)
            await asyncio.to_thread(handle.close)
            folder, base = posixpath.split(public_id)
            options = {"public_id": base, "folder": folder, "resource_type": RESOURCE_TYPE,
                       "tags": list(upload_tags.get()), "overwrite": False,
                       "unique_filename": False, "use_filename": False}
            if written > self.large_threshold:
                result = await self._call(cloudinary.uploader.upload_large, handle.name,
                                          chunk_size=self.chunk_size, **options)
            else:
                result = await self._call(cloudinary.uploader.upload, handle.name, **options)
        finally:
            handle.close()
            await asyncio.to_thread(Path(handle.name).unlink, missing_ok=True)
        if not result or result.get("public_id") != public_id:
            raise CloudinaryUnavailable(f"cloudinary stored {result and result.get('public_id')!r}, "
                                        f"not {public_id!r}")
        return ObjectStat(key=key, size=int(result.get("bytes", written)),
                          etag=str(result.get("etag", "")), last_modified=time.time(),
                          content_type=content_type)

    async def sweep_temp_files(self, older_than: float) -> int:
        """Staged files a crash left behind (the ledger's sweep calls this)."""
        def sweep() -> int:
            removed = 0
            for path in self.staging_dir.glob("upload-*"):
                try:
                    if path.stat().st_mtime < older_than:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    pass
            return removed

        if not self.staging_dir.exists():
            return 0
        return await asyncio.to_thread(sweep)

    async def add_tags(self, key: str, tags: list[str]) -> None:
        """Tag an object after its upload (a session id that came after the file in the form)."""
        import cloudinary.uploader

        for tag in tags:
            await self._call(cloudinary.uploader.add_tag, tag, [public_id_of(key)],
                             resource_type=RESOURCE_TYPE)

    def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        # Clients stream from Cloudinary's own delivery URL (`url`), which serves Range.
        raise NotImplementedError("Cloudinary objects are played from their delivery URL")

    async def stat(self, key: str) -> ObjectStat | None:
        import cloudinary.api
        import cloudinary.exceptions

        try:
            info = await self._call(cloudinary.api.resource, public_id_of(key),
                                    resource_type=RESOURCE_TYPE)
        except cloudinary.exceptions.NotFound:
            return None
        return ObjectStat(key=key, size=int(info.get("bytes", 0)), etag=str(info.get("etag", "")),
                          last_modified=time.time())

    async def delete(self, key: str) -> None:
        import cloudinary.uploader

        result = await self._call(cloudinary.uploader.destroy, public_id_of(key),
                                  resource_type=RESOURCE_TYPE, invalidate=True)
        if result.get("result") not in ("ok", "not found"):
            raise CloudinaryUnavailable(f"cloudinary could not destroy {key!r}: {result!r}")

    async def delete_tagged(self, tag: str) -> int:
        """Delete every object carrying tag (a whole session at once); return how many."""
        import cloudinary.api

        result = await self._call(cloudinary.api.delete_resources_by_tag, tag,
                                  resource_type=RESOURCE_TYPE, invalidate=True)
        return sum(1 for state in (result.get("deleted") or {}).values() if state == "deleted")

    async def delete_prefix(self, prefix: str) -> int:
        raise NotImplementedError("temporary uploads are single objects")

    async def list(self, prefix: str = ""):
        # Nothing to list for the orphan sweep: every object here was announced in the
        # ledger before its bytes left, and a session's leftovers go by tag.
        return
        yield  # pragma: no cover  (makes this an async generator)

    async def url(self, key: str, expires_in: int) -> str | None:
        """Cloudinary's public delivery URL (it serves Range); it lives as long as the object."""
        import cloudinary.utils

        url, _ = cloudinary.utils.cloudinary_url(
            public_id_of(key), resource_type=RESOURCE_TYPE, format=format_of(key) or None,
            secure=True, cloud_name=self.credentials.cloud_name)
        return url

    async def presign_upload(self, key: str, content_type: str, max_size: int,
                             expires_in: int) -> PresignedUpload:
        raise NotImplementedError("uploads to Cloudinary go through the server")


async def add_implicit_backend(host) -> None:
    """Build the `cloudinary` backend from the environment when the plugin names it but no
    `[storage.cloudinary]` table exists; without credentials log why and leave it out."""
    config = host.plugin_config("cloudinary_temp")
    if config is None or config.backend != "cloudinary" or "cloudinary" in host.storage.backends:
        return
    try:
        backend = CloudinaryStorage.from_settings({
            "type": "cloudinary", "name": "cloudinary",
            "data_dir": str(host.settings.server.data_dir)})
    except ConfigProblem as exc:
        log.error("plugins.cloudinary_temp.backend: %s; temporary uploads answer 503", exc.message)
        return
    await backend.start()
    host.storage.backends["cloudinary"] = backend
