"""The behaviour every Storage backend owes the host, as a reusable test class.

A backend's test module subclasses StorageContract and provides a `storage` fixture
that yields a started backend with an empty namespace:

    class TestLocalDisk(StorageContract):
        @pytest.fixture
        async def storage(self, tmp_path):
            backend = LocalDiskStorage("local", tmp_path / "media", b"secret")
            await backend.start()
            yield backend
"""

from __future__ import annotations

import contextlib
import os

import pytest

from mediahub.storage import InvalidKey, ObjectStat, Storage, put_small_objects

MiB = 1024 * 1024

ESCAPING_KEYS = [
    "../outside.mp3",
    "a/../../outside.mp3",
    "/etc/passwd",
    "a/../b.mp3",
    "./a.mp3",
    "a//b.mp3",
    "a/",
    "",
    "a\x00b.mp3",
    "..\\outside.mp3",
    "a\\..\\..\\outside.mp3",
    "a\nb.mp3",
]


async def chunked(data: bytes, size: int = 256 * 1024):
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def failing_after(data: bytes, fail_at: int):
    """Yield data, then raise part-way, like a client that disconnects mid-upload."""
    yield data[:fail_at]
    raise ConnectionResetError("client went away")


async def read_all(storage: Storage, key: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in storage.open_range(key, start, end)])


async def keys_listed(storage: Storage, prefix: str = "") -> list[str]:
    return sorted([info.key async for info in storage.list(prefix)])


