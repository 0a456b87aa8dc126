"""HTTP Range and conditional-request rules (RFC 9110 sections 13 and 14), as pure functions.

`parse_range` reads a Range header, `plan_response` decides the status (200, 206, 304, 412,
416) and headers for one object. Every route that serves media goes through `plan_response`
(see mediahub.streaming), so the rules live in one place.

Multiple ranges (`bytes=0-9,20-29`): ranges that overlap or touch are coalesced and
served as one 206; otherwise the Range header is ignored and the whole object is sent
with 200, which RFC 9110 allows. Nobody plays audio with multipart/byteranges.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import Mapping

from mediahub.datatypes import ByteRange, ObjectStat
from mediahub.security_headers import media_headers

MAX_RANGES = 64  # more ranges than this in one header is abuse, not playback
# A byte position with more digits than this is past the end of any object. Python's int()
# refuses strings of more than 4300 digits (ValueError), so long ones are never converted.
MAX_POSITION_DIGITS = 19
BEYOND_ANY_OBJECT = 10 ** MAX_POSITION_DIGITS


class Unsatisfiable(Exception):
    """The Range header is valid but selects no byte of the object: answer 416."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to send, or None to send the whole object (no header, or one to ignore).

    Raises Unsatisfiable when the header is well-formed but no range overlaps the object.
    A malformed header, another unit, or last < first is ignored, as RFC 9110 14.2 says.
    """
    if not header:
        return None
    simple = _simple_range(header, size)
    if simple is not None:
        return simple
    unit, sep, range_set = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [part.strip() for part in range_set.split(",")]
    specs = [part for part in specs if part]  # "1#" lists allow empty elements
    if not specs or len(specs) > MAX_RANGES:
        return None
    satisfiable: list[ByteRange] = []
    for spec in specs:
        first, dash, last = spec.partition("-")
        if not dash or not is_digits(first or "0") or not is_digits(last or "0"):
            return None
        if first == "":
            if last == "":
                return None
            suffix = position(last)
            if suffix > 0 and size > 0:
                satisfiable.append(ByteRange(max(size - suffix, 0), size - 1))
            elif suffix > 0:
                # A zero-length object: a suffix range is satisfiable and means "all of it".
                return None
            continue
        start = position(first)
        end = position(last) if last else size - 1
        if last and end < start:
            return None
        if start < size:
            satisfiable.append(ByteRange(start, min(end, size - 1)))
    if not satisfiable:
        raise Unsatisfiable(f"bytes */{size}")
    return coalesce(satisfiable)


def _simple_range(header: str, size: int) -> ByteRange | None:
    """`bytes=first-last` or `bytes=first-` inside the object (what players and HLS send
    on every request): the range, without the general parser's lists. None: use that."""
    if not header.startswith("bytes="):
        return None
    first, dash, last = header[6:].partition("-")
    if (not dash or not first or len(first) > MAX_POSITION_DIGITS or len(last) > MAX_POSITION_DIGITS
            or not is_digits(first) or (last and not is_digits(last))):
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if end < start or start >= size:
        return None  # ignored or unsatisfiable: the general parser decides which
    return ByteRange(start, min(end, size - 1))


def is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def position(digits: str) -> int:
    """A byte position from its ASCII digits; absurdly long numbers mean "past any end"."""
    digits = digits.lstrip("0") or "0"
    return BEYOND_ANY_OBJECT if len(digits) > MAX_POSITION_DIGITS else int(digits)


def coalesce(ranges: list[ByteRange]) -> ByteRange | None:
    """One range covering them all if they overlap or touch, else None (send everything)."""
    ordered = sorted(ranges, key=lambda r: r.start)
    merged = ordered[0]
    for item in ordered[1:]:
        if item.start > merged.end + 1:
            return None
        merged = ByteRange(merged.start, max(merged.end, item.end))
    return merged


def quote_etag(etag: str) -> str:
    """Backends give etags bare or quoted (S3 quotes them); the header needs quotes."""
    if etag.startswith('"') or etag.startswith('W/"'):
        return etag
    return f'"{etag}"'


