"""Jobs: persisted rows, retries with backoff, de-duplication, progress, crash recovery, arq workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import textwrap
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from mediahub import current_host, hookimpl, job_store
from mediahub.app import create_app, start_services, stop_services
from mediahub.jobs import JobQueue, UnknownJob, check_enqueue
from mediahub.models import Job
from mediahub.testing import make_settings, running_app

# Guards against a hang, never a speed claim: every wait ends as soon as its condition holds.
HANG_GUARD = 30.0
FAST_RETRIES = {"retry_backoff": 0.05, "lease_seconds": 2.0}


async def wait_until(check, what: str, guard: float = HANG_GUARD):
    deadline = time.monotonic() + guard
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


async def wait_for_state(job_id, *states: str) -> Job:
    async def check():
        job = await Job.get(id=job_id)
        return job if job.state in states else None

    return await wait_until(check, f"job {job_id} to reach {states}")


class JobsPlugin:
    """Handlers for the in-process tests; records every attempt it sees."""

    def __init__(self):
        self.attempts: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.release = asyncio.Event()
        self.halfway = asyncio.Event()
        self.started = asyncio.Event()

    @hookimpl
    def register_jobs(self):
        return {"echo": self.echo, "flaky": self.flaky, "broken": self.broken,
                "blocker": self.blocker, "progress": self.progress}

    def note(self, ctx):
        self.attempts[str(ctx.job.id)].append((ctx.attempt, time.monotonic()))

    async def echo(self, ctx, payload):
        self.note(ctx)
        return {"echo": payload, "attempt": ctx.attempt, "has_host": current_host() is ctx.host}

    async def flaky(self, ctx, payload):
        self.note(ctx)
        if ctx.attempt < payload["succeed_on"]:
            raise ValueError(f"flaky failure on attempt {ctx.attempt}")
        return {"attempt": ctx.attempt}

    async def broken(self, ctx, payload):
        self.note(ctx)
        raise RuntimeError("always broken")

    async def blocker(self, ctx, payload):
        self.note(ctx)
        self.started.set()
        await self.release.wait()
        return "released"

    async def progress(self, ctx, payload):
        self.note(ctx)
        await ctx.set_progress(12.5)
        await ctx.set_progress(50)  # throttled, flushed by the lease keeper
        self.halfway.set()
        await self.release.wait()


@pytest.fixture
def plugin():
    return JobsPlugin()


@pytest.fixture
async def jobs_app(mediahub_app_factory, plugin, database_overrides):
    app = await mediahub_app_factory(plugins=[("test-jobs", plugin)],
                                     overrides={**database_overrides, "jobs": FAST_RETRIES})
    return app.extensions["mediahub"].jobs


# -- pure rules ----------------------------------------------------------------------------

def test_retry_delay_doubles_from_the_backoff_and_is_capped():
    assert [job_store.retry_delay(5.0, n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert job_store.retry_delay(5.0, 60) == job_store.MAX_RETRY_DELAY


def test_error_summary_keeps_the_end_of_the_traceback():
    try:
        raise ValueError("x" * 10_000 + " the end")
    except ValueError as exc:
        summary = job_store.error_summary(exc, limit=200)
    assert len(summary) == 200 and summary.endswith(" the end") and summary.startswith("...")


@pytest.mark.parametrize("value", ["50", None, float("nan"), True])
def test_progress_must_be_a_number(value):
    with pytest.raises(ValueError):
        job_store.clamp_progress(value)


def test_progress_is_clamped_to_0_100():
    assert job_store.clamp_progress(-5) == 0 and job_store.clamp_progress(250) == 100


@pytest.mark.parametrize("name, payload, key, delay, max_tries, error", [
    ("nope", {}, None, 0, None, UnknownJob),
    ("echo", [1], None, 0, None, TypeError),
    ("echo", {"x": object()}, None, 0, None, TypeError),
    ("echo", {"x": float("inf")}, None, 0, None, TypeError),
    ("echo", {}, "", 0, None, ValueError),
    ("echo", {}, "k" * 256, 0, None, ValueError),
    ("echo", {}, None, -1, None, ValueError),
    ("echo", {}, None, float("nan"), None, ValueError),
    ("echo", {}, None, 0, 0, ValueError),
])
def test_enqueue_refuses_jobs_that_could_never_run(name, payload, key, delay, max_tries, error):
    with pytest.raises(error):
        check_enqueue(name, payload, key, delay, max_tries, {"echo": None})


# -- in-process runner ---------------------------------------------------------------------

async def test_job_runs_and_stores_its_result(jobs_app):
    job = await jobs_app.enqueue("echo", {"x": 1})
    assert job.state == "queued"
    done = await wait_for_state(job.id, "done", "failed")
    assert done.state == "done"
    assert done.result == {"echo": {"x": 1}, "attempt": 1, "has_host": True}
    assert (done.tries, done.progress, done.last_error, done.lease_until) == (1, 100.0, None, None)
    assert (await jobs_app.get(str(job.id))).state == "done"
    assert await jobs_app.get("not-a-uuid") is None


async def test_failing_job_is_retried_with_backoff_then_succeeds(jobs_app, plugin):
    job = await jobs_app.enqueue("flaky", {"succeed_on": 3}, max_tries=3)
    done = await wait_for_state(job.id, "done", "failed")
    assert done.state == "done" and done.result == {"attempt": 3} and done.tries == 3
    attempts = plugin.attempts[str(job.id)]
    assert [n for n, _ in attempts] == [1, 2, 3]
    # Backoff 0.05 s then 0.1 s: a retry never starts before its time.
    assert attempts[1][1] - attempts[0][1] >= 0.045
    assert attempts[2][1] - attempts[1][1] >= 0.095


async def test_job_fails_after_max_tries_with_its_last_error(jobs_app, plugin):
    job = await jobs_app.enqueue("broken", {}, max_tries=2)
    failed = await wait_for_state(job.id, "done", "failed")
    assert failed.state == "failed" and failed.tries == 2
    assert "Traceback" in failed.last_error
    assert failed.last_error.rstrip().endswith("RuntimeError: always broken")
    assert len(plugin.attempts[str(job.id)]) == 2


async def test_max_tries_defaults_to_the_setting(mediahub_app_factory, plugin):
    app = await mediahub_app_factory(plugins=[("test-jobs", plugin)],
                                     overrides={"jobs": {**FAST_RETRIES, "max_tries": 1}})
    job = await app.extensions["mediahub"].jobs.enqueue("broken", {})
    failed = await wait_for_state(job.id, "done", "failed")
    assert (failed.state, failed.tries, failed.max_tries) == ("failed", 1, 1)


async def test_key_returns_the_unfinished_job_and_is_free_again_once_it_finished(jobs_app, plugin):
    first = await jobs_app.enqueue("blocker", {"n": 1}, key="transcode:7")
    again = await jobs_app.enqueue("blocker", {"n": 2}, key="transcode:7")
    assert again.id == first.id and again.payload == {"n": 1}
    await asyncio.wait_for(plugin.started.wait(), HANG_GUARD)  # now running
    while_running = await jobs_app.enqueue("blocker", {"n": 3}, key="transcode:7")
    assert while_running.id == first.id
    assert await Job.filter(name="blocker").count() == 1

    plugin.release.set()
    await wait_for_state(first.id, "done")
    later = await jobs_app.enqueue("blocker", {"n": 4}, key="transcode:7")
    assert later.id != first.id
    assert (await Job.get(id=first.id)).key is None  # the finished job gave its key up
    assert (await wait_for_state(later.id, "done")).result == "released"


async def test_concurrent_enqueues_of_one_key_make_one_job(jobs_app, plugin):
    jobs = await asyncio.gather(*(jobs_app.enqueue("blocker", {}, key="same") for _ in range(10)))
    assert len({job.id for job in jobs}) == 1
    plugin.release.set()


async def test_progress_is_stored_while_the_job_runs(jobs_app, plugin):
    job = await jobs_app.enqueue("progress", {})
    await asyncio.wait_for(plugin.halfway.wait(), HANG_GUARD)

    async def progress_at_50():
        row = await Job.get(id=job.id)
        return row if row.progress == 50 else None

    row = await wait_until(progress_at_50, "progress 50 to be stored")
    assert row.state == "running"
    plugin.release.set()
    assert (await wait_for_state(job.id, "done")).progress == 100


async def test_delayed_job_waits_for_its_time(jobs_app, plugin):
    job = await jobs_app.enqueue("echo", {}, delay=0.3)
    assert job.run_after - job.created_at >= timedelta(seconds=0.29)
    row = await wait_for_state(job.id, "done")
    assert len(plugin.attempts[str(job.id)]) == 1
    assert row.updated_at >= job.run_after


async def test_unknown_job_name_fails_clearly(jobs_app):
    with pytest.raises(UnknownJob, match="no enabled plugin registers a job named 'nope'"):
        await jobs_app.enqueue("nope", {})
    # A row whose plugin has gone since it was queued.
    orphan = await Job.create(name="gone-plugin.job", payload={}, run_after=job_store.utcnow())
    jobs_app.runner.wake()
    failed = await wait_for_state(orphan.id, "failed")
    assert "no handler for job 'gone-plugin.job'" in failed.last_error
    assert failed.tries == 1


# -- restarts ------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def app_without_job_runner(settings, plugins=()):
    """The app as `mediahub worker` builds it before it runs anything: database, no runner."""
    app = create_app(settings, extra_plugins=list(plugins))
    await start_services(app, run_jobs=False)
    try:
        yield app
    finally:
        await stop_services(app)


async def test_running_job_left_by_a_dead_process_runs_again_after_restart(tmp_path, plugin):
    settings = make_settings(tmp_path / "data", {"jobs": {"retry_backoff": 0.05}})
    async with app_without_job_runner(settings, [("test-jobs", plugin)]):
        # What a process that died mid-job leaves behind.
        ghost = await Job.create(name="echo", payload={"x": "ghost"}, state="running", tries=1,
                                 run_after=job_store.utcnow() - timedelta(minutes=5),
                                 lease_until=job_store.utcnow() - timedelta(minutes=4))
        out_of_tries = await Job.create(name="echo", payload={}, state="running", tries=3,
                                        max_tries=3, run_after=job_store.utcnow(),
                                        lease_until=job_store.utcnow() - timedelta(minutes=4))
        # A job whose worker is alive elsewhere (its lease runs for another hour).
        live = await Job.create(name="echo", payload={}, state="running", tries=1,
                                run_after=job_store.utcnow(),
                                lease_until=job_store.utcnow() + timedelta(hours=1))

    async with running_app(settings, [("test-jobs", plugin)]):
        # Recovery ran before start returned (the periodic one is 30 s away with this lease).
        failed = await Job.get(id=out_of_tries.id)
        assert failed.state == "failed" and "lease expired" in failed.last_error
        assert (await Job.get(id=ghost.id)).lease_until != ghost.lease_until
        done = await wait_for_state(ghost.id, "done")
        assert done.result["attempt"] == 2 and done.result["echo"] == {"x": "ghost"}
        assert (await Job.get(id=live.id)).state == "running"
        assert str(live.id) not in plugin.attempts


async def test_a_dead_workers_job_is_found_by_the_periodic_recovery(jobs_app, plugin):
    ghost = await Job.create(name="echo", payload={}, state="running", tries=1,
                             run_after=job_store.utcnow(),
                             lease_until=job_store.utcnow() + timedelta(seconds=0.5))
    done = await wait_for_state(ghost.id, "done")
    assert done.tries == 2 and [n for n, _ in plugin.attempts[str(ghost.id)]] == [2]


async def test_job_interrupted_by_shutdown_goes_back_to_the_queue(tmp_path, plugin):
    settings = make_settings(tmp_path / "data", {"jobs": FAST_RETRIES})
    async with running_app(settings, [("test-jobs", plugin)]) as app:
        job = await app.extensions["mediahub"].jobs.enqueue("blocker", {})
        await asyncio.wait_for(plugin.started.wait(), HANG_GUARD)
    plugin.release.set()
    async with running_app(settings, [("test-jobs", plugin)]):
        row = await Job.get(id=job.id)
        assert row.state in ("queued", "running", "done")
        done = await wait_for_state(job.id, "done")
        # The interrupted attempt did not count against max_tries.
        assert done.tries == 1 and [n for n, _ in plugin.attempts[str(job.id)]] == [1, 1]


def write_plugin_dir(tmp_path: Path) -> Path:
    """A plugin in a plugin dir: loaded the same way by the test and by its subprocesses."""
    plugin_dir = tmp_path / "plugin_dir"
    plugin_dir.mkdir()
    (plugin_dir / "subprocess_jobs.py").write_text(textwrap.dedent("""
        import asyncio, json, os
        from pathlib import Path
        from mediahub import current_host, hookimpl

        def log(ctx, payload):
            with open(payload["log"], "a") as handle:
                handle.write(json.dumps({"job": str(ctx.job.id), "pid": os.getpid(),
                                         "attempt": ctx.attempt}) + "\\n")

        async def record(ctx, payload):
            log(ctx, payload)
            await asyncio.sleep(payload.get("sleep", 0))
            assert current_host() is ctx.host
            return {"pid": os.getpid(), "attempt": ctx.attempt}

        async def hang_first(ctx, payload):
            log(ctx, payload)
            if ctx.attempt == 1:
                Path(payload["started"]).touch()
                await asyncio.Event().wait()
            return {"pid": os.getpid(), "attempt": ctx.attempt}

        async def fail_first(ctx, payload):
            log(ctx, payload)
            if ctx.attempt == 1:
                raise ValueError("first attempt fails")
            return {"pid": os.getpid(), "attempt": ctx.attempt}

        @hookimpl
        def register_jobs():
            return {"record": record, "hang_first": hang_first, "fail_first": fail_first}
    """))
    return plugin_dir


WORKER_SCRIPT = textwrap.dedent("""
    import asyncio, json, logging, sys
    from pathlib import Path
    from mediahub.worker import run_worker
    from mediahub.testing import make_settings

    logging.basicConfig(level=logging.INFO)
    data_dir, overrides, mode = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    asyncio.run(run_worker(make_settings(Path(data_dir), overrides), burst=mode == "burst"))
