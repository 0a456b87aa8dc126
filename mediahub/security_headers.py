"""Response headers that keep pages and served files from being turned against a visitor.

Pages get a Content-Security-Policy that allows only this server's own scripts and styles
(no inline code: templates pass data through `data-*` attributes and JSON endpoints) plus
the storage hosts media is played from (an S3 endpoint, a CDN). Every other response gets
`nosniff` and a policy that sandboxes it, so a file opened on its own never runs script.
A served file whose type a browser would render (HTML, SVG, XML...) is sent as an
`application/octet-stream` attachment instead: a file that sniffs as audio may still carry
HTML after its frames.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from mediahub.host import Host

log = logging.getLogger("mediahub.security_headers")

# Sources every page may use beyond 'self'; {storage} is the storage hosts' origins.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data: blob:{storage}; media-src 'self' blob:{storage}; "
               "connect-src 'self' ws: wss:{storage}; worker-src 'self' blob:; "
               "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# JSON, media, QR codes: nothing they contain runs or loads anything when opened directly.
RESOURCE_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"

# Types served as they are: a browser plays or shows them, never runs them.
INLINE_TYPES = {"application/vnd.apple.mpegurl", "application/x-mpegurl", "application/json",
                "image/jpeg", "image/png", "image/webp", "image/gif", "image/avif",
                "application/octet-stream"}
INLINE_TYPE_FAMILIES = ("audio/", "video/")
DOWNLOAD_TYPE = "application/octet-stream"


def page_policy(storage_origins: list[str] = ()) -> str:
    extra = "".join(f" {origin}" for origin in sorted(set(storage_origins)))
    return PAGE_POLICY.format(storage=extra)


def origin_of(url: str | None) -> str | None:
    """`https://bucket.example:9000` of an absolute http(s) URL; None for relative URLs."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


async def storage_origins(host: Host) -> list[str]:
    """Origins browsers fetch media from: what each backend's URLs point at (probed once)."""
    origins = set()
    for name, backend in (host.storage.backends if host.storage else {}).items():
        for options in ({}, {"public": True}):
            try:
                url = await backend.url("csp-probe/probe.mp3", 60, **options)
            except TypeError:
                continue  # this backend has no public URLs
            except Exception as exc:  # a backend that cannot make URLs serves through the host
                log.debug("storage %s made no URL for the page policy: %r", name, exc)
                continue
            origin = origin_of(url)
            if origin:
                origins.add(origin)
    return sorted(origins)


def is_renderable(content_type: str | None) -> bool:
    """Whether a browser might render (and run script in) a file of this type."""
    mimetype = (content_type or "").split(";")[0].strip().lower()
    return not (mimetype in INLINE_TYPES or mimetype.startswith(INLINE_TYPE_FAMILIES))


def media_headers(content_type: str | None) -> list[tuple[str, str]]:
    """Content-Type and the protective headers for a served file (user bytes)."""
    headers = [("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", RESOURCE_POLICY)]
    if is_renderable(content_type):
        return [("Content-Type", DOWNLOAD_TYPE), ("Content-Disposition", "attachment")] + headers
    return [("Content-Type", content_type or DOWNLOAD_TYPE)] + headers


def attachment(filename: str) -> str:
    """A Content-Disposition that downloads under filename (any characters, RFC 6266)."""
    ascii_name = "".join(ch if 0x20 < ord(ch) < 0x7f and ch not in '"\\;%' else "_" for ch in filename)
    return f"attachment; filename=\"{ascii_name or 'download'}\"; filename*=UTF-8''{quote(filename, safe='')}"
