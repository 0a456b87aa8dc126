"""Per-address abuse limits: guests made and sign-ins failed per network per minute.

Counted in the database (table `address_counts`), so every instance behind a load balancer
shares them and a restart forgets nothing, like the party's join-code limit. An IPv6 host
owns a whole /64, so the count is per /64 there. The numbers are `[auth]
guests_per_address_per_minute` and `failed_sign_ins_per_address_per_minute`: generous
enough for a room of guests behind one NAT, far below what a script sends. Over the limit
is 429 `too_many_requests` with `Retry-After`.
"""

from __future__ import annotations

import ipaddress
import math
import time

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from mediahub.errors import TooManyRequests
from mediahub.models import AddressCount

WINDOW = 60.0
clock = time.time  # tests may pin it


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


def estimate(current: int, previous: int, elapsed: float) -> float:
    """Events in the last minute from two fixed windows (the sliding-window approximation)."""
    return current + previous * max(0.0, 1.0 - elapsed / WINDOW)


def retry_after(current: int, previous: int, elapsed: float, limit: int) -> float:
    """Seconds until the estimate drops below limit (0 when allowed now)."""
    if estimate(current, previous, elapsed) < limit:
        return 0.0
    if current < limit:  # the previous window fades out first
        return max(0.0, WINDOW * (1.0 - (limit - 0.5 - current) / previous) - elapsed)
    return (WINDOW - elapsed) + WINDOW * (1.0 - (limit - 0.5) / current)


def key_of(kind: str, ip: str) -> str:
    return f"{kind}:{network_of(ip)}"


async def check(kind: str, ip: str | None, limit: int, message: str) -> None:
    """429 with Retry-After if this address did `kind` `limit` times in the last minute."""
    if not ip or limit <= 0:
        return
    now = clock()
    minute = int(now // WINDOW)
    found = {row.minute: row.count for row in
             await AddressCount.filter(key=key_of(kind, ip), minute__in=[minute, minute - 1])}
    wait = retry_after(found.get(minute, 0), found.get(minute - 1, 0), now % WINDOW, limit)
    if wait > 0:
        raise TooManyRequests(message, headers={"Retry-After": str(max(1, math.ceil(wait)))})


async def record(kind: str, ip: str | None) -> None:
    if not ip:
        return
    minute = int(clock() // WINDOW)
    key = key_of(kind, ip)
    if await AddressCount.filter(key=key, minute=minute).update(count=F("count") + 1):
        return
    try:
        await AddressCount.create(key=key, minute=minute, count=1)
    except IntegrityError:  # another request created the row meanwhile
        await AddressCount.filter(key=key, minute=minute).update(count=F("count") + 1)
        return
    # A new minute for this address: windows that no longer count can go.
    await AddressCount.filter(minute__lt=minute - 1).delete()
