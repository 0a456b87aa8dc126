"""Local disk keeps the files /media/ requests opened for a moment: never past a put or delete of
its own, at most VALID_SECONDS past another process's, a bounded number, closed when they expire."""

from __future__ import annotations

import asyncio
import os

from mediahub_local_disk.backend import LocalDiskStorage
from tests.support.storage_contract import chunked


def whole(stat):
    return (0, stat.size - 1) if stat.size else None


async def serve(storage: LocalDiskStorage, key: str) -> tuple[str | None, bytes | None]:
    """(etag, bytes) as the /media/ gateway would send them, or (None, None) for a 404."""
    stat, span, fd, body = await storage.stat_and_open(key, whole, 1024 * 1024)
    if stat is None:
        return None, None
    if fd is None:
        return stat.etag, body
    try:
        return stat.etag, os.pread(fd, span[1] - span[0] + 1, span[0])
    finally:
        os.close(fd)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def started(tmp_path, **options) -> LocalDiskStorage:
    storage = LocalDiskStorage("local", tmp_path / "media", b"secret")
    for name, value in options.items():
        setattr(storage._open_files, name, value)
    await storage.start()
    return storage


async def test_this_processs_put_and_delete_are_seen_at_once(tmp_path):
    storage = await started(tmp_path, valid_seconds=3600)
    await storage.put("a/song.mp3", chunked(b"first"), "audio/mpeg")
    first_etag, body = await serve(storage, "a/song.mp3")
    assert body == b"first" and len(storage._open_files) == 1
    os.utime(storage._path("a/song.mp3"), ns=(1, 1))  # a put within the same mtime tick
    await storage.put("a/song.mp3", chunked(b"second version"), "audio/mpeg")
    etag, body = await serve(storage, "a/song.mp3")
    assert body == b"second version" and etag != first_etag
    await storage.delete("a/song.mp3")
    assert await serve(storage, "a/song.mp3") == (None, None)
    await storage.close()


async def test_this_processs_put_many_is_seen_at_once(tmp_path):
    storage = await started(tmp_path, valid_seconds=3600)
    await storage.put_many([("hls/index.m3u8", b"#EXTM3U 1", "audio/mpegurl"),
                            ("hls/0.ts", b"segment", "video/mp2t")])
    assert (await serve(storage, "hls/index.m3u8"))[1] == b"#EXTM3U 1"
    os.utime(storage._path("hls/index.m3u8"), ns=(1, 1))
    await storage.put_many([("hls/index.m3u8", b"#EXTM3U 1 2", "audio/mpegurl")])
    assert (await serve(storage, "hls/index.m3u8"))[1] == b"#EXTM3U 1 2"
    await storage.close()


async def test_another_processs_changes_are_seen_within_the_validity(tmp_path):
    storage = await started(tmp_path, valid_seconds=0.3)
    await storage.put("a/song.mp3", chunked(b"kept"), "audio/mpeg")
    assert (await serve(storage, "a/song.mp3"))[1] == b"kept"
    path = storage._path("a/song.mp3")
    before = open_descriptors()
    os.unlink(path)  # as a second `mediahub serve` deleting it would
    # Within the validity the open file still serves the version it was (the same bytes
    # and etag, consistently); past it the object is gone, and the kept file is closed.
    assert (await serve(storage, "a/song.mp3"))[1] == b"kept"
    await asyncio.sleep(0.7)
    assert len(storage._open_files) == 0 and open_descriptors() == before - 1
    assert await serve(storage, "a/song.mp3") == (None, None)
    await storage.close()


async def test_a_missing_object_is_never_kept(tmp_path):
    storage = await started(tmp_path, valid_seconds=3600)
    assert await serve(storage, "a/new.mp3") == (None, None)
    path = tmp_path / "media" / "a" / "new.mp3"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"appeared")  # written by another process
    assert (await serve(storage, "a/new.mp3"))[1] == b"appeared"
    await storage.close()


async def test_kept_files_are_bounded_and_closed(tmp_path):
    storage = await started(tmp_path, valid_seconds=3600, max_files=4)
    for index in range(10):
        await storage.put(f"k/{index}.bin", chunked(b"%d" % index), "audio/mpeg")
    before = open_descriptors()
    for index in range(10):
        assert (await serve(storage, f"k/{index}.bin"))[1] == b"%d" % index
    assert len(storage._open_files) == 4 and open_descriptors() == before + 4
    for index in range(6, 10):  # the last four kept, each request with its own descriptor
        assert (await serve(storage, f"k/{index}.bin"))[1] == b"%d" % index
    assert open_descriptors() == before + 4
    await storage.close()
    assert open_descriptors() == before
