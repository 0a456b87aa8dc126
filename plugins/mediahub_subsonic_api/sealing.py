"""Seal and open short secrets with the server's secret key (encrypt-then-MAC, stdlib only).

The keystream is HMAC-SHA256(key, nonce || counter) — a PRF in counter mode — and the
tag an HMAC-SHA256 over nonce and ciphertext, each with its own key derived from the
server secret. App passwords are a few dozen bytes, so this needs no cipher library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

NONCE_BYTES = 16
TAG_BYTES = 32
MAX_PLAINTEXT = 128


class SealBroken(ValueError):
    """The sealed value was altered, or sealed with another server secret."""


def _key(secret: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret, b"mediahub-subsonic:" + purpose, hashlib.sha256).digest()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    stream = b"".join(hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest()
                      for i in range(blocks))
    return stream[:length]


def seal(secret: bytes, plaintext: str) -> str:
    data = plaintext.encode("utf-8")
    if len(data) > MAX_PLAINTEXT:
        raise ValueError("too long to seal")
    nonce = secrets.token_bytes(NONCE_BYTES)
    cipher = bytes(a ^ b for a, b in zip(data, _keystream(_key(secret, b"enc"), nonce, len(data))))
    tag = hmac.new(_key(secret, b"mac"), nonce + cipher, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(nonce + cipher + tag).decode("ascii")


def open_sealed(secret: bytes, sealed: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SealBroken("not a sealed value") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise SealBroken("too short")
    nonce, cipher, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    expected = hmac.new(_key(secret, b"mac"), nonce + cipher, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise SealBroken("the tag does not match")
    data = bytes(a ^ b for a, b in zip(cipher, _keystream(_key(secret, b"enc"), nonce, len(cipher))))
    return data.decode("utf-8")


def lookup_hash(secret: bytes, value: str) -> str:
    """A keyed hash to find a row by its secret without storing the secret in the clear."""
    return hmac.new(_key(secret, b"lookup"), value.encode("utf-8"), hashlib.sha256).hexdigest()
