"""Verified sign-ins kept a few seconds per process, forgotten at once on revocation (other instances too, over the bus).

Every authenticated request used to read the database for its bearer token or cookie
session (a player polling a transcode's status, a page's fetches): that read was 45% of
the server's CPU in the transcode benchmark. A credential found live in the database is
now remembered for `[auth] sign_in_cache_seconds` (5 by default; 0 turns this off).

What keeps it safe:

- The TTL is the bound. Whatever happens to a credential in the database, even a write
  that no code of ours announces (a row deleted by hand, another tool), is seen by every
  instance within that many seconds. The credential's own expiry is checked on every hit.
- Every revocation of ours (logout, a refresh token's family revoked, a session closed,
  a user's sign-ins revoked or the user deleted: mediahub.tokens, mediahub.accounts) is
  written to the database first, then forgotten here and published on the bus channel
  `auth:forget`; every instance forgets the same entries when the message arrives. The
  bus is at-most-once: a message lost while Redis is unreachable leaves the TTL as the
  bound, and an instance whose Redis connection came back, or whose inbox overflowed,
  forgets everything.
- A lookup that raced a revocation is not stored: every forget moves a generation
  counter, and a row read before the latest forget is returned to its request but never
  remembered.
- Hits hand out copies of the rows, so one request changing its user object cannot
  change what the next one sees. Misses are never cached: a made-up token costs a read,
  as before, and cannot fill memory.

Open WebSockets were signed in once, at their handshake: `watch` lets the socket's handler
hear the same revocations (local and announced), so a revoked sign-in's socket is closed at
once on whichever instance holds it, whatever the TTL (mediahub.viewer.require_user).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from quart import current_app, has_app_context

if TYPE_CHECKING:
    from mediahub.bus import Bus

log = logging.getLogger("mediahub.signin_cache")

CHANNEL = "auth:forget"
ACCESS, SESSION = "access", "session"
MAX_ENTRIES = 4096


@dataclass
class Entry:
    row: Any  # AuthToken or WebSession, its user loaded
    family: str | None  # an access token's family
    user_id: str
    until: float  # monotonic: when this entry stops counting
    expires: float  # Unix time: the credential's own expiry


@dataclass(eq=False)
class Watch:
    """One open WebSocket's sign-in: told once when it is revoked."""
    user_id: str
    family: str | None  # a bearer token's family
    digest: str | None  # a cookie session's digest
    on_revoked: Callable[[], None]

    def revoked_by(self, digests: set[str], families: set[str], users: set[str]) -> bool:
        return (self.user_id in users or (self.family is not None and self.family in families)
                or (self.digest is not None and self.digest in digests))


