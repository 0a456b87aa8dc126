"""Sweeps: the `cleanup` hook with the sweep's time, merged counts, isolation of a failing plugin, the timer."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mediahub import hookimpl
from mediahub.scheduler import Scheduler, SweepLock, merge_counts, run_sweep
from mediahub.testing import make_settings

HANG_GUARD = 30.0


class Cleaner:
    def __init__(self, counts):
        self.counts = counts
        self.calls: list[float] = []
        self.swept = asyncio.Event()

    @hookimpl
    async def cleanup(self, now):
        self.calls.append(now)
        if len(self.calls) >= 2:
            self.swept.set()
        return self.counts


class SyncCleaner:
    @hookimpl
    def cleanup(self, now):
        return {"temp_uploads": 1, "stale_rows": 4}


class BrokenCleaner:
    @hookimpl
    def cleanup(self, now):
        raise RuntimeError("cleanup exploded")


class QuietCleaner:
    @hookimpl
    def cleanup(self, now):
        return None  # nothing to report


def test_merge_counts_adds_integers_and_skips_malformed_reports():
    totals = {"a": 1}
    merge_counts(totals, {"a": 2, "b": 3}, "p")
    merge_counts(totals, {"c": "lots", "d": True, "e": 1.5}, "p")
    merge_counts(totals, ["not", "a", "dict"], "p")
    assert totals == {"a": 3, "b": 3}


async def test_run_sweep_passes_now_and_merges_every_plugins_counts(mediahub_app_factory):
    cleaner = Cleaner({"temp_uploads": 2})
    app = await mediahub_app_factory(plugins=[("cleaner", cleaner), ("sync-cleaner", SyncCleaner()),
                                              ("quiet", QuietCleaner())])
    host = app.extensions["mediahub"]
    counts = await run_sweep(host, now=4_102_444_800.0)  # a sweep "in the future"
    assert cleaner.calls == [4_102_444_800.0]
    assert counts.get("temp_uploads") == 3 and counts.get("stale_rows") == 4


async def test_a_raising_plugin_is_logged_and_the_others_still_count(mediahub_app_factory, caplog):
    cleaner = Cleaner({"expired_parties": 5})
    app = await mediahub_app_factory(plugins=[("broken", BrokenCleaner()), ("cleaner", cleaner)])
    with caplog.at_level(logging.ERROR):
        counts = await run_sweep(app.extensions["mediahub"], now=1000.0)
    assert counts.get("expired_parties") == 5 and cleaner.calls == [1000.0]
    assert any("broken" in r.getMessage() and "cleanup" in r.getMessage() for r in caplog.records)
    assert any("cleanup exploded" in (r.exc_text or "") for r in caplog.records)


async def test_a_failing_ledger_sweep_does_not_stop_plugin_cleanups(mediahub_app_factory, caplog):
    class BrokenLedger:
        async def sweep(self, now):
            raise OSError("disk gone")

    cleaner = Cleaner({"x": 1})
    app = await mediahub_app_factory(plugins=[("cleaner", cleaner)])
    host = app.extensions["mediahub"]
    host.ledger = BrokenLedger()
    with caplog.at_level(logging.ERROR):
        assert (await run_sweep(host, now=5.0)).get("x") == 1
    assert any("media ledger sweep failed" in r.getMessage() for r in caplog.records)


async def test_the_ledger_sweep_counts_are_merged(mediahub_app_factory):
    class CountingLedger:
        def __init__(self):
            self.seen = []

        async def sweep(self, now):
            self.seen.append(now)
            return {"orphans": 2}

    app = await mediahub_app_factory(plugins=[("sync-cleaner", SyncCleaner())])
    host = app.extensions["mediahub"]
    host.ledger = ledger = CountingLedger()
    counts = await run_sweep(host, now=42.0)
    assert ledger.seen == [42.0] and counts["orphans"] == 2 and counts["stale_rows"] == 4


async def test_the_scheduler_sweeps_every_interval(mediahub_app_factory):
    cleaner = Cleaner({"temp_uploads": 1})
    app = await mediahub_app_factory(plugins=[("cleaner", cleaner)],
                                     overrides={"server": {"sweep_interval": 0.05}})
    await asyncio.wait_for(cleaner.swept.wait(), HANG_GUARD)
    assert len(cleaner.calls) >= 2 and cleaner.calls[1] > cleaner.calls[0]
    assert app.extensions["mediahub"].scheduler.sweeps >= 1  # the second is still finishing


async def test_a_stopped_scheduler_sweeps_no_more(tmp_path):
    from mediahub.host import Host
    from mediahub.plugins import PluginHost

    settings = make_settings(tmp_path, {"server": {"sweep_interval": 0.01}})
    plugins = PluginHost(settings)
    cleaner = Cleaner({})
    plugins.load([("cleaner", cleaner)])
    scheduler = Scheduler(Host(settings, plugins))
    scheduler.start()
    await asyncio.wait_for(cleaner.swept.wait(), HANG_GUARD)
    await scheduler.stop()
    calls = len(cleaner.calls)
    await asyncio.sleep(0.05)
    assert len(cleaner.calls) == calls


@pytest.mark.redis
async def test_only_one_instance_takes_the_sweep_lock_per_interval(redis_url, redis_namespace):  # noqa: F811
    first = SweepLock(redis_url, redis_namespace + "sweep-lock")
    second = SweepLock(redis_url, redis_namespace + "sweep-lock")
    try:
        assert await first.acquire(60) is True
        assert await second.acquire(60) is False
        assert await first.acquire(60) is False  # not again within the same interval either
    finally:
        await first.close()
        await second.close()


def test_the_sweep_lock_follows_the_redis_settings(tmp_path):
    assert SweepLock.from_settings(make_settings(tmp_path)) is None
    bus = make_settings(tmp_path, {"bus": {"backend": "redis", "redis_url": "redis://h/0",
                                           "channel_prefix": "mh:"}})
    assert SweepLock.from_settings(bus).key == "mh:sweep-lock"
    jobs = make_settings(tmp_path, {"jobs": {"backend": "arq", "redis_url": "redis://h/1",
                                             "queue_name": "q"}})
    lock = SweepLock.from_settings(jobs)
    assert (lock.key, lock.redis_url) == ("q:sweep-lock", "redis://h/1")


@pytest.mark.redis
async def test_two_instances_on_one_redis_sweep_once_per_interval(tmp_path, redis_url, redis_namespace):  # noqa: F811
    from mediahub.host import Host
    from mediahub.plugins import PluginHost

    settings = make_settings(tmp_path, {"server": {"sweep_interval": 3600},
                                        "bus": {"backend": "redis", "redis_url": redis_url,
                                                "channel_prefix": redis_namespace}})
    cleaners, schedulers = [], []
    for _ in range(2):
        plugins = PluginHost(settings)
        cleaner = Cleaner({"n": 1})
        plugins.load([("cleaner", cleaner)])
        cleaners.append(cleaner)
        schedulers.append(Scheduler(Host(settings, plugins)))
    try:
        results = [await scheduler.sweep_once() for scheduler in schedulers]
        assert sorted(len(c.calls) for c in cleaners) == [0, 1]
        assert {"n": 1} in results and None in results
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