class StorageContract:
    """Tests any Storage backend must pass; subclasses provide the `storage` fixture."""

    payload = os.urandom(3 * MiB + 17)

    async def test_is_a_storage(self, storage):
        assert isinstance(storage, Storage)
        assert storage.name

    async def test_put_then_stat(self, storage):
        stat = await storage.put("tracks/song.mp3", chunked(self.payload), "audio/mpeg",
                                 size=len(self.payload))
        assert isinstance(stat, ObjectStat)
        assert stat.size == len(self.payload)
        again = await storage.stat("tracks/song.mp3")
        assert again.size == len(self.payload)
        assert again.etag and again.etag == stat.etag
        assert again.content_type == "audio/mpeg"
        assert again.last_modified > 0

    async def test_stat_of_missing_is_none(self, storage):
        assert await storage.stat("nothing/here.mp3") is None

    @pytest.mark.parametrize("start,end", [
        (0, 0), (0, 3 * MiB + 16), (3 * MiB + 16, 3 * MiB + 16), (MiB - 1, MiB),
        (100, 2 * MiB + 5), (2 * MiB, 3 * MiB + 16),
    ])
    async def test_open_range_gives_exact_bytes(self, storage, start, end):
        await storage.put("r/data.bin", chunked(self.payload), "application/octet-stream")
        assert await read_all(storage, "r/data.bin", start, end) == self.payload[start:end + 1]

    async def test_open_range_can_stop_early(self, storage):
        await storage.put("r/data.bin", chunked(self.payload), "application/octet-stream")
        chunks = storage.open_range("r/data.bin", 0, len(self.payload) - 1)
        async with contextlib.aclosing(chunks):
            first = await chunks.__anext__()
        assert first == self.payload[:len(first)]
        # The object is untouched and still readable after an abandoned read.
        assert await read_all(storage, "r/data.bin", 0, 9) == self.payload[:10]

    async def test_put_replaces_an_object(self, storage):
        await storage.put("k/a.bin", chunked(b"first version"), "application/octet-stream")
        await storage.put("k/a.bin", chunked(b"second"), "application/octet-stream")
        assert (await storage.stat("k/a.bin")).size == 6
        assert await read_all(storage, "k/a.bin", 0, 5) == b"second"

    async def test_empty_object(self, storage):
        stat = await storage.put("k/empty.bin", chunked(b""), "application/octet-stream", size=0)
        assert stat.size == 0
        assert await keys_listed(storage) == ["k/empty.bin"]

    async def test_failed_put_leaves_no_object(self, storage):
        with pytest.raises(ConnectionResetError):
            await storage.put("k/broken.bin", failing_after(self.payload, MiB + 3),
                              "application/octet-stream")
        assert await storage.stat("k/broken.bin") is None
        assert await keys_listed(storage) == []

    async def test_failed_put_keeps_the_previous_object(self, storage):
        await storage.put("k/a.bin", chunked(b"old"), "application/octet-stream")
        with pytest.raises(ConnectionResetError):
            await storage.put("k/a.bin", failing_after(self.payload, 10), "application/octet-stream")
        assert await read_all(storage, "k/a.bin", 0, 2) == b"old"
        assert await keys_listed(storage) == ["k/a.bin"]

    async def test_small_objects_stored_together(self, storage):
        """put_small_objects: a backend's put_many, or puts side by side; all stored on return."""
        objects = [(f"hls/a{n % 2}/seg_{n:05d}.m4s", os.urandom(1000 + n), "video/iso.segment")
                   for n in range(20)] + [("hls/a0/index.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl")]
        await put_small_objects(storage, objects)
        assert await keys_listed(storage, "hls/") == sorted(key for key, _, _ in objects)
        for key, data, content_type in objects[::7]:
            stat = await storage.stat(key)
            assert (stat.size, stat.content_type) == (len(data), content_type)
            assert await read_all(storage, key, 0, len(data) - 1) == data
        await put_small_objects(storage, [])

    async def test_put_with_wrong_size_stores_nothing(self, storage):
        with pytest.raises(ValueError):
            await storage.put("k/short.bin", chunked(b"12345"), "application/octet-stream", size=6)
        assert await storage.stat("k/short.bin") is None

    async def test_delete_is_idempotent(self, storage):
        await storage.put("d/a.bin", chunked(b"x"), "application/octet-stream")
        await storage.delete("d/a.bin")
        assert await storage.stat("d/a.bin") is None
        await storage.delete("d/a.bin")
        await storage.delete("never/existed.bin")
        assert await keys_listed(storage) == []

    async def test_delete_prefix(self, storage):
        for key in ("hls/1/a.ts", "hls/1/b.ts", "hls/1/x/c.ts", "hls/10/d.ts", "other/e.ts"):
            await storage.put(key, chunked(b"x"), "video/mp2t")
        assert await storage.delete_prefix("hls/1/") == 3
        assert await keys_listed(storage) == ["hls/10/d.ts", "other/e.ts"]
        assert await storage.delete_prefix("hls/1/") == 0

    async def test_list_by_prefix(self, storage):
        for key in ("a/1.bin", "a/2.bin", "a/b/3.bin", "ab/4.bin", "c.bin"):
            await storage.put(key, chunked(b"12"), "application/octet-stream")
        assert await keys_listed(storage) == ["a/1.bin", "a/2.bin", "a/b/3.bin", "ab/4.bin", "c.bin"]
        assert await keys_listed(storage, "a/") == ["a/1.bin", "a/2.bin", "a/b/3.bin"]
        assert await keys_listed(storage, "a") == ["a/1.bin", "a/2.bin", "a/b/3.bin", "ab/4.bin"]
        assert await keys_listed(storage, "zzz/") == []
        sizes = {info.key: info.size async for info in storage.list("")}
        assert set(sizes.values()) == {2}

    @pytest.mark.parametrize("key", ESCAPING_KEYS)
    async def test_unusable_keys_are_refused(self, storage, key):
        with pytest.raises(InvalidKey):
            await storage.put(key, chunked(b"evil"), "application/octet-stream")
        with pytest.raises(InvalidKey):
            await storage.stat(key)
        with pytest.raises(InvalidKey):
            await storage.delete(key)
        with pytest.raises(InvalidKey):
            await read_all(storage, key, 0, 1)
        assert await keys_listed(storage) == []

    async def test_url_is_a_string_or_none(self, storage):
        await storage.put("u/a.mp3", chunked(b"abc"), "audio/mpeg")
        url = await storage.url("u/a.mp3", 60)
        assert url is None or isinstance(url, str)
