"""Tortoise ORM: SQLite transactions start with BEGIN IMMEDIATE and survive a cancelled request.

Two patches of `tortoise.backends.sqlite.client`: SqliteTransactionWrapper.begin (BEGIN
IMMEDIATE), and SqliteTransactionContext's __aenter__/__aexit__. Tortoise takes the one
connection's transaction lock, then awaits BEGIN; a request cancelled during that await
(a browser that navigates away mid-PUT: Quart cancels its task) left the lock taken and the
transaction open, and every later query of the process waited forever. BEGIN IMMEDIATE
waits up to busy_timeout for another process, which made the window seconds wide.
"""

from __future__ import annotations

import asyncio
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


async def _to_the_end(awaitable):
    """Await `awaitable` to its end even if the caller is cancelled meanwhile (the database
    work runs on in its thread anyway), then pass the cancellation on."""
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True  # ours: the shield kept it from the task, which goes on
        except BaseException:  # noqa: BLE001 - the task's own failure, raised by result()
            pass
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


async def _open(context) -> None:
    await context.ensure_connection()
    await context.connection.begin()


async def _roll_back_quietly(connection) -> None:
    raw = getattr(connection, "_connection", None)
    if raw is not None:
        try:
            await raw.rollback()
        except sqlite3.Error:
            pass


async def _enter(self):
    await self._trxlock.acquire()
    try:
        await _to_the_end(_open(self))
    except BaseException:
        try:  # BEGIN may have run: undo it before the next transaction shares the connection
            await _to_the_end(_roll_back_quietly(self.connection))
        finally:
            self._trxlock.release()
        raise
    from tortoise.connection import get_connections

    self.token = get_connections().set(self.connection_name, self.connection)
    return self.connection


async def _exit(self, exc_type, exc_val, exc_tb) -> None:
    from tortoise.connection import get_connections
    from tortoise.exceptions import TransactionManagementError

    try:
        if not self.connection._finalized:
            if exc_type:
                if exc_type is not TransactionManagementError:  # a failed one cannot roll back
                    await _to_the_end(self.connection.rollback())
            else:
                await _to_the_end(self.connection.commit())
    finally:
        get_connections().reset(self.token)
        self._trxlock.release()


def apply() -> bool:
    """Patch the SQLite transaction wrapper once per process; False (logged) if it cannot."""
    global _applied
    if _applied:
        return True
    in_tested_range(DISTRIBUTION, TESTED)
    try:
        from tortoise.backends.sqlite import client as sqlite_client

        wrapper = sqlite_client.SqliteTransactionWrapper
        context = sqlite_client.SqliteTransactionContext
        for owner, name in ((wrapper, "begin"), (context, "__aenter__"), (context, "__aexit__"),
                            (context, "ensure_connection")):
            if not callable(getattr(owner, name, None)):
                raise AttributeError(f"{owner.__name__}.{name}")
        from tortoise import connection as tortoise_connection

        if not callable(getattr(tortoise_connection, "get_connections", None)):
            raise AttributeError("tortoise.connection.get_connections")
    except (ImportError, AttributeError) as exc:
        return cannot_apply(DISTRIBUTION, "make SQLite transactions BEGIN IMMEDIATE and "
                                          "safe to cancel", exc)
    wrapper.begin = _begin_immediate
    context.__aenter__ = _enter
    context.__aexit__ = _exit
    _applied = True
    return True


def is_applied() -> bool:
    from tortoise.backends.sqlite import client as sqlite_client

    return (sqlite_client.SqliteTransactionWrapper.begin is _begin_immediate
            and sqlite_client.SqliteTransactionContext.__aenter__ is _enter)
