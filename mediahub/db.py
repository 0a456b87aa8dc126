"""Tortoise ORM setup: one config built from the core and every plugin, migrations, SQLite tuning."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any
from urllib.parse import urlencode, urlsplit, parse_qsl, urlunsplit

from tortoise import Tortoise
from tortoise.backends.sqlite import client as sqlite_client
from tortoise.exceptions import TransactionManagementError

log = logging.getLogger("mediahub.db")

CORE_APP = {"core": {"models": "mediahub.models", "migrations": "mediahub.migrations"}}


async def _begin_immediate(self) -> None:
    # SQLite's default deferred BEGIN takes the write lock only at the first write, so two
    # processes that both read then write deadlock into "database is locked" whatever the
    # busy_timeout. BEGIN IMMEDIATE takes the lock up front and busy_timeout then waits.
    try:
        await self._connection.commit()
        await self._connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise TransactionManagementError(exc) from exc


sqlite_client.SqliteTransactionWrapper.begin = _begin_immediate


def sqlite_url(url: str) -> str:
    """Add WAL and a busy timeout to a sqlite:// URL unless the user set them."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("journal_mode", "WAL")
    query.setdefault("busy_timeout", "10000")
    query.setdefault("synchronous", "NORMAL")
    return urlunsplit(parts._replace(query=urlencode(query)))


def tortoise_config(database_url: str, apps: dict[str, dict[str, str]]) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        database_url = sqlite_url(database_url)
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
    if migrate:
        await apply_migrations(config)
    # The lifespan runs in its own task and requests in others: Tortoise 1.x keeps its
    # context in a contextvar, so the app's connections must be the global fallback.
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def apply_migrations(config: dict[str, Any], progress=None) -> None:
    from tortoise.migrations.api import migrate as migrate_api

    try:
        await migrate_api(config=config, progress=progress)
    finally:
        await Tortoise.close_connections()


async def close_db() -> None:
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    await Tortoise.close_connections()
    # Tortoise caches prepared INSERT/DELETE text per connection *name*, not per dialect:
    # reopening "default" on PostgreSQL after SQLite would reuse `?` placeholders.
    EXECUTOR_CACHE.clear()


async def make_migrations(config: dict[str, Any], app_labels: list[str] | None = None,
                          name: str | None = None) -> list[str]:
    """Write migration files for model changes (a developer command, not for servers)."""
    from tortoise.cli.cli import tortoise_cli_context, _ensure_migrations_package
    from tortoise.migrations.autodetector import MigrationAutodetector
    from tortoise.migrations.writer import format_migration_name

    apps_dict = {label: dict(app) for label, app in config["apps"].items()
                 if not app_labels or label in app_labels}
    for label, app_config in apps_dict.items():
        module, _ = _ensure_migrations_package(label, app_config)
        app_config["migrations"] = module
    full = {**config, "apps": {**config["apps"], **apps_dict}}
    written = []
    async with tortoise_cli_context(full) as ctx:
        writers = await MigrationAutodetector(ctx.apps, apps_dict).changes()
    for writer in writers:
        if name:
            writer.name = format_migration_name(int(writer.name.split("_", 1)[0]), name)
        written.append(str(writer.write()))
    return written