""")


async def start_worker(data_dir: Path, overrides: dict, mode: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER_SCRIPT, str(data_dir), json.dumps(overrides), mode,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


async def enqueue_without_running(settings, name: str, payload: dict) -> str:
    """Enqueue the way `mediahub serve` in arq mode does: the app runs no job itself."""
    async with app_without_job_runner(settings) as app:
        return str((await app.extensions["mediahub"].jobs.enqueue(name, payload)).id)


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_job_of_a_killed_worker_process_runs_again(tmp_path):
    overrides = {"jobs": {"lease_seconds": 1.0},
                 "plugins": {"dirs": [str(write_plugin_dir(tmp_path))]}}
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, overrides)
    started, log = tmp_path / "started", tmp_path / "log.jsonl"
    job_id = await enqueue_without_running(settings, "hang_first",
                                           {"started": str(started), "log": str(log)})

    worker = await start_worker(data_dir, overrides, "serve")
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not started.exists():
            assert worker.returncode is None, (await worker.stdout.read()).decode()
            assert time.monotonic() < deadline, "the worker never started the job"
            await asyncio.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        await worker.wait()

    async with running_app(settings):
        assert (await Job.get(id=job_id)).state in ("running", "queued", "done")
        done = await wait_for_state(job_id, "done", "failed")
    assert done.state == "done"
    assert done.result == {"pid": os.getpid(), "attempt": 2}
    assert [(entry["pid"], entry["attempt"]) for entry in read_log(log)] == [
        (worker.pid, 1), (os.getpid(), 2)]


async def test_two_worker_processes_never_run_a_job_twice(tmp_path, database_overrides):
    overrides = {**database_overrides, "jobs": {"concurrency": 3},
                 "plugins": {"dirs": [str(write_plugin_dir(tmp_path))]}}
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, overrides)
    log = tmp_path / "log.jsonl"
    async with app_without_job_runner(settings) as app:
        queue: JobQueue = app.extensions["mediahub"].jobs
        ids = [str((await queue.enqueue("record", {"log": str(log), "sleep": 0.02})).id)
               for _ in range(30)]

    workers = [await start_worker(data_dir, overrides, "burst") for _ in range(2)]
    outputs = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)),
                                     HANG_GUARD * 2)
    for worker, (output, _) in zip(workers, outputs):
        assert worker.returncode == 0, output.decode()

    ran = [entry["job"] for entry in read_log(log)]
    assert sorted(ran) == sorted(ids)  # every job exactly once
    async with running_app(settings):
        assert await Job.filter(id__in=ids, state="done").count() == 30


# -- arq -----------------------------------------------------------------------------------

@pytest.mark.redis
async def test_arq_worker_process_runs_a_job_enqueued_by_the_app(tmp_path, redis_url, redis_namespace):  # noqa: F811
    overrides = {"jobs": {"backend": "arq", "redis_url": redis_url,
                          "queue_name": redis_namespace + "jobs"},
                 "plugins": {"dirs": [str(write_plugin_dir(tmp_path))]}}
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, overrides)
    log = tmp_path / "log.jsonl"
    async with running_app(settings) as app:
        queue: JobQueue = app.extensions["mediahub"].jobs
        assert not queue.runner.running  # `serve` in arq mode only enqueues
        job = await queue.enqueue("record", {"log": str(log)})
        assert (await Job.get(id=job.id)).state == "queued"

        worker = await start_worker(data_dir, overrides, "burst")
        output, _ = await asyncio.wait_for(worker.communicate(), HANG_GUARD)
        assert worker.returncode == 0, output.decode()
        done = await Job.get(id=job.id)
    assert done.state == "done", output.decode()
    assert done.result == {"pid": worker.pid, "attempt": 1}
    assert "mediahub_run_job" in output.decode()  # it was woken by the arq message


def arq_overrides(tmp_path, redis_url, redis_namespace, **jobs):
    return {"jobs": {"backend": "arq", "redis_url": redis_url,
                     "queue_name": redis_namespace + "jobs", **jobs},
            "plugins": {"dirs": [str(write_plugin_dir(tmp_path))]}}


@pytest.mark.redis
async def test_arq_worker_retries_a_failed_job_after_its_backoff(tmp_path, redis_url, redis_namespace):  # noqa: F811
    overrides = arq_overrides(tmp_path, redis_url, redis_namespace, retry_backoff=0.2)
    data_dir, log = tmp_path / "data", tmp_path / "log.jsonl"
    settings = make_settings(data_dir, overrides)
    job_id = await enqueue_without_running(settings, "fail_first", {"log": str(log)})

    # Burst mode waits for the deferred retry message, so one run covers both attempts.
    worker = await start_worker(data_dir, overrides, "burst")
    output, _ = await asyncio.wait_for(worker.communicate(), HANG_GUARD)
    assert worker.returncode == 0, output.decode()
    async with running_app(settings):
        done = await Job.get(id=job_id)
    assert done.state == "done", output.decode()
    assert done.result == {"pid": worker.pid, "attempt": 2}
    assert [entry["attempt"] for entry in read_log(log)] == [1, 2]


@pytest.mark.redis
async def test_sigterm_hands_a_running_job_back_to_the_queue(tmp_path, redis_url, redis_namespace):  # noqa: F811
    overrides = arq_overrides(tmp_path, redis_url, redis_namespace)
    data_dir, started, log = tmp_path / "data", tmp_path / "started", tmp_path / "log.jsonl"
    settings = make_settings(data_dir, overrides)
    worker = await start_worker(data_dir, overrides, "serve")
    try:
        job_id = await enqueue_without_running(settings, "hang_first",
                                               {"started": str(started), "log": str(log)})
        deadline = time.monotonic() + HANG_GUARD
        while not started.exists():
            assert worker.returncode is None, (await worker.stdout.read()).decode()
            assert time.monotonic() < deadline, "the worker never started the job"
            await asyncio.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(worker.communicate(), HANG_GUARD)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    assert worker.returncode == 0, output.decode()
    async with app_without_job_runner(settings):
        row = await Job.get(id=job_id)
    assert (row.state, row.tries, row.lease_until) == ("queued", 0, None), output.decode()
