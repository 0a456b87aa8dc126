"""`POST /media/upload/<backend>`: what an S3 presigned POST does, for backends that presign on the host.

Owned here, by the plugin whose `presign_upload` hands out this URL, so presigned local-disk
uploads work whichever other plugins are enabled. Which uploads are still open (single use)
is asked of the plugins that handed them out: the `presigned_upload_open` hook.
"""

from __future__ import annotations

import logging

from quart import request
from werkzeug.sansio.multipart import Epilogue, Field, File

from mediahub import (FORM_OVERHEAD_BYTES, MAX_FIELDS, BadRequest, Forbidden, MediahubError,
                      MultipartReader, NotFound, PayloadTooLarge, StorageUnavailable, current_host, multipart_reader)

log = logging.getLogger("mediahub.local_disk")


def body_limit() -> int:
    """The whole body's cap, before the policy is read: [server] max_upload_bytes, the cap on
    every upload body (each policy's max_size then caps its file)."""
    return current_host().settings.server.max_upload_bytes + FORM_OVERHEAD_BYTES


async def receive_policy_upload(backend_name: str) -> int:
    """Verify the signed policy in the form, stream `file` to the exact key it names; bytes stored."""
    host = current_host()
    try:
        storage = host.storage.get(backend_name)
    except KeyError:
        raise NotFound("no such storage backend") from None
    verify = getattr(storage, "verify_upload_policy", None)
    if verify is None:
        raise NotFound("this storage backend takes uploads at its own URL")
    reader = multipart_reader(request, body_limit())
    fields: dict[str, str] = {}
    for _ in range(MAX_FIELDS + 1):
        event = await reader.next_event()
        if isinstance(event, Epilogue):
            raise BadRequest("missing file field 'file'")
        if isinstance(event, File) and event.name == "file":
            # Like S3: the policy fields come before the file, and are checked before any byte is kept.
            key, content_type, max_size = verify(fields)
            await refuse_a_used_policy(backend_name, key)
            return await store_part(storage, reader, key, content_type, max_size)
        if isinstance(event, File):
            await reader.skip_part()
        elif isinstance(event, Field):
            fields[event.name or ""] = await reader.read_field(event.name or "")
    raise BadRequest(f"more than {MAX_FIELDS} form fields")


async def refuse_a_used_policy(backend_name: str, key: str) -> None:
    """A policy takes uploads only while the plugin that handed it out waits for them: after
    its upload is done (or gone) the key is retired, so a valid-looking policy cannot be used
    twice to replace what that plugin checked."""
    answers = await current_host().call_hook("presigned_upload_open", raise_errors=True,
                                             backend=backend_name, key=key)
    if True not in answers or False in answers:
        raise Forbidden("this upload was already completed (or abandoned); start a new upload")


async def store_part(storage, reader: MultipartReader, key: str, content_type: str,
                     max_size: int) -> int:
    received = 0

    async def capped():
        nonlocal received
        async for data in reader.part_data():
            received += len(data)
            if received > max_size:
                raise PayloadTooLarge(f"the file is larger than the {max_size} bytes this upload allows")
            yield data

    chunks = capped()
    try:
        await storage.put(key, chunks, content_type, None)
    except MediahubError:
        raise
    except (OSError, ConnectionError) as exc:
        log.warning("storage %s failed while writing %s: %r", storage.name, key, exc)
        raise StorageUnavailable("storage is unavailable, try again later") from exc
    finally:
        await chunks.aclose()
    if received == 0:
        # S3 policies require at least one byte; so does this one.
        await storage.delete(key)
        raise BadRequest("the file is empty")
    return received
