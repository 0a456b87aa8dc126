"""Signed upload policies: what a presigned local-disk upload may store, like an S3 POST policy."""

from __future__ import annotations

import hashlib
import hmac
import time

from mediahub import Forbidden


def upload_policy_signature(secret: bytes, fields: dict[str, str]) -> str:
    message = "\n".join(["upload", fields["backend"], fields["key"], fields["content_type"],
                         fields["max_size"], fields["exp"]])
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def verify_upload_policy(secret: bytes, fields: dict[str, str], *, backend: str | None = None,
                         now: float | None = None) -> tuple[str, str, int]:
    """(key, content_type, max_size) of a presigned upload policy; Forbidden if it was
    tampered with, expired, or was made for another backend."""
    try:
        wanted = {name: str(fields[name]) for name in
                  ("backend", "key", "content_type", "max_size", "exp", "sig")}
    except KeyError as exc:
        raise Forbidden(f"upload policy field {exc.args[0]} is missing") from None
    expected = upload_policy_signature(secret, wanted)
    if not hmac.compare_digest(expected, wanted["sig"]):
        raise Forbidden("upload policy signature does not match")
    if backend is not None and wanted["backend"] != backend:
        raise Forbidden("upload policy is for another storage backend")
    if int(wanted["exp"]) < (time.time() if now is None else now):
        raise Forbidden("upload policy expired")
    return wanted["key"], wanted["content_type"], int(wanted["max_size"])
