"""The media ledger: rows before bytes, deletes that survive storage failures, the sweep."""

from __future__ import annotations

import asyncio
import time

import pytest

from mediahub import hookimpl
from mediahub.models import MediaObject
from mediahub_local_disk.backend import LocalDiskStorage
from tests.support.storage_contract import chunked, failing_after, keys_listed

GRACE = 600


class FlakyDisk(LocalDiskStorage):
    """Local disk whose deletes fail while `fail_deletes` is set (a storage outage)."""

    fail_deletes = False

    async def delete(self, key: str) -> None:
        if self.fail_deletes:
            raise ConnectionError("storage unreachable")
        await super().delete(key)


class FlakyDiskPlugin:
    @hookimpl
    def register_storage_backends(self):
        return {"flaky-disk": FlakyDisk.from_settings}


@pytest.fixture
async def app(mediahub_app_factory, database_overrides, tmp_path):
    return await mediahub_app_factory(
        plugins=[("flaky-disk", FlakyDiskPlugin())],
        overrides={**database_overrides,
                   "server": {"orphan_grace": GRACE},
                   "storage": {"default": "local",
                               "local": {"type": "local-disk", "root": str(tmp_path / "local")},
                               "flaky": {"type": "flaky-disk", "root": str(tmp_path / "flaky")}}})


@pytest.fixture
def host(app):
    return app.extensions["mediahub"]


async def store(host, key: str, data: bytes = b"audio bytes", backend: str = "local",
                **extra) -> MediaObject:
    media = await host.ledger.begin(backend=backend, key=key, purpose="test",
                                    content_type="audio/mpeg", **extra)
    stat = await host.storage.get(backend).put(key, chunked(data), "audio/mpeg")
    return await host.ledger.finalise(media, size=stat.size, sha256="0" * 64)


async def row(media: MediaObject) -> MediaObject | None:
    return await MediaObject.get_or_none(id=media.id)


async def test_row_is_pending_before_any_byte_and_stored_after(host):
    media = await host.ledger.begin(backend="local", key="t/a.mp3", purpose="track",
                                    content_type="audio/mpeg", metadata={"title": "A"})
    seen_states = []

    async def body():
        # What the database says while the bytes are being written.
        seen_states.append((await row(media)).state)
        yield b"bytes"

    stat = await host.storage.default.put("t/a.mp3", body(), "audio/mpeg")
    await host.ledger.finalise(media, size=stat.size, sha256="a" * 64, content_type="audio/ogg")
    assert seen_states == ["pending"]
    stored = await host.ledger.get(media.id)
    assert (stored.state, stored.size, stored.content_type) == ("stored", 5, "audio/ogg")
    assert stored.metadata == {"title": "A"}
    assert await host.ledger.get("not-a-uuid") is None


async def test_failed_upload_discarded_leaves_nothing(host):
    media = await host.ledger.begin(backend="local", key="t/broken.mp3", purpose="track",
                                    content_type="audio/mpeg")
    with pytest.raises(ConnectionResetError):
        await host.storage.default.put("t/broken.mp3", failing_after(b"x" * 2_000_000, 1_500_000),
                                       "audio/mpeg")
    assert await host.ledger.discard(media) is True
    assert await row(media) is None
    assert await keys_listed(host.storage.default) == []


async def test_delete_removes_object_then_row(host):
    media = await store(host, "t/a.mp3")
    assert await host.ledger.delete(media) is True
    assert await row(media) is None
    assert await host.storage.default.stat("t/a.mp3") is None


async def test_failed_delete_keeps_the_row_and_the_sweep_retries_it(host):
    flaky = host.storage.get("flaky")
    media = await store(host, "t/a.mp3", backend="flaky")
    flaky.fail_deletes = True
    assert await host.ledger.delete(media) is False
    kept = await row(media)
    assert kept.state == "deleting"
    assert kept.attempts == 1 and "storage unreachable" in kept.last_error
    assert await flaky.stat("t/a.mp3") is not None

    # Still failing: the sweep counts an attempt and keeps the row.
    counts = await host.ledger.sweep(time.time())
    assert counts["ledger_deletes_retried"] == 0
    assert (await row(media)).attempts == 2

    flaky.fail_deletes = False
    counts = await host.ledger.sweep(time.time())
    assert counts["ledger_deletes_retried"] == 1
    assert await row(media) is None
    assert await flaky.stat("t/a.mp3") is None


