"""Artwork: embedded pictures and cover/folder/front image files, kept by content hash, with
Pillow thumbnails made once at the configured sizes and served as immutable.

The originals are copied into `<data_dir>/music-library/covers/` when the scanner first
meets them (the folders stay read-only); if that cache is lost, a cover is extracted again
from where the scanner found it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
import warnings
from pathlib import Path

from mediahub import MediaObject, NotFound, ObjectStat, current_host, media_response
from mediahub_music_library.models import MusicCover, MusicFolder
from mediahub_music_library.streaming import FolderFiles

COVER_STEMS = ("cover", "folder", "front")  # in order of preference
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
MAX_COVER_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a bigger picture is a decompression bomb, not a cover
COVER_ID = re.compile(r"^[0-9a-f]{40}$")
IMMUTABLE = "public, max-age=31536000, immutable"


def image_mime(head: bytes) -> str | None:
    """The real type of an image from its magic bytes (never from a file name)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def cover_root() -> Path:
    return Path(current_host().settings.server.data_dir) / "music-library" / "covers"


def decodable(data: bytes) -> bool:
    """Pillow reads the header and the size is sane (cheap: the pixels are not decoded)."""
    import io

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Exception:
        return False
    return 0 < width * height <= MAX_PIXELS


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def folder_image(directory: str) -> str | None:
    """The directory's cover file (`cover.*`, then `folder.*`, then `front.*`), if any."""
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    found = {}
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in IMAGE_SUFFIXES and stem.lower() in COVER_STEMS:
            found.setdefault(stem.lower(), name)
    for stem in COVER_STEMS:
        if stem in found:
            return os.path.join(directory, found[stem])
    return None


def read_image(path: str) -> bytes | None:
    try:
        if os.path.getsize(path) > MAX_COVER_BYTES:
            return None
        with open(path, "rb") as handle:
            return handle.read(MAX_COVER_BYTES + 1)
    except OSError:
        return None


class CoverFinder:
    """Used by one scan (or upload): each cover's row made once; the scan's readers hash and
    cache the pictures (reader.cache_cover)."""

    def __init__(self, root: Path):
        self.root = root
        self.known: set[str] = set()

    async def record(self, cover, folder_id: int) -> str | None:
        """The id of a cover the scan's reader found and cached (reader.CoverRead), with its row."""
        if cover is None:
            return None
        if cover.id not in self.known:
            await MusicCover.get_or_create(id=cover.id, defaults=dict(
                kind=cover.kind, folder_id=folder_id, rel_path=cover.rel_path, mime=cover.mime,
                size=cover.size))
            self.known.add(cover.id)
        return cover.id

    async def remember(self, data: bytes, kind: str, folder_id: int | None, rel_path: str | None,
                       track_id: str | None = None) -> str | None:
        mime = image_mime(data[:16])
        if mime is None or len(data) > MAX_COVER_BYTES:
            return None
        cover_id = hashlib.sha1(data).hexdigest()
        if cover_id in self.known:
            return cover_id
        if not await MusicCover.exists(id=cover_id):
            if not await asyncio.to_thread(decodable, data):
                return None
            await asyncio.to_thread(write_atomically, self.root / cover_id, data)
            await MusicCover.get_or_create(id=cover_id, defaults=dict(
                kind=kind, folder_id=folder_id, rel_path=rel_path, track_id=track_id, mime=mime,
                size=len(data)))
        elif not (self.root / cover_id).exists():
            await asyncio.to_thread(write_atomically, self.root / cover_id, data)
        self.known.add(cover_id)
        return cover_id


def make_thumbnail(source: Path, target: Path, size: int) -> None:
    """A JPEG at most `size` pixels on its longer side (blocking: run it in a thread)."""
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(source) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a smaller scale, much faster
            picture = ImageOps.exif_transpose(image).convert("RGB")
            picture.thumbnail((size, size), Image.Resampling.LANCZOS)
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            picture.save(temporary, "JPEG", quality=85, optimize=True)
    os.replace(temporary, target)


def served_size(asked: int | None, sizes: list[int]) -> int | None:
    """The configured size a request gets: the smallest at least as big, else the biggest.

    Arbitrary sizes would let a client make the server render (and cache) any number of files.
    """
    if asked is None or not sizes:
        return None
    return next((size for size in sizes if size >= asked), sizes[-1])


class CoverFiles(FolderFiles):
    """The cover cache; a file's name is derived from its content, so it is its own ETag."""

    async def stat(self, key: str) -> ObjectStat | None:
        found = await super().stat(key)
        return ObjectStat(key, found.size, key, found.last_modified) if found else None


async def restore_original(cover: MusicCover, path: Path) -> bool:
    """Extract a cover again from where the scanner found it (the cache was lost)."""
    folder = await MusicFolder.get_or_none(id=cover.folder_id) if cover.folder_id else None
    if folder is None or not cover.rel_path:
        return False
    source = os.path.join(folder.path, cover.rel_path)
    if cover.kind == "embedded":
        from mediahub_music_library.tags import Unreadable, read_tags

        try:
            data = (await asyncio.to_thread(read_tags, source, [], [])).picture
        except (Unreadable, OSError):
            data = None
    else:
        data = await asyncio.to_thread(read_image, source)
    if not data or hashlib.sha1(data).hexdigest() != cover.id:
        return False
    await asyncio.to_thread(write_atomically, path, data)
    return True


async def cover_response(cover_id: str, size: int | None = None):
    """`music_catalog().cover_response`: the original, or a JPEG thumbnail at a configured size."""
    if not COVER_ID.match(cover_id or ""):
        raise NotFound("no such cover")
    cover = await MusicCover.get_or_none(id=cover_id)
    if cover is None:
        raise NotFound("no such cover")
    root = cover_root()
    original = root / cover_id
    if not original.exists() and not await restore_original(cover, original):
        raise NotFound("the cover's source is gone")
    key, mime = cover_id, cover.mime
    size = served_size(size, current_host().plugin_config("music_library").cover_sizes)
    if size is not None:
        key, mime = f"{cover_id}-{size}.jpg", "image/jpeg"
        if not (root / key).exists():
            try:
                await asyncio.to_thread(make_thumbnail, original, root / key, size)
            except Exception as exc:
                raise NotFound(f"the cover cannot be decoded ({type(exc).__name__})") from None
    described = MediaObject(backend="music-covers", key=key, state="stored", content_type=mime)
    response = await media_response(described, backend=CoverFiles(str(root)))
    response.headers["Cache-Control"] = IMMUTABLE
    return response
