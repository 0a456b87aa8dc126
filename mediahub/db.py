"""Tortoise ORM setup: one config built from the core and every plugin, migrations, SQLite
tuning, and telling a database outage (503) from a bug (500)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any
from urllib.parse import urlencode, urlsplit, parse_qsl, urlunsplit

from tortoise import Tortoise

from mediahub._compat import tortoise as tortoise_compat

log = logging.getLogger("mediahub.db")

POSTGRES_CONNECT_TIMEOUT = 5  # seconds
CORE_APP = {"core": {"models": "mediahub.models", "migrations": "mediahub.migrations"}}


# Messages of sqlite3.OperationalError that mean "busy right now", not "your query is wrong".
SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")
# Where a bare OSError must come from to be the database's: the driver or the ORM.
DATABASE_MODULES = ("asyncpg", "tortoise", "aiosqlite", "psycopg")


def is_database_unavailable(error: BaseException) -> bool:
    """True if `error` (or what caused it) says the database is down, unreachable or locked.

    Those failures are the client's cue to retry (HTTP 503), unlike a query bug (500).
    Tortoise wraps driver errors, so the whole cause/context chain is looked at.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_unavailable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_unavailable(error: BaseException) -> bool:
    from tortoise.exceptions import DBConnectionError

    if isinstance(error, DBConnectionError):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return any(text in str(error).lower() for text in SQLITE_BUSY_MESSAGES)
    if _is_asyncpg_unavailable(error):
        return True
    # A reset, refused or timed-out socket: ours only if the driver or ORM was using it
    # (the storage backends convert their own network failures to StorageUnavailable).
    return isinstance(error, OSError) and raised_in(error, DATABASE_MODULES)


def _is_asyncpg_unavailable(error: BaseException) -> bool:
    try:
        from asyncpg import exceptions as pg
    except ImportError:  # PostgreSQL support not installed
        return False
    unavailable = (pg.PostgresConnectionError,  # SQLSTATE class 08: connection exceptions
                   pg.ConnectionDoesNotExistError,
                   pg.CannotConnectNowError, pg.AdminShutdownError, pg.CrashShutdownError,
                   pg.TooManyConnectionsError)
    if isinstance(error, unavailable):
        return True
    # "connection is closed", "pool is closing": the client side of a lost connection.
    return isinstance(error, pg.InterfaceError) and "clos" in str(error)


def raised_in(error: BaseException, modules: tuple[str, ...]) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        name = traceback.tb_frame.f_globals.get("__name__", "")
        if name.split(".", 1)[0] in modules:
            return True
        traceback = traceback.tb_next
    return False


def sqlite_url(url: str) -> str:
    """Add WAL and a busy timeout to a sqlite:// URL unless the user set them."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("journal_mode", "WAL")
    query.setdefault("busy_timeout", "10000")
    query.setdefault("synchronous", "NORMAL")
    return urlunsplit(parts._replace(query=urlencode(query)))


def postgres_url(url: str) -> str:
    """Add a connect timeout to a postgres:// URL unless the user set one.

    asyncpg waits 60 s by default for a host that does not answer: every request would
    hang that long while the database is unreachable instead of failing with a 503.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("timeout", str(POSTGRES_CONNECT_TIMEOUT))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tortoise_config(database_url: str, apps: dict[str, dict[str, str]]) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        database_url = sqlite_url(database_url)
    elif database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        database_url = postgres_url(database_url)
    all_apps = {**CORE_APP, **apps}
    return {
        "connections": {"default": database_url},
        "apps": {label: {"models": [app["models"]], "migrations": app.get("migrations"),
                         "default_connection": "default"}
                 for label, app in all_apps.items()},
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(config: dict[str, Any], *, migrate: bool = True) -> None:
    """Apply pending migrations of the core and every plugin, then connect for the app."""
    tortoise_compat.apply()
    if migrate:
        await apply_migrations(config)
    # The lifespan runs in its own task and requests in others: Tortoise 1.x keeps its
    # context in a contextvar, so the app's connections must be the global fallback.
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def apply_migrations(config: dict[str, Any], progress=None) -> None:
    from tortoise.migrations.api import migrate as migrate_api

    from mediahub.migration_lock import migration_lock

    tortoise_compat.apply()  # several migrators (instances starting together) read then write
    try:
        async with migration_lock(config["connections"]["default"]):  # one migrator at a time
            await migrate_api(config=config, progress=progress)
    finally:
        # close_db also forgets the INSERT statements that data migrations cached for the
        # older shapes of their models; the app must build its own for today's models.
        await close_db()


async def close_db() -> None:
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    await Tortoise.close_connections()
    # Tortoise caches prepared INSERT/DELETE text per connection *name*, not per dialect:
    # reopening "default" on PostgreSQL after SQLite would reuse `?` placeholders.
    EXECUTOR_CACHE.clear()


async def make_migrations(config: dict[str, Any], app_labels: list[str] | None = None,
                          name: str | None = None) -> list[str]:
    """Write migration files for model changes (a developer command, not for servers)."""
    from tortoise.migrations.writer import format_migration_name

    written = []
    for writer in await detect_model_changes(config, app_labels):
        if name:
            writer.name = format_migration_name(int(writer.name.split("_", 1)[0]), name)
        written.append(str(writer.write()))
    return written


async def detect_model_changes(config: dict[str, Any], app_labels: list[str] | None = None) -> list:
    """The migrations (unwritten MigrationWriters) that models need beyond the existing ones."""
    from tortoise.cli.cli import tortoise_cli_context, _ensure_migrations_package
    from tortoise.migrations.autodetector import MigrationAutodetector

    # Every app's migrations are loaded, not just the requested ones: a plugin model that
    # points at core.User needs core's history to make sense of its own.
    apps_dict = {label: dict(app) for label, app in config["apps"].items()}
    for label, app_config in apps_dict.items():
        if not app_labels or label in app_labels:
            module, _ = _ensure_migrations_package(label, app_config)
            app_config["migrations"] = module
    async with tortoise_cli_context({**config, "apps": apps_dict}) as ctx:
        writers = await MigrationAutodetector(ctx.apps, apps_dict).changes()
    return [writer for writer in writers if not app_labels or writer.app_label in app_labels]
