"""Hostile input: multipart bodies that are broken on purpose."""

from __future__ import annotations

import pytest

from tests.support.hostile_input import INGEST_ROUTES, KiB, error_of, nothing_stored, pieces, wav_of
from tests.support.multipart import BOUNDARY, end, part

pytestmark = pytest.mark.asyncio(loop_scope="package")


def file_part(name: str, data: bytes, boundary: str = BOUNDARY, extra_headers: str = "") -> bytes:
    return part(name, data, "a.wav", content_type="audio/wav", boundary=boundary, extra_headers=extra_headers)


def text_part(name: str, value: bytes, boundary: str = BOUNDARY) -> bytes:
    return part(name, value, boundary=boundary)


END = end()
AUDIO = wav_of(4000)

# name -> (Content-Type header value, body, expected status, expected codes)
BROKEN_FORMS = {
    "no boundary parameter": ("multipart/form-data", file_part("FILE", AUDIO) + END, 400, "bad_request"),
    "a 71-character boundary": (f"multipart/form-data; boundary={'b' * 71}",
                                file_part("FILE", AUDIO, "b" * 71) + f"--{'b' * 71}--\r\n".encode(),
                                400, "bad_request"),
    "a non-ascii boundary": ("multipart/form-data; boundary=grenzé", b"--grenz\xc3\xa9--\r\n", 400, "bad_request"),
    "no closing delimiter (truncated)": (None, file_part("FILE", AUDIO)[:-200], 400, "bad_request"),
    "no parts at all": (None, END, 400, "bad_request"),
    "garbage instead of parts": (None, b"\x00\x01\x02" * 5000, 400, "bad_request"),
    "33 text fields before the file": (None, b"".join(text_part(f"f{n}", b"x") for n in range(33))
                                       + file_part("FILE", AUDIO) + END, 400, "bad_request"),
    "a text field of 65 KiB": (None, text_part("songTitle", b"x" * (65 * KiB)) + file_part("FILE", AUDIO) + END,
                               413, "payload_too_large"),
    # (Headers are parsed from 1 MiB reads: what must stop is a header that never ends.)
    "part headers of 1.5 MiB": (None, file_part("FILE", AUDIO, extra_headers=f"X-Pad: {'p' * 1536 * KiB}\r\n")
                                + END, 400, "bad_request"),
    "a field that is not utf-8": (None, text_part("sessionId", b"\xff\xfe") + file_part("FILE", AUDIO) + END,
                                  400, "bad_request"),
}


@pytest.mark.parametrize("broken", BROKEN_FORMS)
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_broken_multipart_upload(world, route, broken):
    content_type, body, status, code = BROKEN_FORMS[broken]
    path, parts = INGEST_ROUTES[route]("a.wav", b"")
    file_field = next(name for name, filename, _ in parts if filename)
    body = body.replace(b'name="FILE"', f'name="{file_field}"'.encode())
    headers = {"Content-Type": content_type or f"multipart/form-data; boundary={BOUNDARY}"}
    async with nothing_stored(world):
        # Streamed in 16 KiB pieces, as it would come off the network.
        response = await world.chunked("POST", path, world.bob, headers, pieces(body, 16 * KiB))
        await error_of(response, status, code)
