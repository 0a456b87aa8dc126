"""Join-code guessing limit: misses per client per minute, counted in the database.

Like the sign-in throttle (`mediahub.passwords.FailureThrottle`) only failures count, so a
guest who types the right code is never slowed down. Unlike it, the counts live in the
database: every app instance behind a load balancer shares them, and a restart forgets
nothing. See docs/party-protocol.md ("Join codes") for the number.
"""

from __future__ import annotations

import ipaddress
import math
import time

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from mediahub import TooManyRequests
from mediahub_listen_party.models import PartyCodeMiss

WINDOW = 60.0  # seconds: the limit is "misses per minute"
clock = time.time  # tests pin it inside one minute


def client_keys(ip: str | None, user_id) -> list[str]:
    """Who is guessing: the network (an IPv6 host owns a whole /64) and the account, if any."""
    keys = []
    if ip:
        keys.append("ip:" + network_of(ip))
    if user_id is not None:
        keys.append(f"user:{user_id}")
    return keys


def network_of(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def estimate(current: int, previous: int, elapsed: float, window: float = WINDOW) -> float:
    """Misses in the last `window` seconds, from two fixed windows (the sliding-window
    approximation: the previous window counts for the part of it still in view)."""
    return current + previous * max(0.0, 1.0 - elapsed / window)


def retry_after(current: int, previous: int, elapsed: float, limit: int,
                window: float = WINDOW) -> float:
    """Seconds until the estimate drops below `limit` (0 when a try is allowed now)."""
    if estimate(current, previous, elapsed, window) < limit:
        return 0.0
    if current < limit:  # the previous window fades out first
        return max(0.0, window * (1.0 - (limit - 0.5 - current) / previous) - elapsed)
    # This window alone is over: wait for it to end, then for it to fade far enough.
    return (window - elapsed) + window * (1.0 - (limit - 0.5) / current)


async def counts(keys: list[str], now: float) -> dict[str, tuple[int, int]]:
    """(this window's, last window's) misses of each key."""
    minute = int(now // WINDOW)
    found = {key: [0, 0] for key in keys}
    rows = await PartyCodeMiss.filter(key__in=keys, minute__in=[minute, minute - 1])
    for row in rows:
        found[row.key][0 if row.minute == minute else 1] = row.misses
    return {key: (c, p) for key, (c, p) in found.items()}


async def check(keys: list[str], limit: int, now: float | None = None) -> None:
    """Raise 429 `too_many_requests` (with Retry-After) if any key missed too often."""
    now = clock() if now is None else now
    elapsed = now % WINDOW
    wait = max((retry_after(c, p, elapsed, limit) for c, p in (await counts(keys, now)).values()),
               default=0.0)
    if wait > 0:
        raise TooManyRequests("too many unknown party codes; wait a minute and check the code",
                              headers={"Retry-After": str(math.ceil(wait))})


async def record_miss(keys: list[str], now: float | None = None) -> None:
    now = clock() if now is None else now
    minute = int(now // WINDOW)
    for key in keys:
        if await PartyCodeMiss.filter(key=key, minute=minute).update(misses=F("misses") + 1):
            continue
        try:
            await PartyCodeMiss.create(key=key, minute=minute, misses=1)
        except IntegrityError:  # another request created the row meanwhile
            await PartyCodeMiss.filter(key=key, minute=minute).update(misses=F("misses") + 1)


async def sweep(now: float) -> int:
    """Forget windows that no longer count."""
    return await PartyCodeMiss.filter(minute__lt=int(now // WINDOW) - 1).delete()
