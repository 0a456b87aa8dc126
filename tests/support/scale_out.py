"""The scaled-out layout as real processes: two `mediahub serve`, one `mediahub worker`, PostgreSQL, Redis, S3.

One layout per test module (starting three processes costs seconds); the tests in it use
distinct users, parties and tracks, so they do not see each other's data.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.databases import POSTGRES_ENV, REDIS_ENV, with_database
from tests.support.server_process import ServerProcess

WORKER_READY_LINE = "Starting worker for"  # arq logs this once it listens on its queue
START_TIMEOUT = 60.0


class WorkerProcess:
    """`mediahub -c CONFIG worker` as its own process; ready once arq listens on the queue."""

    def __init__(self, data_dir: Path, config: Path):
        self.env = {**os.environ, "MEDIAHUB__SERVER__DATA_DIR": str(data_dir)}
        self.args = [sys.executable, "-m", "mediahub.cli", "-c", str(config), "worker"]
        self.log_path = Path(data_dir).parent / "worker.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "WorkerProcess":
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(self.args, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.output()}")
            if WORKER_READY_LINE in self.output():
                return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"worker did not start: {self.output()}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: running jobs are handed back, then it exits
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class ScaledLayout:
    """What a scale-out test talks to: both instances, the worker, and the shared services."""

    a: ServerProcess
    b: ServerProcess
    worker: WorkerProcess
    config_path: Path
    database_url: str
    redis_url: str
    s3: dict
    prefix: str

    def ws_url(self, server: ServerProcess, path: str) -> str:
        return server.url.replace("http://", "ws://", 1) + path


def scaled_config(*, database_url: str, redis_url: str, prefix: str, s3: dict,
                  secret_key: str) -> str:
    """The shared TOML every process reads: the layout docs/deploy.md describes."""
    s3_table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in s3.items())
    return f"""\
[server]
secret_key = {json.dumps(secret_key)}
log_level = "info"

[database]
url = {json.dumps(database_url)}

[bus]
backend = "redis"
redis_url = {json.dumps(redis_url)}
channel_prefix = {json.dumps(prefix)}

[jobs]
backend = "arq"
redis_url = {json.dumps(redis_url)}
queue_name = {json.dumps(prefix + "jobs")}
retry_backoff = 0.5

[storage]
default = "s3"

[storage.s3]
{s3_table}
"""


def run(coroutine):
    """Run setup/teardown I/O from a synchronous module-scoped fixture (no loop is running there)."""
    return asyncio.run(coroutine)


async def create_database(server_url: str, name: str) -> None:
    await run_as_admin(server_url, f'CREATE DATABASE "{name}"')


async def drop_database(server_url: str, name: str) -> None:
    await run_as_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run_as_admin(server_url: str, statement: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(server_url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def delete_redis_keys(url: str, prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)
    finally:
        await client.aclose()


def start_all(processes: list) -> None:
    """Start every process at once (as a deployment does), stopping the started ones on failure."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(processes)) as pool:
        futures = [pool.submit(process.__enter__) for process in processes]
        errors = [future.exception() for future in futures]
    if any(errors):
        stop_all([process for process, error in zip(processes, errors) if error is None])
        raise next(error for error in errors if error is not None)


def stop_all(processes: list) -> None:
    """SIGTERM every process at once: each may take its graceful timeout to close sockets."""
    from concurrent.futures import ThreadPoolExecutor

    if processes:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(lambda process: process.__exit__(None, None, None), processes))


@pytest.fixture(scope="module")
def scaled_layout(request, tmp_path_factory):
    """Two serve instances (A, B) and one worker, each with its own data_dir, sharing a fresh
    PostgreSQL database, a unique Redis prefix (bus channels + arq queue) and a fresh bucket."""
    postgres_server = os.environ.get(POSTGRES_ENV)
    redis_url = os.environ.get(REDIS_ENV)
    if not postgres_server or not redis_url:
        pytest.skip(f"the scaled-out layout needs {POSTGRES_ENV} and {REDIS_ENV} "
                    "(.ci/run points them at the local PostgreSQL and Redis services)")
    seaweedfs = request.getfixturevalue("seaweedfs")  # only now: a skipped run starts no S3
    root = tmp_path_factory.mktemp("scaled")
    name = f"mediahub_test_{uuid.uuid4().hex[:12]}"
    prefix = f"mediahub-test:{uuid.uuid4().hex[:12]}:"
    s3 = {
        "type": "s3",
        "endpoint_url": seaweedfs["endpoint_url"],
        "region": "us-east-1",
        "bucket": f"scale-{uuid.uuid4().hex[:20]}",
        "access_key_id": seaweedfs["access_key"],
        "secret_access_key": seaweedfs["secret_key"],
        "addressing_style": "path",
        "create_bucket": True,
        "max_attempts": 1,
    }
    database_url = with_database(postgres_server, name)
    config_path = root / "mediahub.toml"
    config_path.write_text(scaled_config(database_url=database_url, redis_url=redis_url,
                                         prefix=prefix, s3=s3, secret_key=secrets.token_hex(32)))
    run(create_database(postgres_server, name))
    # Separate data dirs: nothing may pass between the processes through a local file.
    a = ServerProcess(root / "a" / "data", config=config_path)
    b = ServerProcess(root / "b" / "data", config=config_path)
    worker = WorkerProcess(root / "w" / "data", config_path)
    for process in (a, b, worker):
        process.log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        start_all([a, b, worker])
        try:
            yield ScaledLayout(a=a, b=b, worker=worker, config_path=config_path,
                               database_url=database_url, redis_url=redis_url, s3=s3,
                               prefix=prefix)
        finally:
            stop_all([a, b, worker])
    finally:
        run(drop_database(postgres_server, name))
        run(delete_redis_keys(redis_url, prefix))