class SignInCache:
    """Live credentials by (kind, sha256 of the secret), for `seconds`."""

    def __init__(self, seconds: float, size: int = MAX_ENTRIES):
        self.seconds = seconds
        self.size = size
        self.generation = 0
        self.hits = self.misses = 0
        self._entries: dict[tuple[str, str], Entry] = {}
        self._watches: set[Watch] = set()
        self._bus: Bus | None = None
        self._bus_reconnects = 0
        # Nothing is remembered before this instance hears revocations (its bus subscription).
        self.following = False

    clock = staticmethod(time.monotonic)  # tests may move it
    wall_clock = staticmethod(time.time)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, kind: str, digest: str) -> Any | None:
        """A copy of the remembered row (its user a copy too), or None."""
        if not self.enabled:
            return None
        self._check_bus()
        entry = self._entries.get((kind, digest))
        if entry is None:
            self.misses += 1
            return None
        if entry.until <= self.clock() or entry.expires <= self.wall_clock():
            del self._entries[(kind, digest)]
            self.misses += 1
            return None
        self.hits += 1
        row = copy.copy(entry.row)
        row._user = copy.copy(entry.row._user)
        return row

    def store(self, kind: str, digest: str, row: Any, generation: int) -> None:
        """Remember `row`, read from the database after `generation` was taken, unless
        something was forgotten since (the row may be what was revoked)."""
        if not self.enabled or not self.following or generation != self.generation:
            return
        if len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))  # the oldest
        kept = copy.copy(row)  # the caller's own row may be changed by its request
        kept._user = copy.copy(row._user)
        self._entries[(kind, digest)] = Entry(
            row=kept, family=getattr(row, "family", None), user_id=str(row.user_id),
            until=self.clock() + self.seconds, expires=row.expires_at.timestamp())

    def forget(self, digests: Iterable[str] = (), families: Iterable[str] = (),
               users: Iterable[str] = (), everything: bool = False) -> int:
        """Drop the entries of these secrets' digests, token families or users; how many went."""
        self.generation += 1
        if everything:
            dropped = len(self._entries)
            self._entries.clear()
            return dropped
        digests, families, users = set(digests), set(families), {str(u) for u in users}
        gone = [key for key, entry in self._entries.items()
                if key[1] in digests or entry.family in families or entry.user_id in users]
        for key in gone:
            del self._entries[key]
        for watch in [w for w in self._watches if w.revoked_by(digests, families, users)]:
            self._watches.discard(watch)
            try:
                watch.on_revoked()
            except Exception:  # one socket's handler must not stop the others being told
                log.exception("a revoked sign-in's WebSocket could not be told")
        return len(gone)

    def watch(self, user_id: object, on_revoked: Callable[[], None], *,
              family: str | None = None, digest: str | None = None) -> Callable[[], None]:
        """Call `on_revoked` once if this sign-in (the user, a token family or a session
        digest) is revoked; returns the function that stops watching. Forgetting
        everything (a bus reconnect) is not a revocation and tells no one."""
        watch = Watch(str(user_id), family, digest, on_revoked)
        self._watches.add(watch)
        return lambda: self._watches.discard(watch)

    # -- across instances ---------------------------------------------------------------

    async def follow(self, bus: Bus) -> None:
        """Forget what other instances (and this one) announce on the bus, until cancelled."""
        self._bus = bus
        self._bus_reconnects = getattr(bus, "reconnects", 0)
        async with bus.subscribe(CHANNEL) as messages:
            self.following = True
            try:
                await self._forget_announced(messages)
            finally:
                self.following = False
                self.forget(everything=True)

    async def _forget_announced(self, messages) -> None:
        async for message in messages:
            if messages.dropped:  # the inbox overflowed: some revocation may be among them
                messages.dropped = 0
                self.forget(everything=True)
                continue
            if not isinstance(message, dict):  # only a foreign publisher sends these
                continue
            self.forget(digests=_strings(message.get("digests")),
                        families=_strings(message.get("families")),
                        users=_strings(message.get("users")))

    def _check_bus(self) -> None:
        # Messages published while Redis was unreachable are lost: start over after a reconnect.
        reconnects = getattr(self._bus, "reconnects", 0)
        if reconnects != self._bus_reconnects:
            self._bus_reconnects = reconnects
            self.forget(everything=True)


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def current_cache() -> SignInCache | None:
    """The running app's cache (None outside an app, e.g. the CLI)."""
    if not has_app_context():
        return None
    return getattr(current_app.extensions.get("mediahub"), "signin_cache", None)


async def forget_everywhere(digests: Iterable[str] = (), families: Iterable[str] = (),
                            users: Iterable[str] = ()) -> None:
    """After a revocation is in the database: forget it here and tell every instance.

    Never fails the revocation itself: it is already stored, and an instance that misses
    the message stops accepting the credential within the TTL.
    """
    from mediahub.bus import BusUnavailable

    digests, families, users = list(digests), list(families), [str(u) for u in users]
    cache = current_cache()
    if cache is not None:
        cache.forget(digests, families, users)
    host = current_app.extensions.get("mediahub") if has_app_context() else None
    bus = getattr(host, "bus", None)
    if bus is None:
        return
    try:
        await bus.publish(CHANNEL, {"digests": digests, "families": families, "users": users})
    except (BusUnavailable, RuntimeError) as exc:
        log.warning("could not tell other instances about a revocation (%s); they stop "
                    "accepting it within %s s", exc, cache.seconds if cache else "the cache's")
