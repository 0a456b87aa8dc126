"""Recently served objects kept open a moment (nginx's open_file_cache): one open per object and second.

A /media/ request opens its object, fstats it and reads its type (an xattr): four system calls
and ~8 us per request. A player's range requests ask for the same file many times a second, so
the open file and what was read of it are kept for `VALID_SECONDS`, and each request gets its
own duplicate of the descriptor (closing it never closes the kept one).

What a kept file can serve: the version that was open when it was kept (its stat and its bytes
are of the same inode). This process's own put and delete forget the key at once; a change
made by another process (a second `mediahub serve`, the CLI) is seen within VALID_SECONDS,
as with nginx's `open_file_cache_valid`. Misses are never kept: a new object is seen at once.
"""

from __future__ import annotations

import asyncio
import os
import time

from mediahub import ObjectStat

VALID_SECONDS = 1.0
MAX_FILES = 256  # open descriptors at most (the least-recently kept is closed first)


class OpenFiles:
    def __init__(self, valid_seconds: float = VALID_SECONDS, max_files: int = MAX_FILES) -> None:
        self.valid_seconds = valid_seconds
        self.max_files = max_files
        self._kept: dict[str, tuple[int, ObjectStat, float]] = {}  # key -> (fd, stat, until)
        self._sweep: asyncio.TimerHandle | None = None

    def get(self, key: str) -> tuple[int, ObjectStat] | None:
        """(a duplicate of the kept descriptor, for the caller to close; its stat), or None."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        fd, stat, until = kept
        if time.monotonic() >= until:
            self.forget(key)
            return None
        return os.dup(fd), stat

    def keep(self, key: str, fd: int, stat: ObjectStat) -> None:
        """Keep a duplicate of the open file `fd` (the caller keeps and closes its own)."""
        if self.max_files <= 0:
            return
        self.forget(key)
        while len(self._kept) >= self.max_files:
            self.forget(next(iter(self._kept)))
        self._kept[key] = (os.dup(fd), stat, time.monotonic() + self.valid_seconds)
        if self._sweep is None:
            # Close what expires even if nothing asks again: a deleted file's space is freed.
            self._sweep = asyncio.get_running_loop().call_later(self.valid_seconds, self._expire)

    def forget(self, key: str) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            os.close(kept[0])

    def forget_all(self) -> None:
        for key in list(self._kept):
            self.forget(key)
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None

    def _expire(self) -> None:
        self._sweep = None
        now = time.monotonic()
        for key, (_, _, until) in list(self._kept.items()):
            if now >= until:
                self.forget(key)
        if self._kept:
            self._sweep = asyncio.get_running_loop().call_later(self.valid_seconds, self._expire)

    def __len__(self) -> int:
        return len(self._kept)
