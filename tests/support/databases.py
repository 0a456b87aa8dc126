"""The databases under test: a fresh PostgreSQL database per test, and each database the core runs on."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_ENV = "MEDIAHUB_TEST_POSTGRES_URL"
REDIS_ENV = "MEDIAHUB_TEST_REDIS_URL"


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL tests need a server "
                    "(.ci/run points it at the local service)")
    return url


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
async def postgres_url():
    """A fresh, uniquely named PostgreSQL database for one test, dropped afterwards."""
    import asyncpg

    server = postgres_server_url()
    name = f"mediahub_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(server, name)
    admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_overrides(request):
    """Config overrides for each database the core must run on (PostgreSQL skips if absent)."""
    if request.param == "sqlite":
        return {}
    return {"database": {"url": request.getfixturevalue("postgres_url")}}
