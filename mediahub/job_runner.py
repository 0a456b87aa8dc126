"""Runs claimed jobs: worker tasks, lease renewal, progress, retries with backoff, crash recovery."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from mediahub import job_store
from mediahub.config import JobsSettings
from mediahub.models import Job

if TYPE_CHECKING:
    from mediahub.host import Host

log = logging.getLogger("mediahub.jobs")

Handler = Callable[["JobContext", dict], Awaitable[Any]]
# Progress reaches the database at most this often per job (the last value is never lost).
PROGRESS_INTERVAL = 1.0
STOP_TIMEOUT = 10.0


class JobContext:
    """What a handler gets besides its payload: the row, the host, its attempt, progress."""

    def __init__(self, host: Host, job: Job, lease_seconds: float):
        self.host = host
        self.job = job
        self.attempt = job.tries  # 1 on the first run
        self.lease_lost = False
        self._lease_seconds = lease_seconds
        self._written_at = float("-inf")
        self._unsaved_progress: float | None = None

    async def set_progress(self, percent: float) -> None:
        """Report 0-100; cheap to call often (writes are throttled)."""
        percent = job_store.clamp_progress(percent)
        self.job.progress = percent
        if percent < 100 and time.monotonic() - self._written_at < PROGRESS_INTERVAL:
            self._unsaved_progress = percent
            return
        await self.renew_lease(progress=percent)

    async def renew_lease(self, progress: float | None = None) -> bool:
        if progress is None:
            progress = self._unsaved_progress
        self._unsaved_progress = None
        if progress is not None:
            self._written_at = time.monotonic()
        owned = await job_store.touch(self.job, self._lease_seconds, progress)
        if not owned:
            self.lease_lost = True
        return owned

    @property
    def has_unsaved_progress(self) -> bool:
        return self._unsaved_progress is not None


class JobRunner:
    """N worker tasks claiming due jobs, plus a task that re-queues jobs of dead workers."""

    # Idle workers look at the table this often even when nobody wakes them (other processes).
    poll_interval = 1.0

    def __init__(self, host: Host, handlers: dict[str, Handler], settings: JobsSettings,
                 on_retry: Callable[[Job, float], Awaitable[None]] | None = None):
        self.host = host
        self.handlers = handlers
        self.settings = settings
        self.on_retry = on_retry
        self.slots = asyncio.Semaphore(settings.concurrency)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    @property
    def lease_seconds(self) -> float:
        return self.settings.lease_seconds

    @property
    def recovery_interval(self) -> float:
        return min(max(self.lease_seconds / 2, 0.05), 30.0)

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._tasks:
            return
        await self.recover()
        self._tasks = [asyncio.create_task(self._work(), name=f"mediahub-job-worker-{n}")
                       for n in range(self.settings.concurrency)]
        self._tasks.append(asyncio.create_task(self._recover_forever(), name="mediahub-job-recovery"))

    async def stop(self) -> None:
        """Cancel workers; a job they were running goes back to the queue."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in pending:
                log.warning("job task %s did not stop within %ss; its lease will expire and "
                            "the job will run again", task.get_name(), STOP_TIMEOUT)

    async def recover(self) -> int:
        recovered = await job_store.recover_expired()
        if recovered:
            log.warning("%d job(s) whose worker stopped were queued again (or failed when "
                        "out of tries)", recovered)
            self.wake()
        return recovered

    async def drain(self) -> int:
        """Run every job that is due now, one after another (burst workers, tests)."""
        count = 0
        while True:
            async with self.slots:
                job = await job_store.claim_next(self.lease_seconds)
                if job is None:
                    return count
                await self.run_claimed(job)
                count += 1

    async def run_by_id(self, job_id: str) -> None:
        """Claim and run one job named by a wake-up message (an arq job); skip it if taken."""
        async with self.slots:
            job = await job_store.claim(job_id, self.lease_seconds)
            if job is not None:
                await self.run_claimed(job)

    async def _work(self) -> None:
        while True:
            try:
                async with self.slots:
                    self._wake.clear()
                    job = await job_store.claim_next(self.lease_seconds)
                    if job is not None:
                        await self.run_claimed(job)
                        continue
                await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: keep the worker alive
                log.exception("job worker error; retrying in %ss", self.poll_interval)
                await asyncio.sleep(self.poll_interval)

    async def _idle(self) -> None:
        timeout = self.poll_interval
        due = await job_store.next_due()
        if due is not None:
            timeout = min(max((due - job_store.utcnow()).total_seconds(), 0.01), timeout)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _recover_forever(self) -> None:
        while True:
            await asyncio.sleep(self.recovery_interval)
            try:
                await self.recover()
            except Exception:
                log.exception("job recovery failed")

    async def run_claimed(self, job: Job) -> None:
        """Run a job this worker has claimed and record how it ended."""
        handler = self.handlers.get(job.name)
        if handler is None:
            await job_store.finish_failed(
                job, f"no handler for job {job.name!r}: no enabled plugin registers it "
                     f"(register_jobs); known jobs: {', '.join(sorted(self.handlers)) or 'none'}",
                retry_in=None)
            log.error("job %s: unknown job name %r", job.id, job.name)
            return
        ctx = JobContext(self.host, job, self.lease_seconds)
        work = asyncio.create_task(self._call(handler, ctx, job), name=f"mediahub-job-{job.id}")
        keeper = asyncio.create_task(self._keep_lease(ctx))
        try:
            await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # shutdown: give the job back
            work.cancel()
            keeper.cancel()
            await asyncio.gather(work, keeper, return_exceptions=True)
            with contextlib.suppress(Exception):
                await job_store.requeue(job)
            log.info("job %s (%s) interrupted by shutdown; queued again", job.id, job.name)
            raise
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        if not work.done():  # another worker owns it now: this attempt's outcome is void
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            log.warning("job %s (%s) lost its lease (this worker was too slow to renew it); "
                        "abandoned this attempt", job.id, job.name)
            return
        await self._record(job, ctx, work)

    async def _call(self, handler: Handler, ctx: JobContext, job: Job) -> Any:
        outcome = handler(ctx, dict(job.payload or {}))
        if inspect.isawaitable(outcome):
            outcome = await outcome
        try:
            json.dumps(outcome, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"job handler returned a result that is not JSON: {exc}") from exc
        return outcome

    async def _keep_lease(self, ctx: JobContext) -> None:
        """Returns only when the lease is lost; renews it and flushes throttled progress."""
        renew_every = self.lease_seconds / 3
        renewed_at = time.monotonic()
        while True:
            await asyncio.sleep(min(renew_every, PROGRESS_INTERVAL))
            if not ctx.has_unsaved_progress and time.monotonic() - renewed_at < renew_every:
                continue
            try:
                if not await ctx.renew_lease():
                    return
                renewed_at = time.monotonic()
            except Exception:  # a database hiccup: try again before the lease runs out
                log.exception("job %s: lease renewal failed", ctx.job.id)

    async def _record(self, job: Job, ctx: JobContext, work: asyncio.Task) -> None:
        error = None if work.cancelled() else work.exception()
        if not work.cancelled() and error is None:
            await job_store.finish_done(job, work.result())
            log.info("job %s (%s) done on attempt %d", job.id, job.name, job.tries)
            return
        summary = "cancelled" if error is None else job_store.error_summary(error)
        if job.tries >= job.max_tries:
            await job_store.finish_failed(job, summary, retry_in=None)
            log.error("job %s (%s) failed after %d attempt(s): %s", job.id, job.name, job.tries,
                      summary.splitlines()[-1])
            return
        delay = job_store.retry_delay(self.settings.retry_backoff, job.tries)
        await job_store.finish_failed(job, summary, retry_in=delay)
        log.warning("job %s (%s) attempt %d failed, retrying in %.1fs: %s", job.id, job.name,
                    job.tries, delay, summary.splitlines()[-1])
        self.wake()
        if self.on_retry is not None:
            with contextlib.suppress(Exception):
                await self.on_retry(job, delay)