def _etag_list(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def etag_matches_weak(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison, `*` matches any existing object."""
    opaque = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == opaque for tag in _etag_list(header))


def etag_matches_strong(header: str, etag: str) -> bool:
    """If-Match / If-Range: strong comparison; a weak etag never matches."""
    if etag.startswith("W/"):
        return False
    return any(tag == "*" or tag == etag for tag in _etag_list(header))


def parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@functools.lru_cache(maxsize=1024)
def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


@dataclass
class ResponsePlan:
    """What to answer: status, headers, and which bytes (if any) follow."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    byte_range: ByteRange | None = None  # the bytes to send; None with send_body = all
    send_body: bool = False
    error: tuple[str, str] | None = None  # (code, message) of a JSON error body

    @property
    def content_range(self) -> tuple[int, int] | None:
        return (self.byte_range.start, self.byte_range.end) if self.byte_range else None


def plan_response(method: str, request_headers: Mapping[str, str], stat: ObjectStat) -> ResponsePlan:
    """Decide 200/206/304/412/416 and the headers, following RFC 9110's order of checks.

    `request_headers` must answer `.get()` for lowercase names (a dict keyed by
    lowercase names, or a case-insensitive mapping such as Quart's request.headers).
    HEAD gets the headers GET would, except that Range applies only to GET (RFC 9110 14.2).
    """
    last_modified = int(stat.last_modified)
    etag, fixed_validators, fixed_media = _object_headers(stat.etag, last_modified,
                                                          stat.content_type)
    validators = list(fixed_validators)
    get = request_headers.get

    if_match = get("if-match")
    if if_match is not None:
        if not etag_matches_strong(if_match, etag):
            return _error_plan(412, "precondition_failed", "If-Match does not match", validators)
    else:
        since = parse_http_date(get("if-unmodified-since"))
        if since is not None and last_modified > since:
            return _error_plan(412, "precondition_failed", "modified since If-Unmodified-Since",
                               validators)

    if_none_match = get("if-none-match")
    if if_none_match is not None:
        if etag_matches_weak(if_none_match, etag):
            return ResponsePlan(304, validators)
    else:
        since = parse_http_date(get("if-modified-since"))
        if since is not None and last_modified <= since:
            return ResponsePlan(304, validators)

    headers = validators + list(fixed_media)
    byte_range = None
    if method == "GET" and if_range_allows(get("if-range"), etag, last_modified):
        try:
            byte_range = parse_range(get("range"), stat.size)
        except Unsatisfiable:
            return _error_plan(416, "range_not_satisfiable",
                               f"no byte of the requested range exists (size {stat.size})",
                               validators + [("Content-Range", f"bytes */{stat.size}")])
    if byte_range is None:
        headers.append(("Content-Length", str(stat.size)))
        return ResponsePlan(200, headers, None, send_body=stat.size > 0)
    headers.append(("Content-Length", str(byte_range.length)))
    headers.append(("Content-Range", f"bytes {byte_range.start}-{byte_range.end}/{stat.size}"))
    return ResponsePlan(206, headers, byte_range, send_body=True)


@functools.lru_cache(maxsize=4096)
def _object_headers(etag: str, last_modified: int, content_type: str | None):
    """(quoted etag, validator headers, media headers) of one version of an object: the
    same for every request of it, so made once (a range request is ~20 us of Python)."""
    quoted = quote_etag(etag)
    validators = (("Accept-Ranges", "bytes"), ("ETag", quoted),
                  ("Last-Modified", http_date(last_modified)))
    # nosniff, a sandboxing policy, and never a type a browser renders (user bytes).
    return quoted, validators, tuple(media_headers(content_type))


def if_range_allows(if_range: str | None, etag: str, last_modified: int) -> bool:
    """Whether Range still applies: no If-Range, or it names the current representation."""
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith('"') or if_range.startswith("W/"):
        return etag_matches_strong(if_range, etag)
    date = parse_http_date(if_range)
    return date is not None and int(date) == last_modified


def _error_plan(status: int, code: str, message: str, headers: list[tuple[str, str]]) -> ResponsePlan:
    return ResponsePlan(status, list(headers), error=(code, message))


def error_body(code: str, message: str) -> bytes:
    """The one JSON error shape, for the raw ASGI path (Quart routes use error_response)."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()
