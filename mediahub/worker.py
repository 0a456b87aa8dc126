"""`mediahub worker`: the app built as `serve` builds it, running jobs (and nothing else) until stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from mediahub.app import create_app, start_services, stop_services
from mediahub.config import Settings
from mediahub.host import Host
from mediahub.job_runner import STOP_TIMEOUT

log = logging.getLogger("mediahub.jobs")


async def run_worker(settings: Settings, *, burst: bool = False,
                     extra_plugins: list[tuple[str, Any]] = ()) -> None:
    """`mediahub worker`: build the app as `serve` does, then run jobs until SIGTERM/SIGINT.

    With burst, run what is queued (arq messages, then due rows) and return.
    """
    app = create_app(settings, extra_plugins=list(extra_plugins))
    # Handlers may call mediahub.current_host(), as they can under `serve`.
    async with app.app_context():
        await start_services(app, run_jobs=False)
        host: Host = app.extensions["mediahub"]
        task = asyncio.create_task(host.jobs.serve_worker(burst=burst), name="mediahub-worker")
        stop_signals = install_stop_signals(task)
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
            log.info("worker stopping")
        finally:
            for sig in stop_signals:
                asyncio.get_running_loop().remove_signal_handler(sig)
            if not task.done():  # we were cancelled ourselves: let running jobs hand back first
                task.cancel()
                await asyncio.wait([task], timeout=STOP_TIMEOUT)
            await stop_services(app)


def install_stop_signals(task: asyncio.Task) -> list[int]:
    """SIGTERM/SIGINT cancel the worker so running jobs are handed back, not killed mid-way."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, task.cancel)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    return installed
