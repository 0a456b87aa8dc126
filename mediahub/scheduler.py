"""Periodic sweeps: the media ledger's and every plugin's `cleanup`, once per sweep_interval across instances."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from mediahub.config import Settings, secret_value

if TYPE_CHECKING:
    from mediahub.host import Host

log = logging.getLogger("mediahub.scheduler")


def merge_counts(into: dict[str, int], counts: Any, source: str) -> None:
    """Add one `{what: count}` report to the totals; a malformed report is logged, not fatal."""
    if not isinstance(counts, dict):
        log.warning("%s returned %r from cleanup; expected {what: count}", source, counts)
        return
    for what, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or not isinstance(what, str):
            log.warning("%s reported %r: %r from cleanup; counts are integers", source, what, count)
            continue
        into[what] = into.get(what, 0) + count


def describe_counts(counts: dict[str, int]) -> str:
    removed = {what: n for what, n in sorted(counts.items()) if n}
    return ", ".join(f"{what}={n}" for what, n in removed.items()) or "nothing to remove"


async def run_sweep(host: Host, now: float | None = None) -> dict[str, int]:
    """One sweep: the ledger, then every `cleanup` hookimpl; returns the merged counts.

    Used by the scheduler and by `mediahub cleanup`. One part failing (logged) does not
    stop the others.
    """
    now = time.time() if now is None else now
    totals: dict[str, int] = {}
    sweep = getattr(getattr(host, "ledger", None), "sweep", None)
    if callable(sweep):
        try:
            counts = sweep(now)
            if inspect.isawaitable(counts):
                counts = await counts
            merge_counts(totals, counts, "the media ledger")
        except Exception:
            log.exception("media ledger sweep failed")
    try:
        from mediahub.tokens import purge_expired

        merge_counts(totals, await purge_expired(now), "expired credentials")
    except Exception:
        log.exception("credential purge failed")
    # call_hook logs a raising plugin and goes on with the next one.
    for counts in await host.plugins.call_hook("cleanup", now=now):
        merge_counts(totals, counts, "a plugin")
    log.info("sweep: %s", describe_counts(totals))
    return totals


class SweepLock:
    """With several instances on one Redis, only the first to ask in an interval sweeps."""

    def __init__(self, redis_url: str, key: str):
        self.redis_url = redis_url
        self.key = key
        self.token = uuid.uuid4().hex
        self._client = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SweepLock | None:
        if settings.bus.backend == "redis" and settings.bus.redis_url is not None:
            return cls(secret_value(settings.bus.redis_url), settings.bus.channel_prefix + "sweep-lock")
        if settings.jobs.backend == "arq" and settings.jobs.redis_url is not None:
            return cls(secret_value(settings.jobs.redis_url), settings.jobs.queue_name + ":sweep-lock")
        return None

    async def acquire(self, hold_seconds: float) -> bool:
        """True if this instance should sweep now. The lock is never released: it expires
        just before the next interval, so instances whose timers drift do not sweep twice."""
        import redis.asyncio as redis

        if self._client is None:
            self._client = redis.from_url(self.redis_url, socket_connect_timeout=5)
        try:
            return bool(await self._client.set(self.key, self.token, nx=True,
                                               px=max(1, int(hold_seconds * 1000))))
        except (redis.RedisError, OSError) as exc:
            # Sweeping twice only wastes work; not sweeping would leave garbage.
            log.warning("sweep lock unavailable (%s); sweeping anyway", exc)
            return True

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


class Scheduler:
    """Runs `run_sweep` every `[server] sweep_interval` seconds (the first one after one interval)."""

    def __init__(self, host: Host):
        self.host = host
        self.interval = host.settings.server.sweep_interval
        self.lock = SweepLock.from_settings(host.settings)
        self.sweeps = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run_forever(), name="mediahub-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.lock is not None:
            await self.lock.close()

    async def sweep_once(self) -> dict[str, int] | None:
        """Sweep unless another instance did in this interval (None then)."""
        if self.lock is not None and not await self.lock.acquire(self.interval * 0.9):
            log.debug("another instance swept in this interval")
            return None
        counts = await run_sweep(self.host)
        self.sweeps += 1
        return counts

    async def _run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep failed")