async def test_discard_with_failing_storage_leaves_row_for_the_sweep(host):
    flaky = host.storage.get("flaky")
    media = await host.ledger.begin(backend="flaky", key="t/b.mp3", purpose="track",
                                    content_type="audio/mpeg")
    await flaky.put("t/b.mp3", chunked(b"half"), "audio/mpeg")
    flaky.fail_deletes = True
    assert await host.ledger.discard(media) is False
    assert (await row(media)).state == "deleting"
    flaky.fail_deletes = False
    assert (await host.ledger.sweep(time.time()))["ledger_deletes_retried"] == 1
    assert await keys_listed(flaky) == []


async def test_orphan_objects_are_removed_only_after_the_grace(host):
    local = host.storage.default
    kept = await store(host, "t/kept.mp3")
    await local.put("t/orphan.mp3", chunked(b"nobody owns me"), "audio/mpeg")

    counts = await host.ledger.sweep(time.time())
    assert counts["orphans_removed"] == 0
    assert await keys_listed(local) == ["t/kept.mp3", "t/orphan.mp3"]

    counts = await host.ledger.sweep(time.time() + GRACE + 10)
    assert counts["orphans_removed"] == 1
    assert await keys_listed(local) == ["t/kept.mp3"]
    assert (await row(kept)).state == "stored"


async def test_orphans_are_swept_on_every_backend(host):
    await host.storage.get("flaky").put("x/orphan.mp3", chunked(b"x"), "audio/mpeg")
    await host.storage.get("local").put("y/orphan.mp3", chunked(b"y"), "audio/mpeg")
    counts = await host.ledger.sweep(time.time() + GRACE + 10)
    assert counts["orphans_removed"] == 2


async def test_prefix_row_owns_the_objects_under_it(host):
    local = host.storage.default
    media = await host.ledger.begin(backend="local", key="hls/track1/", purpose="hls",
                                    content_type="application/vnd.apple.mpegurl")
    for name in ("index.m3u8", "seg0.ts", "v/seg1.ts"):
        await local.put(f"hls/track1/{name}", chunked(b"x"), "video/mp2t")
    await host.ledger.finalise(media, size=3, sha256="0" * 64)
    counts = await host.ledger.sweep(time.time() + GRACE + 10)
    assert counts["orphans_removed"] == 0
    assert len(await keys_listed(local)) == 3
    assert await host.ledger.delete(media) is True
    assert await keys_listed(local) == []


async def test_stale_pending_rows_are_discarded_with_their_bytes(host):
    local = host.storage.default
    fresh = await host.ledger.begin(backend="local", key="t/fresh.mp3", purpose="track",
                                    content_type="audio/mpeg")
    crashed = await host.ledger.begin(backend="local", key="t/crashed.mp3", purpose="track",
                                      content_type="audio/mpeg")
    await local.put("t/crashed.mp3", chunked(b"the process died before finalise"), "audio/mpeg")

    assert (await host.ledger.sweep(time.time()))["ledger_pending_discarded"] == 0
    counts = await host.ledger.sweep(time.time() + GRACE + 10)
    assert counts["ledger_pending_discarded"] == 2
    assert await row(crashed) is None and await row(fresh) is None
    assert await keys_listed(local) == []
    # An upload that outlived its row cannot be finalised into a dangling state.
    with pytest.raises(LookupError):
        await host.ledger.finalise(crashed, size=1, sha256="0" * 64)


async def test_expired_objects_are_deleted(host):
    from datetime import datetime, timedelta, timezone

    soon = datetime.now(timezone.utc) + timedelta(seconds=30)
    temporary = await store(host, "t/temp.mp3", expires_at=soon)
    permanent = await store(host, "t/keep.mp3")
    assert (await host.ledger.sweep(time.time()))["ledger_expired_deleted"] == 0
    counts = await host.ledger.sweep(time.time() + 60)
    assert counts["ledger_expired_deleted"] == 1
    assert await row(temporary) is None and await row(permanent) is not None
    assert await keys_listed(host.storage.default) == ["t/keep.mp3"]


async def test_two_sweeps_at_once_discard_each_row_once(host):
    rows = []
    for number in range(5):
        media = await host.ledger.begin(backend="local", key=f"t/{number}.mp3", purpose="track",
                                        content_type="audio/mpeg")
        await host.storage.default.put(f"t/{number}.mp3", chunked(b"x"), "audio/mpeg")
        rows.append(media)
    later = time.time() + GRACE + 10
    first, second = await asyncio.gather(host.ledger.sweep(later), host.ledger.sweep(later))
    assert first["ledger_pending_discarded"] + second["ledger_pending_discarded"] == 5
    assert await MediaObject.all().count() == 0
    assert await keys_listed(host.storage.default) == []
