"""Local disk starts writing an upload to disk while it streams in, so commit's fsync is short."""

from __future__ import annotations

import ctypes
import os

import pytest

from mediahub_local_disk import backend as local_disk_backend
from mediahub_local_disk.backend import LocalDiskStorage

MiB = 1024 * 1024


def dirty_pages(path, length: int) -> int | None:
    """Dirty page-cache pages of the file's first `length` bytes (cachestat), None if unknown."""
    fd = os.open(path, os.O_RDONLY)
    try:
        counts = local_disk_backend._CacheStat()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        if libc.syscall(local_disk_backend.CACHESTAT_SYSCALL, fd,
                        ctypes.byref(local_disk_backend._CacheRange(0, length)),
                        ctypes.byref(counts), 0) != 0:
            return None
        return counts.nr_dirty
    finally:
        os.close(fd)


async def test_written_mebibytes_are_on_their_way_to_disk_before_commit(tmp_path):
    storage = LocalDiskStorage("local", tmp_path / "media", b"secret")
    await storage.start()
    block = os.urandom(MiB)
    seen: list[int | None] = []

    async def body():
        for index in range(8):
            if index == 6:
                # Mid-upload: the temp file holds the first MiBs (one write may be in flight).
                [temp] = (tmp_path / "media" / "tracks").glob(".mh-*.part")
                seen.append(dirty_pages(temp, 4 * MiB))
            yield block

    await storage.put("tracks/big.wav", body(), "audio/wav", 8 * MiB)
    if seen == [None]:
        pytest.skip("no cachestat(2) on this kernel: dirty pages cannot be counted")
    # Without sync_file_range every written page would still be dirty here (the kernel's
    # own flusher waits 30 s), all 1024 of them.
    assert seen == [0]
    assert (tmp_path / "media" / "tracks" / "big.wav").read_bytes() == block * 8
