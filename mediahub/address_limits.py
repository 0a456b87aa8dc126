"""Per-address abuse limits, and `WindowCounter`: the one sliding-minute counter shared by every instance.

`WindowCounter` counts events per key per minute in a database table, so every instance
behind a load balancer shares the counts and a restart forgets nothing. It is public
(`mediahub.WindowCounter`, with `network_of`): listen-party's join-code limit uses it over
its own table. The limits here count guests made and sign-ins failed per network (an IPv6
host owns a whole /64, so per /64 there) in `address_counts`; the numbers are `[auth]
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
    """Who an address is, for limits: the IPv4 address, or the IPv6 /64 (one host owns it)."""
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
    """Events in the last `window` seconds from two fixed windows (the sliding-window
    approximation: the previous window counts for the part of it still in view)."""
    return current + previous * max(0.0, 1.0 - elapsed / window)


def retry_after(current: int, previous: int, elapsed: float, limit: int,
                window: float = WINDOW) -> float:
    """Seconds until the estimate drops below `limit` (0 when allowed now)."""
    if estimate(current, previous, elapsed, window) < limit:
        return 0.0
    if current < limit:  # the previous window fades out first
        return max(0.0, window * (1.0 - (limit - 0.5 - current) / previous) - elapsed)
    # This window alone is over: wait for it to end, then for it to fade far enough.
    return (window - elapsed) + window * (1.0 - (limit - 0.5) / current)


class WindowCounter:
    """Events per key in a sliding minute, counted in a table every instance shares.

    `model` is a Tortoise model with `key` (text), `minute` (Unix time // 60) and an integer
    column named `field`, unique on (key, minute): one row per key and minute.
    """

    def __init__(self, model, field: str = "count"):
        self.model = model
        self.field = field

    async def counts(self, keys: list[str], now: float) -> dict[str, tuple[int, int]]:
        """(this minute's, last minute's) count of each key."""
        minute = int(now // WINDOW)
        found = {key: [0, 0] for key in keys}
        for row in await self.model.filter(key__in=keys, minute__in=[minute, minute - 1]):
            found[row.key][0 if row.minute == minute else 1] = getattr(row, self.field)
        return {key: (current, previous) for key, (current, previous) in found.items()}

    async def wait(self, keys: list[str], limit: int, now: float) -> float:
        """Seconds until every key is below `limit` again (0: allowed now)."""
        elapsed = now % WINDOW
        return max((retry_after(current, previous, elapsed, limit)
                    for current, previous in (await self.counts(keys, now)).values()), default=0.0)

    async def check(self, keys: list[str], limit: int, message: str, now: float) -> None:
        """429 `too_many_requests` with Retry-After if any key counted `limit` in the last minute."""
        if limit <= 0 or not keys:
            return
        wait = await self.wait(keys, limit, now)
        if wait > 0:
            raise TooManyRequests(message, headers={"Retry-After": str(max(1, math.ceil(wait)))})

    async def record(self, keys: list[str], now: float) -> bool:
        """Count one event for each key; True if a key began a new minute row."""
        minute = int(now // WINDOW)
        began = False
        for key in keys:
            rows = self.model.filter(key=key, minute=minute)
            if await rows.update(**{self.field: F(self.field) + 1}):
                continue
            try:
                await self.model.create(key=key, minute=minute, **{self.field: 1})
                began = True
            except IntegrityError:  # another request created the row meanwhile
                await rows.update(**{self.field: F(self.field) + 1})
        return began

    async def forget(self, now: float) -> int:
        """Delete the minutes that no longer count; how many rows went."""
        return await self.model.filter(minute__lt=int(now // WINDOW) - 1).delete()


addresses = WindowCounter(AddressCount, "count")


def key_of(kind: str, ip: str) -> str:
    return f"{kind}:{network_of(ip)}"


async def check(kind: str, ip: str | None, limit: int, message: str) -> None:
    """429 with Retry-After if this address did `kind` `limit` times in the last minute."""
    if ip:
        await addresses.check([key_of(kind, ip)], limit, message, clock())


async def record(kind: str, ip: str | None) -> None:
    if not ip:
        return
    now = clock()
    if await addresses.record([key_of(kind, ip)], now):
        # A new minute for this address: windows that no longer count can go.
        await addresses.forget(now)
