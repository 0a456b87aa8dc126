"""Passwords and the names people sign in with: argon2 hashing, input rules, a failure throttle."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

USERNAME_MIN, USERNAME_MAX = 3, 32
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
PASSWORD_MIN = 8
# argon2 accepts any length, but hashing a megabyte per login attempt is a free DoS.
PASSWORD_MAX = 1024
DISPLAY_NAME_MAX = 64

_USERNAME_RE = re.compile(USERNAME_PATTERN)
_hasher = PasswordHasher()
_dummy_hash: str | None = None


# -- input rules (pure) -------------------------------------------------------------------


def username_problem(username: object) -> str | None:
    """Why this username cannot be used, or None when it is acceptable."""
    if not isinstance(username, str):
        return "username must be a string"
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        return f"username must be {USERNAME_MIN} to {USERNAME_MAX} characters long"
    if not _USERNAME_RE.match(username):
        return "username may contain only letters, digits, '_', '-' and '.'"
    return None


def password_problem(password: object) -> str | None:
    """Why this password cannot be used, or None when it is acceptable."""
    if not isinstance(password, str):
        return "password must be a string"
    if len(password) < PASSWORD_MIN:
        return f"password must be at least {PASSWORD_MIN} characters long"
    if len(password) > PASSWORD_MAX:
        return f"password must be at most {PASSWORD_MAX} characters long"
    if not is_encodable(password):
        return "password must be valid text"
    return None


def clean_display_name(value: object, fallback: str) -> str:
    """A display name safe to store and show: trimmed, single-spaced, no control characters.

    Raises ValueError with the reason when the value cannot be used.
    """
    if value is None:
        return fallback
    if not isinstance(value, str):
        raise ValueError("display_name must be a string")
    if not is_encodable(value):
        raise ValueError("display_name must be valid text")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value if not ch.isspace()):
        raise ValueError("display_name must not contain control characters")
    cleaned = " ".join(value.split())
    if len(cleaned) > DISPLAY_NAME_MAX:
        raise ValueError(f"display_name must be at most {DISPLAY_NAME_MAX} characters long")
    return cleaned or fallback


def is_encodable(text: str) -> bool:
    # Lone surrogates survive JSON decoding but break UTF-8 encoding (hashing, the database).
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- hashing ------------------------------------------------------------------------------


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow (tens of ms, 64 MiB): keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, new hash when the stored one uses outdated parameters, else None).

    With no stored hash (unknown user, guest) a dummy hash is still checked, so the
    response time does not tell an attacker whether the account exists.
    """
    return await asyncio.to_thread(_verify_blocking, stored_hash, password)


def _verify_blocking(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    global _dummy_hash
    if stored_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("not a real password, only spends the same time")
        try:
            _hasher.verify(_dummy_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False, None
    try:
        _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if _hasher.check_needs_rehash(stored_hash):
        return True, _hasher.hash(password)
    return True, None


# -- failure throttle ---------------------------------------------------------------------


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class FailureThrottle:
    """Counts failed sign-ins per key (username + IP) and blocks a key that fails too often.

    In memory: each server process counts on its own, and a restart forgets the counts.
    """

    def __init__(self, max_failures: int = 5, window: float = 900.0, lockout: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.clock = clock
        self.max_keys = max_keys
        self._entries: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(username: str, ip: str | None) -> tuple[str, str]:
        return (username.casefold(), ip or "")

    def retry_after(self, key: tuple[str, str]) -> float:
        """Seconds this key must wait before trying again (0 when it may try now)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return 0.0
            return max(0.0, entry.blocked_until - self.clock())

    def record_failure(self, key: tuple[str, str]) -> None:
        now = self.clock()
        with self._lock:
            if key not in self._entries and len(self._entries) >= self.max_keys:
                self._prune(now)
            entry = self._entries.setdefault(key, _Failures())
            entry.times = [t for t in entry.times if now - t < self.window] + [now]
            if len(entry.times) >= self.max_failures:
                entry.blocked_until = now + self.lockout
                entry.times.clear()

    def record_success(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _prune(self, now: float) -> None:
        # Bounded memory under a flood of distinct usernames: forget stale keys first,
        # then the oldest ones.
        stale = [k for k, e in self._entries.items()
                 if e.blocked_until <= now and all(now - t >= self.window for t in e.times)]
        for key in stale:
            del self._entries[key]
        while len(self._entries) >= self.max_keys:
            del self._entries[next(iter(self._entries))]
