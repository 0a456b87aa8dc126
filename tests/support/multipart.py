"""The one multipart/form-data builder of the tests: whole forms, single parts, or the pieces of a streamed one."""

from __future__ import annotations

BOUNDARY = "----mediahub-test-boundary"
Part = tuple[str, "str | None", "bytes | str"]  # (field name, filename or None for a text field, value)


def part_head(name: str, filename: str | None = None, *, content_type: str | None = None,
              boundary: str = BOUNDARY, extra_headers: str = "") -> bytes:
    """A part's delimiter and headers, up to where its value starts (for bodies sent in pieces)."""
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n{extra_headers}"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return (head + "\r\n").encode()


def part(name: str, value: bytes | str, filename: str | None = None, *, content_type: str | None = None,
         boundary: str = BOUNDARY, extra_headers: str = "") -> bytes:
    """One part with its delimiter and trailing CRLF; `extra_headers` ("Name: v\\r\\n"...) go first."""
    data = value.encode() if isinstance(value, str) else value
    return part_head(name, filename, content_type=content_type, boundary=boundary,
                     extra_headers=extra_headers) + data + b"\r\n"


def end(boundary: str = BOUNDARY) -> bytes:
    """The closing delimiter (after a part streamed by hand, send b"\\r\\n" first)."""
    return f"--{boundary}--\r\n".encode()


def form_headers(boundary: str = BOUNDARY, body: bytes | None = None) -> dict[str, str]:
    """The Content-Type of a form (and its Content-Length when the body is given)."""
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if body is not None:
        headers["Content-Length"] = str(len(body))
    return headers


def multipart(parts: list[Part], *, boundary: str = BOUNDARY,
              file_type: str | None = "audio/mpeg") -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a form; file parts claim `file_type` (None: no header), text fields none.

    The server sniffs file bytes, so `file_type` is only a claim (tests make it lie on purpose).
    """
    body = b"".join(part(name, value, filename, boundary=boundary,
                         content_type=file_type if filename else None)
                    for name, filename, value in parts)
    return body + end(boundary), form_headers(boundary)
