"""Join-code guessing limit: misses per client per minute, counted in the database.

Like the sign-in throttle (`mediahub.passwords.FailureThrottle`) only failures count, so a
guest who types the right code is never slowed down. Unlike it, the counts live in the
database (`mediahub.WindowCounter` over the table `party_code_misses`): every app instance
behind a load balancer shares them, and a restart forgets nothing. See
docs/party-protocol.md ("Join codes") for the number.
"""

from __future__ import annotations

import time

from mediahub import WindowCounter, network_of
from mediahub_listen_party.models import PartyCodeMiss

clock = time.time  # tests pin it inside one minute
misses = WindowCounter(PartyCodeMiss, "misses")


def client_keys(ip: str | None, user_id) -> list[str]:
    """Who is guessing: the network (an IPv6 host owns a whole /64) and the account, if any."""
    keys = []
    if ip:
        keys.append("ip:" + network_of(ip))
    if user_id is not None:
        keys.append(f"user:{user_id}")
    return keys


async def check(keys: list[str], limit: int, now: float | None = None) -> None:
    """Raise 429 `too_many_requests` (with Retry-After) if any key missed too often."""
    await misses.check(keys, limit, "too many unknown party codes; wait a minute and check the code",
                       clock() if now is None else now)


async def record_miss(keys: list[str], now: float | None = None) -> None:
    await misses.record(keys, clock() if now is None else now)


async def sweep(now: float) -> int:
    """Forget windows that no longer count."""
    return await misses.forget(now)
