"""Background jobs: rows in the database, run by the in-process runner or `mediahub worker` (arq).

    job = await host.jobs.enqueue("transcode", {"track_id": 7}, key="transcode:7")

Handlers come from the `register_jobs` hook: ``{name: async handler(ctx, payload)}``; what
a handler returns (JSON) is stored as the job's result. A handler that raises is retried
with exponential backoff up to `max_tries`, its last traceback kept in `last_error`. A job
left "running" by a process that died is run again once its lease expires, so handlers
must tolerate being run twice for the same job (write results idempotently).
A job enqueued inside a database transaction becomes visible to workers at commit; they
find it at their next poll (about a second) rather than at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import uuid
from typing import TYPE_CHECKING, Any

from mediahub import job_store
from mediahub.job_runner import Handler, JobContext, JobRunner
from mediahub.models import Job

if TYPE_CHECKING:
    from mediahub.host import Host

__all__ = ["Job", "JobContext", "JobQueue", "UnknownJob"]

log = logging.getLogger("mediahub.jobs")

MAX_KEY_LENGTH = 255


class UnknownJob(LookupError):
    """No enabled plugin registers a handler under this job name."""


class JobQueue:
    """Enqueue and inspect jobs; with run_workers it also runs them in this process."""

    def __init__(self, host: Host, handlers: dict[str, Handler]):
        self.host = host
        self.handlers = dict(handlers)
        self.settings = host.settings.jobs
        self._waker = None
        if self.settings.backend == "arq":
            from mediahub.job_arq import ArqWaker

            self._waker = ArqWaker(self.settings)
        self.runner = JobRunner(host, self.handlers, self.settings, on_retry=self._notify_retry)

    async def start(self, run_workers: bool = True) -> None:
        if run_workers:
            await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        if self._waker is not None:
            await self._waker.close()

    async def enqueue(self, name: str, payload: dict | None = None, *, key: str | None = None,
                      delay: float = 0, max_tries: int | None = None) -> Job:
        """Persist a job (state "queued") and wake a worker; returns the row.

        `key` de-duplicates: while a job with this key is queued or running, enqueueing it
        again returns that job. `delay` seconds before it may start.
        """
        payload = {} if payload is None else payload
        check_enqueue(name, payload, key, delay, max_tries, self.handlers)
        job, created = await job_store.create(
            name, payload, key=key, delay=float(delay),
            max_tries=max_tries if max_tries is not None else self.settings.max_tries)
        if created:
            self.runner.wake()
            if self._waker is not None:
                await self._waker.push(str(job.id), float(delay))
        return job

    async def get(self, job_id: Any) -> Job | None:
        try:
            job_id = uuid.UUID(str(job_id))
        except ValueError:
            return None
        return await Job.get_or_none(id=job_id)

    async def run_due(self) -> int:
        """Run every job that is due now in this task (tests, `mediahub worker --burst`)."""
        return await self.runner.drain()

    async def serve_worker(self, *, burst: bool = False) -> None:
        """The body of `mediahub worker`: arq wake-ups plus database polling."""
        if self._waker is not None:
            from mediahub.job_arq import serve_arq

            await serve_arq(self.runner, self.settings, burst=burst)
        elif burst:
            await self.runner.recover()
            await self.runner.drain()
        else:
            await self.runner.start()
            await asyncio.Event().wait()  # until cancelled

    async def _notify_retry(self, job: Job, delay: float) -> None:
        if self._waker is not None:
            await self._waker.push(str(job.id), delay)


def check_enqueue(name: str, payload: Any, key: str | None, delay: float,
                  max_tries: int | None, handlers: dict[str, Handler]) -> None:
    """Refuse a job that could never run, at the caller, with the reason."""
    if name not in handlers:
        known = ", ".join(sorted(handlers)) or "none"
        raise UnknownJob(f"no enabled plugin registers a job named {name!r} (known: {known})")
    if not isinstance(payload, dict):
        raise TypeError(f"a job payload is a dict, not {type(payload).__name__}")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"job payload is not JSON-serialisable: {exc}") from exc
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH):
        raise ValueError(f"a job key is a non-empty string of at most {MAX_KEY_LENGTH} characters")
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not math.isfinite(delay) \
            or delay < 0:
        raise ValueError(f"delay is a number of seconds >= 0, got {delay!r}")
    if max_tries is not None and (isinstance(max_tries, bool) or not isinstance(max_tries, int)
                                  or max_tries < 1):
        raise ValueError(f"max_tries is an integer >= 1, got {max_tries!r}")
