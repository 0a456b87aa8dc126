"""The seed's upload form, credentials first: nothing of the file is read for a caller who has none.

Seed 001's client sends `token` (and format, bitrate, duration) before `file`. So the
credential is checked the moment the file part begins: a bad or missing one is a 401
before a byte of the file is read. A client that sends `token` after the file has the
file streamed to a pending ledger row (constant memory, capped) that is discarded before
any check other than the credential answers: a wrong type or field is reported only to a
caller who proved who they are.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from quart import request
from werkzeug.sansio.multipart import Data, Epilogue, Field, File

from mediahub import (FORM_OVERHEAD_BYTES, MAX_FIELDS, BadRequest, MediaObject, PayloadTooLarge,
                      Unauthorized, UnsupportedMediaType, User, current_host, discard, ingest,
                      multipart_reader, user_for_access_token)
from mediahub_s3_renders import formats

FILE_FIELD = "file"
UNAUTHORIZED = Unauthorized("sign in first", headers={"WWW-Authenticate": "Bearer"})


class Part:
    """The current part's bytes, remembering whether its end was reached."""

    def __init__(self, reader):
        self.reader, self.ended = reader, False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.ended:
            event = await self.reader.next_event()
            if not isinstance(event, Data):
                raise BadRequest("malformed multipart body: part ended unexpectedly")
            self.ended = not event.more_data
            if event.data:
                yield event.data

    async def skip(self) -> None:
        async for _ in self.chunks():
            pass


async def signed_in(user: User | None, fields: dict[str, str]) -> User:
    """The caller: the request's own credentials, else the form's `token`; else 401."""
    if user is None and fields.get("token"):
        user = await user_for_access_token(fields["token"])
    if user is None:
        raise UNAUTHORIZED
    return user


async def read(user: User | None) -> tuple[MediaObject, dict[str, Any]]:
    """Store the form's audio file; return it and the checked fields (with the acting `user`)."""
    host = current_host()
    max_bytes = host.settings.server.max_upload_bytes
    if request.content_length is not None and request.content_length > max_bytes + FORM_OVERHEAD_BYTES:
        raise PayloadTooLarge("the file is larger than the upload limit")
    reader = multipart_reader(request, max_bytes + FORM_OVERHEAD_BYTES)
    fields: dict[str, str] = {}
    media: MediaObject | None = None
    refused: UnsupportedMediaType | None = None  # the file's type, told only to a signed-in caller
    parts = 0
    try:
        while True:
            event = await reader.next_event()
            if isinstance(event, Epilogue):
                break
            if not isinstance(event, (File, Field)):  # a preamble
                continue
            parts += 1
            if parts > MAX_FIELDS + 1:
                raise BadRequest(f"more than {MAX_FIELDS} form fields")
            part = Part(reader)
            if isinstance(event, File) and event.name == FILE_FIELD and media is None and not refused:
                if user is None and "token" in fields:
                    user = await signed_in(user, fields)  # 401 here: the file is not read
                try:
                    media = await ingest(part.chunks(), purpose="render", user=user,
                                         key_prefix="renders/", max_bytes=max_bytes,
                                         allowed=formats.ALL_TYPES, host=host, announce=False)
                except UnsupportedMediaType as exc:
                    if user is not None:
                        raise
                    refused = exc  # the token may follow: read on, answer 401 if it is bad
                await part.skip()
            elif isinstance(event, File):
                await part.skip()  # another file part, or a second one
            else:
                fields[event.name or ""] = await read_field(part, event.name or "")
        user = await signed_in(user, fields)
        if refused is not None:
            raise refused
        if media is None:
            raise BadRequest(f"missing file field {FILE_FIELD!r}")
        try:
            checked = formats.parse_upload_fields(fields)
        except ValueError as exc:
            raise BadRequest(str(exc), code="invalid_field") from None
    except BaseException:
        if media is not None:
            await discard(host, media)
        raise
    checked["user"] = user
    await host.call_hook("upload_received", media=media, purpose="render", user=user)
    return media, checked


async def read_field(part: Part, name: str) -> str:
    value = bytearray()
    async for data in part.chunks():
        value += data
        if len(value) > 64 * 1024:
            raise PayloadTooLarge(f"form field {name!r} is longer than 64 KiB")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"form field {name!r} is not valid UTF-8") from None
