"""Where a scan reads its files: worker processes for a full scan, a thread for a few files.

Parsing tags is pure Python: in the scanning process it holds the GIL the event loop and
the database writes need, and uses one core. A folder with more than one batch to read
gets a process pool (a worker per core); batches go out a bounded number ahead of the one
writer, so memory stays flat whatever the collection's size. The pool lives for one scan
and is shut down at its end, also when the scan is cancelled or fails.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor

from mediahub_music_library.reader import read_batch

BATCH = 200  # files per worker call and per transaction


def worker_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_started() -> None:
    """In each worker: signals and the parent's end are the parent's business."""
    # Workers are forked (spawning one would import the whole server again: ~2 s and ~60 MB
    # each). The parent's asyncio signal handlers came along: a signal to a worker would be
    # written to the parent's event loop as if the parent had received it.
    signal.set_wakeup_fd(-1)
    # What came with the fork (the whole server's objects) is never freed here: kept out of
    # the collector, whose full passes would walk (and copy, page by page) all of it.
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops the pool
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None:  # a parent killed outright must not leave workers behind
        threading.Thread(target=exit_with, args=(parent.sentinel,), daemon=True).start()


def exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


class Readers:
    """The file reading of one scan (every folder of it); `close()` ends the pool, if one started."""

    def __init__(self, artist_separators: list[str], genre_separators: list[str], cover_cache: str):
        self.options = (artist_separators, genre_separators, cover_cache)
        self.pool: ProcessPoolExecutor | None = None

    def start_pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            # Forked from the event loop's thread; workers only parse files and write covers
            # into the cache (no database, no event loop, no threads of the parent's).
            self.pool = ProcessPoolExecutor(worker_count(), mp_context=multiprocessing.get_context("fork"),
                                            initializer=worker_started)
        return self.pool

    async def batches(self, files: list[tuple[str, str, int]], folder_path: str):
        """(offset in `files`, read_batch's results) per batch of `files`, in order."""
        loop = asyncio.get_running_loop()
        starts = iter(range(0, len(files), BATCH))
        if len(files) <= BATCH:  # a watcher's few files: no processes to start
            pool, ahead = None, 1
        else:
            pool = self.start_pool()
            ahead = 2 * worker_count()  # every worker busy while the writer writes one batch
        pending: deque = deque()

        def submit() -> None:
            for start in starts:
                call = functools.partial(read_batch, files[start:start + BATCH], folder_path, *self.options)
                pending.append((start, loop.run_in_executor(pool, call)))
                if len(pending) >= ahead:
                    return

        try:
            submit()
            while pending:
                start, future = pending.popleft()
                results = await future
                submit()
                yield start, results
        finally:
            for _, future in pending:  # not started yet: dropped; running: finish, unread
                future.cancel()

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            # Waits for the batches being read (a fraction of a second), off the event loop.
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
