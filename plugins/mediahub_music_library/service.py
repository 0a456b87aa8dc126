"""While `mediahub serve` runs: a background scan at start, a folder watcher, a periodic rescan.

One scan runs at a time in a process (a lock), and one across instances sharing a database
(a lease row in music_scan_state): a second instance skips a scan another one is doing.
The server answers requests throughout; `GET /api/music/status` shows the progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from datetime import datetime, timezone

from tortoise.expressions import Q

from mediahub_music_library.models import MusicScanState

log = logging.getLogger("mediahub.music_library")

LEASE_SECONDS = 300
MAX_PROBLEMS = 50  # skipped files the last scan's record keeps (music_scan_issues keeps all)
WATCH_DEBOUNCE_MS = 400  # changes closer together than this become one rescan


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def this_host() -> str:
    # The holder column is 64 characters; a container's host name alone can be 63.
    return socket.gethostname()[:40]


def lease_holder(pid: int) -> str:
    """Who holds the scan lease: this host, the process, a nonce (pids are reused)."""
    return f"{this_host()}:{pid}:{uuid.uuid4().hex[:8]}"


def holder_is_gone(holder: str | None) -> bool:
    """Whether the lease's holder was a process of this host that no longer runs (a server
    killed mid-scan): its lease then need not be waited out."""
    parts = (holder or "").split(":")
    if len(parts) < 3 or ":".join(parts[:-2]) != this_host() or not parts[-2].isdigit():
        return False
    try:
        os.kill(int(parts[-2]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


class LibraryService:
    """The scans of one serving process; `app.extensions["music_library"]` holds it."""

    def __init__(self, config):
        self.config = config
        self.lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.scanning = False
        self.watching = False
        self.progress: dict = {}
        self.error: str | None = None  # why the last scan() failed
        self.holder = lease_holder(os.getpid())

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self.run(), name="music-library"))

    async def stop(self) -> None:
        self.stopping.set()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()

    async def run(self) -> None:
        if self.config.scan_on_start:
            await self.scan("start")
        workers = []
        if self.config.watch:
            workers.append(self.watch())
        if self.config.rescan_interval:
            workers.append(self.rescan_periodically())
        await asyncio.gather(*workers)

    def scan_soon(self, reason: str) -> None:
        """Start a scan in the background (the admin's `POST /api/music/scan`)."""
        self.tasks.append(asyncio.create_task(self.scan(reason)))

    async def scan(self, reason: str, only: set[str] | None = None, progress=None):
        """Scan (some of) the folders now and record it for the status (`lastScan`, `mediahub
        library status`); None if another instance holds the scan lease or the scan failed
        (`self.error` says which). `progress(counts)` is called besides the status's own."""
        from mediahub_music_library.scanner import scan_folders

        def note(counts) -> None:
            self.note_progress(counts)
            if progress:
                progress(counts)

        async with self.lock:
            self.error = None
            try:
                taken = await self.take_lease()
            except BaseException:
                # Stopped mid-way, the update may have been committed: left alone, the lease
                # would keep every other scan (`mediahub library scan` too) away for minutes.
                await self.release_lease()
                raise
            if not taken:
                log.info("music scan skipped: another instance is scanning")
                return None
            self.scanning, self.progress = True, {}
            started = time.monotonic()
            counts, error = None, None
            try:
                await MusicScanState.filter(name="scan").update(started_at=now_utc(), error=None)
                counts = await scan_folders(self.config, note, only=only)
            except Exception as exc:  # a scan failing must not stop the watcher or the server
                log.exception("music scan failed")
                error = self.error = f"{type(exc).__name__}: {exc}"
            finally:
                self.scanning = False
                summary = self.progress if counts is None else {
                    "seen": counts.seen, "added": counts.added, "changed": counts.changed,
                    "moved": counts.moved, "removed": counts.removed, "failed": counts.failed}
                summary = {**summary, "reason": reason,
                           "seconds": round(time.monotonic() - started, 3)}
                if counts is not None:  # what was skipped and why, for the status (capped)
                    summary["problems"] = [{"path": path, "reason": why}
                                           for path, why in counts.problems[:MAX_PROBLEMS]]
                await MusicScanState.filter(name="scan").update(
                    finished_at=now_utc(), counts=summary, error=error, lease_until=0)
            return counts

    def note_progress(self, counts) -> None:
        self.progress = {"seen": counts.seen, "added": counts.added, "changed": counts.changed,
                         "moved": counts.moved, "removed": counts.removed, "failed": counts.failed}

    async def take_lease(self) -> bool:
        state, _ = await MusicScanState.get_or_create(name="scan")
        now = time.time()
        free = Q(lease_until__lt=now) | Q(holder=self.holder)
        if state.holder and state.lease_until >= now and holder_is_gone(state.holder):
            log.info("music scan lease of %s taken over: that process is gone", state.holder)
            free |= Q(holder=state.holder)  # still only if no one else took it meanwhile
        taken = await MusicScanState.filter(name="scan").filter(free).update(
            holder=self.holder, lease_until=now + LEASE_SECONDS)
        return taken == 1

    async def release_lease(self) -> None:
        await MusicScanState.filter(name="scan", holder=self.holder).update(lease_until=0)

    async def watch(self) -> None:
        """Rescan the folders a change touched, within about a second of it."""
        from watchfiles import awatch

        roots = [folder.path.rstrip("/") or "/" for folder in self.config.folders]
        existing = [root for root in roots if os.path.isdir(root)]
        if not existing:
            return
        self.watching = True
        try:
            async for changes in awatch(*existing, stop_event=self.stopping,
                                        debounce=WATCH_DEBOUNCE_MS, step=50, recursive=True):
                touched = {root for root in existing
                           for _, path in changes if path == root or path.startswith(root + "/")}
                if touched:
                    await self.scan("watch", only=touched)
        finally:
            self.watching = False

    async def rescan_periodically(self) -> None:
        """Catch what a watcher cannot see (network mounts, changes while stopped)."""
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.config.rescan_interval)
            if not self.stopping.is_set():
                await self.scan("periodic")


async def status() -> dict:
    """What `GET /api/music/status` answers."""
    from quart import current_app

    from mediahub_music_library.models import MusicAlbum, MusicArtist, MusicScanIssue, MusicTrack
    from mediahub_music_library.streaming import running_transcodes

    service: LibraryService | None = current_app.extensions.get("music_library")
    state = await MusicScanState.get_or_none(name="scan")
    scanning = bool(service and service.scanning) or bool(
        state and state.lease_until > time.time() and state.holder != getattr(service, "holder", None))
    last = None
    if state is not None and state.finished_at is not None:
        last = {**(state.counts or {}), "startedAt": iso(state.started_at),
                "finishedAt": iso(state.finished_at), "error": state.error}
    return {
        "scanning": scanning,
        "progress": service.progress if service and service.scanning else None,
        "watching": bool(service and service.watching),
        "tracks": await MusicTrack.filter(present=True).count(),
        "albums": await MusicAlbum.filter(tracks__present=True).distinct().count(),
        "artists": await MusicArtist.filter(track_links__track__present=True).distinct().count(),
        "issues": await MusicScanIssue.all().count(),
        "transcoding": running_transcodes(),
        "lastScan": last,
    }


def iso(value) -> str | None:
    return value.isoformat() if value else None
