"""Streaming ingest: request bodies with back-pressure, size cap, magic-byte sniffing, sha256, ledger row.

Every plugin that accepts a file calls one of:

- ``await ingest(source, purpose=...)`` with any async iterator of bytes,
- ``await ingest_request(request, purpose=...)`` for a raw body (``PUT`` with ``audio/*``),
- ``await ingest_multipart(request, file_field="file", purpose=...)`` for ``multipart/form-data``.

Each returns the finalised ledger row (a ``MediaObject`` in state ``stored``) or raises a
``MediahubError`` (413 too large, 415 not audio, 4xx from ``upload_validate``, 503 storage
down), in which case nothing is kept: no object, no row (after a 503 from a storage that
hangs, their removal finishes in the background, or in the next sweep).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder, State

from mediahub._compat.quart import IDLE_TIMEOUT, STREAM_CHUNK, BoundedBody, set_body_limit
from mediahub.datatypes import IncomingUpload
from mediahub.errors import (BadRequest, MediahubError, PayloadTooLarge, StorageUnavailable,
                             UnsupportedMediaType)
from mediahub.host import Host, current_host
from mediahub.sniff import AUDIO_TYPES, MAX_SNIFF_BYTES, bytes_needed, detect_audio_type, is_allowed
from mediahub.storage import new_key

if TYPE_CHECKING:
    from quart import Request

    from mediahub.models import MediaObject, User

log = logging.getLogger("mediahub.uploads")

# Multipart text fields: each at most this long, and at most this many of them.
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
# Part headers, preamble: what the decoder may hold while it looks for a delimiter.
MAX_PART_HEADER_BYTES = 16 * 1024
# Room on top of the file's own cap for the form's fields, part headers and boundaries.
FORM_OVERHEAD_BYTES = MAX_FIELDS * (MAX_FIELD_BYTES + MAX_PART_HEADER_BYTES)


# -- ingest ----------------------------------------------------------------------------


class ChunkMeter:
    """Counts and hashes the bytes on their way to storage, and stops them at the cap.

    sha256 runs at about the speed of the network path itself, so it runs in a worker
    thread (hashlib releases the GIL), a batch of HASH_BATCH bytes at a time, while the
    event loop receives the next batch. Batches are hashed strictly in order.

    Each message is its own `update` (each a GIL hand-off, ~64 futex calls per MiB): joining
    a batch first to hash it in one call was measured, and the copy cost more CPU than the
    hand-offs (3.44 against 3.28 s per GiB, 12 interleaved runs; docs/performance.md).
    """

    HASH_BATCH = 1024 * 1024

    def __init__(self, max_bytes: int, expected_size: int | None = None):
        self.max_bytes = max_bytes
        self.expected_size = expected_size
        self.size = 0
        self.source_error: BaseException | None = None
        self._digest = hashlib.sha256()
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._hashing: asyncio.Future | None = None

    async def count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(f"the file is larger than the {describe_size(self.max_bytes)} limit")
        # A reference is kept until hashed: a mutable buffer could change before then.
        self._batch.append(chunk if isinstance(chunk, bytes) else bytes(chunk))
        self._batch_size += len(chunk)
        if self._batch_size >= self.HASH_BATCH:
            await self._hash_batch()

    async def _hash_batch(self) -> None:
        if self._hashing is not None:
            await self._hashing  # the previous batch first: the digest is sequential
        batch, self._batch, self._batch_size = self._batch, [], 0
        self._hashing = asyncio.get_running_loop().run_in_executor(None, self._update, batch)

    def _update(self, batch: list[bytes]) -> None:
        for chunk in batch:
            self._digest.update(chunk)

    async def sha256(self) -> str:
        """The hex digest of everything counted (waits for the hashing still in flight)."""
        await self._hash_batch()
        await self._hashing
        return self._digest.hexdigest()


async def ingest(source: AsyncIterator[bytes], *, purpose: str, user: User | None = None,
                 backend: str | None = None, key_prefix: str = "uploads/",
                 max_bytes: int | None = None, allowed: set[str] | None = None,
                 expires_at: datetime | None = None, metadata: dict | None = None,
                 declared_size: int | None = None, host: Host | None = None,
                 announce: bool = True) -> MediaObject:
    """Store an audio file streamed from `source` and return its finalised ledger row.

    :param source: an async iterator of bytes: ``request.body`` (then the body's cap, chunk
        size and idle timeout are set up here), a multipart file part, any generator.
    :param purpose: what the file is for (stored on the row, passed to the hooks).
    :param backend: the storage backend's name (default ``[storage] default``).
    :param key_prefix: the key is ``{key_prefix}{uuid}.{sniffed extension}``.
    :param max_bytes: the size cap (default ``[server] max_upload_bytes``), enforced on the
        bytes actually received whatever the client declared.
    :param allowed: audio type names (``"mp3"``, ``"opus"``...) or content types; None = all.
    :param declared_size: the size the client announced; a body that ends short is refused.
    :param announce: False to call the ``upload_received`` hook yourself, once your own
        checks have passed (if they fail, ``await host.ledger.discard(media)``).
    """
    host = host or current_host()
    max_bytes = max_bytes or host.settings.server.max_upload_bytes
    if isinstance(source, BoundedBody):
        stream_from(source, max_bytes)
        if declared_size is None:
            declared_size = source.expected_length
    if declared_size is not None and declared_size > max_bytes:
        raise PayloadTooLarge(f"the file is larger than the {describe_size(max_bytes)} limit")

    meter = ChunkMeter(max_bytes, declared_size)
    chunks = metered(source, meter)
    head = await read_head(chunks)
    audio_type = detect_audio_type(head)
    if audio_type is None or not is_allowed(audio_type, allowed):
        raise UnsupportedMediaType(refusal_message(allowed))

    storage = host.storage.get(backend)
    key = new_key(key_prefix, audio_type.extension)
    await validate_upload(host, IncomingUpload(
        purpose=purpose, user=user, detected_type=audio_type, declared_size=declared_size,
        head=head, backend=storage.name, key=key))

    media = await host.ledger.begin(
        backend=storage.name, key=key, purpose=purpose, content_type=audio_type.content_type,
        owner_id=getattr(user, "id", None), expires_at=expires_at, metadata=metadata)
    try:
        await store(storage, key, prepend(head, chunks), audio_type.content_type,
                    declared_size, meter)
        media = await host.ledger.finalise(media, size=meter.size, sha256=await meter.sha256())
    except StorageUnavailable:
        await discard_soon(host, media)
        raise
    except BaseException:
        await discard(host, media)
        raise
    if announce:
        await host.call_hook("upload_received", media=media, purpose=purpose, user=user)
    return media


def stream_from(body: BoundedBody, limit: int) -> None:
    """Set a request body up for streaming into storage: its cap, chunk size and idle timeout."""
    body.set_limit(limit)
    body.min_chunk = STREAM_CHUNK
    body.idle_timeout = IDLE_TIMEOUT


async def ingest_request(request: Request, **ingest_kwargs) -> MediaObject:
    """Store a raw request body (``PUT``/``POST`` with ``Content-Type: audio/*``).

    The Content-Type the client sends is ignored: the bytes are sniffed.
    """
    return await ingest(request.body, declared_size=request.content_length, **ingest_kwargs)


async def discard(host: Host, media: MediaObject) -> None:
    """Remove a refused upload's object and row without hiding the error that refused it."""
    try:
        # Shielded: a client that went away cancels this task, and the cleanup must still run.
        await asyncio.shield(host.ledger.discard(media))
    except Exception:
        log.exception("could not discard refused upload %s; the sweep will retry", media.key)


# How long a 503 waits for the failed upload's removal: a storage that answers (refusing)
# finishes it, a hung one must not hold the client through the delete's own retries.
DISCARD_WAIT = 2.0
# Removals still running after that; referenced so they are not garbage-collected mid-way.
_background_discards: set[asyncio.Task] = set()


async def discard_soon(host: Host, media: MediaObject) -> None:
    """Remove a failed upload's object and row, waiting at most DISCARD_WAIT for it.

    What is not done by then goes on without us (and the sweep retries what fails).
    """
    task = asyncio.get_running_loop().create_task(discard(host, media))
    _background_discards.add(task)
    task.add_done_callback(_background_discards.discard)
    await asyncio.wait({task}, timeout=DISCARD_WAIT)


def describe_size(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def refusal_message(allowed: set[str] | None) -> str:
    names = [t.name for t in AUDIO_TYPES if is_allowed(t, allowed)]
    return f"not a supported audio file (accepted: {', '.join(names)})"


async def metered(source: AsyncIterator[bytes], meter: ChunkMeter) -> AsyncIterator[bytes]:
    """The source's chunks, counted and hashed."""
    iterator = source.__aiter__()
    try:
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                # Checked before storage sees the end, so a short body is never committed.
                if meter.expected_size is not None and meter.size != meter.expected_size:
                    raise BadRequest(f"the body ended after {meter.size} of the "
                                     f"{meter.expected_size} bytes announced") from None
                return
            except RequestEntityTooLarge:
                raise PayloadTooLarge(
                    f"the request body is larger than the {describe_size(meter.max_bytes)} limit"
                ) from None
            if chunk:
                await meter.count(chunk)
                yield chunk
    except GeneratorExit:
        raise
    except BaseException as exc:
        # Remembered so a storage backend that wraps or swallows it cannot turn a client
        # mistake (too large, malformed) into a 503.
        meter.source_error = exc
        raise


async def read_head(chunks: AsyncIterator[bytes]) -> bytes:
    """The first bytes: enough to sniff (more when an ID3 tag must be skipped), or all of a short file."""
    head = bytearray()
    while len(head) < bytes_needed(head) and len(head) < MAX_SNIFF_BYTES:
        chunk = await anext(chunks, None)
        if chunk is None:
            break
        head += chunk
    return bytes(head)


async def prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


async def validate_upload(host: Host, upload: IncomingUpload) -> None:
    try:
        await host.plugins.call_hook("upload_validate", raise_errors=True, upload=upload)
    except MediahubError:
        raise
    except Exception:
        log.exception("upload_validate failed for a %s upload", upload.purpose)
        raise MediahubError("the upload could not be checked", code="internal_error",
                            status=500) from None


async def store(storage, key: str, chunks: AsyncIterator[bytes], content_type: str,
                size: int | None, meter: ChunkMeter) -> None:
    try:
        await storage.put(key, chunks, content_type, size)
    except BaseException as exc:
        if meter.source_error is not None:
            raise meter.source_error from None
        if isinstance(exc, (OSError, ConnectionError)):
            log.warning("storage %s failed while writing %s: %r", storage.name, key, exc)
            raise StorageUnavailable("storage is unavailable, try again later") from exc
        raise
    finally:
        await chunks.aclose()


# -- multipart ------------------------------------------------------------------------


class MultipartReader:
    """Events of a multipart/form-data body, decoded as the body streams in.

    Werkzeug's decoder parses the preamble, part headers and delimiters. Inside a part's
    data it copies every byte four times (into its buffer, a slice for the partial
    delimiter scan, a slice out, bytes of it) and scans it twice; so while no delimiter is
    in sight, `part_data` hands the body's chunks on itself (see `_bulk_data`) and gives
    the decoder only the stretches where one may be.
    """

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes):
        self.decoder = MultipartDecoder(boundary)
        self.body = body.__aiter__()
        self.marker = b"--" + boundary
        # A delimiter is a line break (at most 2 bytes), the marker, then more: one that
        # may straddle two chunks starts within this many bytes of the first one's end.
        self.edge = len(self.marker) + 2

    async def next_chunk(self) -> bytes | None:
        try:
            return await anext(self.body, None)
        except RequestEntityTooLarge:
            raise PayloadTooLarge("the request body is too large") from None

    async def next_event(self):
        while True:
            try:
                event = self.decoder.next_event()
            except (ValueError, AttributeError, IndexError, UnicodeDecodeError) as exc:
                raise BadRequest(f"malformed multipart body: {exc}") from None
            if event is not NEED_DATA:
                return event
            # Whatever the decoder holds while waiting is a partial delimiter, part headers
            # or a preamble; file data never piles up here, so this bounds its memory.
            if len(self.decoder.buffer) > MAX_PART_HEADER_BYTES + MAX_FIELD_BYTES:
                raise BadRequest("malformed multipart body: no part delimiter found")
            self.decoder.receive_data(await self.next_chunk())

    async def part_data(self) -> AsyncIterator[bytes]:
        """The current part's bytes, up to its closing delimiter."""
        while True:
            if self.decoder.state is State.DATA:
                async for data in self._bulk_data():
                    yield data
            event = await self.next_event()
            if not isinstance(event, Data):
                raise BadRequest("malformed multipart body: part ended unexpectedly")
            if event.data:
                yield event.data
            if not event.more_data:
                return

    async def _bulk_data(self) -> AsyncIterator[bytes]:
        """Part data straight from the body's chunks while no delimiter can be in them.

        Returns (the decoder takes over) at the first chunk that holds the marker or may
        complete one with what is held back, or at the end of the body. A chunk is handed
        on whole when no line break lies within `edge` bytes of its end (no delimiter can
        start there), else up to that line break, which is held back with what follows.
        """
        decoder, marker, edge = self.decoder, self.marker, self.edge
        while decoder.state is State.DATA and decoder.buffer.find(marker) == -1:
            chunk = await self.next_chunk()
            if (chunk is None or len(chunk) < 2 * edge or chunk.find(marker) != -1
                    or marker in bytes(decoder.buffer[-edge:]) + chunk[:edge]):
                decoder.receive_data(chunk)
                return
            if decoder.buffer:
                yield bytes(decoder.buffer)
            tail = len(chunk) - edge
            cut = min((i for i in (chunk.find(b"\r", tail), chunk.find(b"\n", tail)) if i != -1),
                      default=len(chunk))
            yield chunk if cut == len(chunk) else chunk[:cut]
            decoder.buffer = bytearray(chunk[cut:])

    async def read_field(self, name: str) -> str:
        value = bytearray()
        async for data in self.part_data():
            value += data
            if len(value) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"form field {name!r} is longer than {describe_size(MAX_FIELD_BYTES)}")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"form field {name!r} is not valid UTF-8") from None

    async def skip_part(self) -> None:
        async for _ in self.part_data():
            pass


def limit_request_body(request: Request, limit: int) -> None:
    """Cap this request's whole body at `limit` bytes (instead of the app's 1 MiB for JSON
    and forms), before anything of it is read; more gets 413."""
    set_body_limit(request.body, limit)


def multipart_reader(request: Request, body_limit: int) -> MultipartReader:
    """A streaming reader of the request's multipart/form-data body, capped at `body_limit` bytes.

    For routes that handle the parts themselves (`ingest_multipart` is the usual way).
    """
    boundary = multipart_boundary(request)
    if isinstance(request.body, BoundedBody):
        stream_from(request.body, body_limit)
    return MultipartReader(request.body, boundary)


def multipart_boundary(request: Request) -> bytes:
    if request.mimetype != "multipart/form-data":
        raise BadRequest("expected a multipart/form-data body")
    boundary = request.mimetype_params.get("boundary", "")
    # RFC 2046: 1 to 70 characters.
    if not boundary or len(boundary) > 70:
        raise BadRequest("multipart/form-data without a valid boundary parameter")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        raise BadRequest("multipart boundary must be ASCII") from None


async def ingest_multipart(
    request: Request, *, file_field: str,
    validate_fields: Callable[[dict[str, str]], Awaitable[None] | None] | None = None,
    announce: bool = True,
    **ingest_kwargs,
) -> tuple[MediaObject, dict[str, str]]:
    """Store the file part `file_field` of a multipart/form-data request; return it and the text fields.

    The file streams straight to storage; text fields (each at most 64 KiB, at most 32 of
    them) are collected before and after it. Other file parts are skipped.

    Fields that come after the file part are only known once the file is stored, so
    checking them is done through `validate_fields(fields)` (sync or async): if it raises,
    the stored file is discarded and the error propagates. Any failure after the file was
    stored (a malformed tail, the client leaving) discards it the same way, and
    `upload_received` is only announced once the whole form was read and accepted.
    """
    host: Host = ingest_kwargs.pop("host", None) or current_host()
    boundary = multipart_boundary(request)
    max_bytes = ingest_kwargs.pop("max_bytes", None) or host.settings.server.max_upload_bytes
    if isinstance(request.body, BoundedBody):
        stream_from(request.body, max_bytes + FORM_OVERHEAD_BYTES)
    if request.content_length is not None and request.content_length > max_bytes + FORM_OVERHEAD_BYTES:
        raise PayloadTooLarge(f"the file is larger than the {describe_size(max_bytes)} limit")

    reader = MultipartReader(request.body, boundary)
    fields: dict[str, str] = {}
    media = None
    parts = 0
    try:
        while True:
            event = await reader.next_event()
            if isinstance(event, Epilogue):
                break
            if isinstance(event, (File, Field)):
                parts += 1
                if parts > MAX_FIELDS + 1:
                    raise BadRequest(f"more than {MAX_FIELDS} form fields")
            if isinstance(event, (File, Field)) and event.name == file_field and media is None:
                media = await ingest(reader.part_data(), max_bytes=max_bytes, host=host,
                                     announce=False, **ingest_kwargs)
            elif isinstance(event, File):
                await reader.skip_part()
            elif isinstance(event, Field):
                fields[event.name or ""] = await reader.read_field(event.name or "")
        if media is None:
            raise BadRequest(f"missing file field {file_field!r}")
        if validate_fields is not None:
            outcome = validate_fields(fields)
            if hasattr(outcome, "__await__"):
                await outcome
    except BaseException:
        if media is not None:
            await discard(host, media)
        raise
    if announce:
        await host.call_hook("upload_received", media=media, purpose=ingest_kwargs.get("purpose"),
                             user=ingest_kwargs.get("user"))
    return media, fields
