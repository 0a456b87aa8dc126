"""One migrator at a time: processes starting together (serve instances, workers) take turns.

Tortoise's migrate reads which migrations are applied, then applies the rest; two processes
doing that at once on a fresh database both try `CREATE TABLE` and one dies ("relation ...
already exists"). A lock held for the whole migrate makes the later ones find nothing to do.
PostgreSQL: a session advisory lock (released by the server if the holder dies). SQLite: an
flock on a file next to the database (released by the kernel if the holder dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

log = logging.getLogger("mediahub.db")

POSTGRES_SCHEMES = ("postgres", "postgresql", "asyncpg", "psycopg")
# Any fixed 64-bit number; it only has to be the same in every mediahub process.
ADVISORY_LOCK_ID = 0x6D65646961687562  # "mediahub"
# Connection options asyncpg understands in a URL; Tortoise's own (minsize, ...) are dropped.
ASYNCPG_URL_OPTIONS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "passfile",
                       "connect_timeout", "target_session_attrs"}


@contextlib.asynccontextmanager
async def migration_lock(database_url: str) -> AsyncIterator[None]:
    scheme = urlsplit(database_url).scheme
    if scheme in POSTGRES_SCHEMES:
        async with _postgres_lock(database_url):
            yield
    elif scheme == "sqlite":
        async with _file_lock(database_url):
            yield
    else:
        yield


@contextlib.asynccontextmanager
async def _postgres_lock(database_url: str) -> AsyncIterator[None]:
    import asyncpg

    parts = urlsplit(database_url)
    options = dict(parse_qsl(parts.query))
    query = [(k, v) for k, v in options.items() if k in ASYNCPG_URL_OPTIONS]
    url = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))
    connection = await asyncpg.connect(url, timeout=float(options.get("timeout", 60)))
    try:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_ID):
            log.info("another process is migrating the database; waiting for it")
            await connection.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
        yield
    finally:
        # Closing the session releases the lock, also when unlocking is not possible.
        with contextlib.suppress(Exception):
            await connection.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
        await connection.close()


@contextlib.asynccontextmanager
async def _file_lock(database_url: str) -> AsyncIterator[None]:
    path = database_url[len("sqlite://"):].split("?", 1)[0]  # sqlite:///abs or sqlite://relative
    if not path or ":memory:" in path:
        yield
        return
    lock_path = Path(path + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is migrating the database; waiting for it")
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
