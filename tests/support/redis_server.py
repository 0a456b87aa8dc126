"""Redis fixtures: the real server from MEDIAHUB_TEST_REDIS_URL, and a unique key namespace per test."""

from __future__ import annotations

import os
import uuid

import pytest

REDIS_ENV = "MEDIAHUB_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> str:
    """The test Redis server's URL; the test skips (with the reason) when none is configured."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: Redis tests need a server "
                    "(e.g. redis://127.0.0.1:6379/0; .ci/run points it at the local service)")
    return url


@pytest.fixture
async def redis_namespace(redis_url):
    """A prefix no other test run uses (channels, arq queue, locks); its keys are deleted after."""
    import redis.asyncio as redis

    prefix = f"mediahub-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_client(redis_url):
    """A plain client for poking at the server (CLIENT KILL, inspecting keys)."""
    import redis.asyncio as redis

    client = redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_instances(tmp_path, redis_url, redis_namespace, mediahub_app_factory):
    """Two app instances sharing one database and one Redis bus.

    Yields (instance B: an in-process app, instance A: a `mediahub serve` ServerProcess).
    """
    import asyncio

    from mediahub.testing import make_settings
    from tests.support.server_process import ServerProcess

    data_dir = tmp_path / "data"
    bus = {"backend": "redis", "redis_url": redis_url, "channel_prefix": redis_namespace}
    instance_b = await mediahub_app_factory(settings=make_settings(data_dir, {"bus": bus}))
    env = {"MEDIAHUB__BUS__BACKEND": "redis", "MEDIAHUB__BUS__REDIS_URL": redis_url,
           "MEDIAHUB__BUS__CHANNEL_PREFIX": redis_namespace}
    server = ServerProcess(data_dir, env=env)
    await asyncio.to_thread(server.__enter__)
    try:
        yield instance_b, server
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)
