"""arq on Redis as the wake-up channel for `mediahub worker` processes; the jobs table stays the truth.

An arq job carries only a job id. Its function claims that row atomically and runs it
through the same JobRunner as the in-process mode, so a lost or duplicated arq message
can delay a job (until the worker's poller sees it) but never run it twice or lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from mediahub.config import JobsSettings, secret_value

if TYPE_CHECKING:
    from mediahub.job_runner import JobRunner

log = logging.getLogger("mediahub.jobs")

ARQ_FUNCTION = "mediahub_run_job"
# arq cancels a function after this long; our own leases decide when a job is stuck.
ARQ_JOB_TIMEOUT = 7 * 24 * 3600
ARQ_POLL_DELAY = 0.2


def redis_settings(settings: JobsSettings):
    from arq.connections import RedisSettings

    url = secret_value(settings.redis_url)
    if not url:
        raise ValueError("jobs.redis_url: required when jobs.backend = 'arq'")
    return RedisSettings.from_dsn(url)


class ArqWaker:
    """Pushes `run job <id>` messages; failures are logged, never raised (the row is written)."""

    def __init__(self, settings: JobsSettings):
        self.settings = settings
        self._pool = None
        self._lock = asyncio.Lock()

    async def push(self, job_id: str, delay: float = 0) -> bool:
        try:
            pool = await self._connect()
            await pool.enqueue_job(ARQ_FUNCTION, str(job_id), _queue_name=self.settings.queue_name,
                                   _defer_by=delay if delay > 0 else None)
            return True
        except Exception as exc:
            log.warning("could not notify workers through Redis about job %s (%s); a worker "
                        "will still find it when it polls the database", job_id, exc)
            return False

    async def _connect(self):
        from arq import create_pool

        async with self._lock:
            if self._pool is None:
                self._pool = await create_pool(redis_settings(self.settings),
                                               default_queue_name=self.settings.queue_name)
            return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.aclose()


async def serve_arq(runner: JobRunner, settings: JobsSettings, *, burst: bool = False) -> None:
    """Run an arq worker for our queue until cancelled (or, with burst, until nothing is due)."""
    from arq.worker import Worker, func

    async def run_job(ctx: dict, job_id: str) -> None:
        await runner.run_by_id(job_id)

    worker = Worker(
        functions=[func(run_job, name=ARQ_FUNCTION, max_tries=1)],
        queue_name=settings.queue_name,
        redis_settings=redis_settings(settings),
        burst=burst,
        handle_signals=False,
        max_jobs=settings.concurrency,
        job_timeout=ARQ_JOB_TIMEOUT,
        keep_result=0,
        retry_jobs=False,
        poll_delay=ARQ_POLL_DELAY,
    )
    if burst:
        await runner.recover()
    else:
        # The poller: jobs whose message was lost, delayed retries, dead workers' jobs.
        await runner.start()
    try:
        await worker.async_run()
    finally:
        await close_worker(worker)
    if burst:
        await runner.drain()


async def close_worker(worker) -> None:
    # arq's own close() gathers cancelled tasks and would re-raise their cancellation.
    tasks = list(worker.tasks.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    worker.tasks.clear()
    with contextlib.suppress(Exception):
        await worker.close()
