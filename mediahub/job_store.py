"""The jobs table as a state machine: each transition is one conditional UPDATE, so racing processes never both win.

queued -> running (claim) -> done | queued (retry later) | failed
running with an expired lease (its process died) -> queued again, or failed when out of tries.

A claimed job is identified by (id, tries): `tries` goes up at every claim, so a worker
that lost its lease (and whose job another worker claimed since) cannot overwrite the
newer attempt's row.
"""

from __future__ import annotations

import json
import math
import traceback
from datetime import datetime, timedelta, timezone
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from mediahub.models import Job

ACTIVE_STATES = ("queued", "running")
FINISHED_STATES = ("done", "failed")
MAX_ERROR_CHARS = 4000
MAX_RETRY_DELAY = 6 * 3600.0
CLAIM_CANDIDATES = 10


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def retry_delay(backoff: float, tries: int) -> float:
    """Seconds before the next attempt after `tries` failed ones: backoff, 2x, 4x ... capped."""
    return min(backoff * 2 ** max(tries - 1, 0), MAX_RETRY_DELAY)


def error_summary(exc: BaseException, limit: int = MAX_ERROR_CHARS) -> str:
    """The traceback's tail: the exception line and the frames nearest to it matter most."""
    text = "".join(traceback.format_exception(exc)).strip()
    return text if len(text) <= limit else "..." + text[-(limit - 3):]


def clamp_progress(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"progress is a number from 0 to 100, got {value!r}")
    return float(min(max(value, 0.0), 100.0))


async def create(name: str, payload: dict, *, key: str | None, delay: float,
                 max_tries: int) -> tuple[Job, bool]:
    """A new queued job, or the unfinished one that holds `key` already (created=False).

    A finished job gives its key up (the column is unique), so the key can run again.
    """
    for _ in range(5):
        if key is not None:
            existing = await Job.filter(key=key).first()
            if existing is not None:
                if existing.state in ACTIVE_STATES:
                    return existing, False
                await Job.filter(id=existing.id, state__in=FINISHED_STATES).update(key=None)
        try:
            job = await Job.create(name=name, key=key, payload=payload, state="queued",
                                   max_tries=max_tries,
                                   run_after=utcnow() + timedelta(seconds=delay))
            return job, True
        except IntegrityError:
            if key is None:
                raise
            # Another process enqueued the same key between our read and insert: use theirs.
    raise RuntimeError(f"could not enqueue job with key {key!r}: it keeps changing hands")


async def claim(job_id: Any, lease_seconds: float) -> Job | None:
    """Take a due queued job for this worker; None if another worker got it first."""
    now = utcnow()
    taken = await Job.filter(id=job_id, state="queued", run_after__lte=now).update(
        state="running", tries=F("tries") + 1, lease_until=now + timedelta(seconds=lease_seconds),
        updated_at=now)
    if not taken:
        return None
    return await Job.get_or_none(id=job_id)


async def claim_next(lease_seconds: float) -> Job | None:
    """The oldest due queued job, claimed; None when nothing is due."""
    candidates = await (Job.filter(state="queued", run_after__lte=utcnow())
                        .order_by("run_after").limit(CLAIM_CANDIDATES).values_list("id", flat=True))
    for job_id in candidates:
        job = await claim(job_id, lease_seconds)
        if job is not None:
            return job
    return None


def _owned(job: Job):
    return Job.filter(id=job.id, state="running", tries=job.tries)


async def touch(job: Job, lease_seconds: float, progress: float | None = None) -> bool:
    """Extend the lease (and store progress); False if this attempt no longer owns the job."""
    now = utcnow()
    changes: dict[str, Any] = {"lease_until": now + timedelta(seconds=lease_seconds),
                               "updated_at": now}
    if progress is not None:
        changes["progress"] = progress
    return bool(await _owned(job).update(**changes))


async def finish_done(job: Job, result: Any) -> bool:
    if result is not None:
        # Tortoise takes a str given to a JSONField as JSON text already: encode it ourselves.
        result = json.dumps(result)
    return bool(await _owned(job).update(state="done", result=result, progress=100.0,
                                         lease_until=None, last_error=None, updated_at=utcnow()))


async def finish_failed(job: Job, error: str, *, retry_in: float | None) -> bool:
    """Record a failed attempt: queued again after `retry_in` seconds, or failed for good."""
    now = utcnow()
    if retry_in is None:
        changes: dict[str, Any] = {"state": "failed"}
    else:
        changes = {"state": "queued", "run_after": now + timedelta(seconds=retry_in)}
    return bool(await _owned(job).update(**changes, last_error=error, lease_until=None,
                                         updated_at=now))


async def requeue(job: Job) -> bool:
    """Shutdown interrupted this attempt: it does not count, the job runs again at once."""
    now = utcnow()
    return bool(await _owned(job).update(state="queued", tries=F("tries") - 1, run_after=now,
                                         lease_until=None, updated_at=now))


async def recover_expired() -> int:
    """Jobs whose worker died (lease expired) run again, unless they are out of tries."""
    now = utcnow()
    recovered = 0
    rows = await Job.filter(state="running", lease_until__lt=now).values_list(
        "id", "tries", "max_tries")
    for job_id, tries, max_tries in rows:
        stale = Job.filter(id=job_id, state="running", tries=tries, lease_until__lt=now)
        message = (f"attempt {tries} stopped without finishing (its worker died or hung: "
                   f"the lease expired)")
        if tries >= max_tries:
            changed = await stale.update(state="failed", lease_until=None, updated_at=now,
                                         last_error=message)
        else:
            changed = await stale.update(state="queued", run_after=now, lease_until=None,
                                         updated_at=now, last_error=message)
        recovered += changed
    return recovered


async def next_due() -> datetime | None:
    """When the earliest queued job becomes due (the idle workers' alarm clock)."""
    found = await Job.filter(state="queued").order_by("run_after").first().values_list(
        "run_after", flat=True)
    return found
