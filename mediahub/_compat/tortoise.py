"""Tortoise ORM: SQLite transactions start with BEGIN IMMEDIATE (replaces SqliteTransactionWrapper.begin)."""

from __future__ import annotations

import sqlite3

from mediahub._compat import cannot_apply, in_tested_range

DISTRIBUTION = "tortoise-orm"
TESTED = ">=1.1,<1.2"

_applied = False


async def _begin_immediate(self) -> None:
    # SQLite's default deferred BEGIN takes the write lock only at the first write, so two
    # processes that both read then write deadlock into "database is locked" whatever the
    # busy_timeout. BEGIN IMMEDIATE takes the lock up front and busy_timeout then waits.
    from tortoise.exceptions import TransactionManagementError

    try:
        await self._connection.commit()
        await self._connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise TransactionManagementError(exc) from exc


def apply() -> bool:
    """Patch the SQLite transaction wrapper once per process; False (logged) if it cannot."""
    global _applied
    if _applied:
        return True
    in_tested_range(DISTRIBUTION, TESTED)
    try:
        from tortoise.backends.sqlite import client as sqlite_client

        wrapper = sqlite_client.SqliteTransactionWrapper
        if not callable(getattr(wrapper, "begin", None)):
            raise AttributeError("SqliteTransactionWrapper.begin")
    except (ImportError, AttributeError) as exc:
        return cannot_apply(DISTRIBUTION, "make SQLite transactions BEGIN IMMEDIATE", exc)
    wrapper.begin = _begin_immediate
    _applied = True
    return True


def is_applied() -> bool:
    from tortoise.backends.sqlite import client as sqlite_client

    return sqlite_client.SqliteTransactionWrapper.begin is _begin_immediate
