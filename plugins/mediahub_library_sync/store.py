"""Reading and writing libraries: one transaction per change, JSON documents per section, the sweep."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from pydantic_core import from_json, to_json
from quart import current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from mediahub import current_host
from mediahub_library_sync import merge
from mediahub_library_sync.models import DeviceSession, LibraryRecord, LibrarySection
from mediahub_library_sync.state import (SECTIONS, LibraryState, load_section, oldest_tombstone,
                                         section_items, section_meta)

log = logging.getLogger("mediahub.library_sync")

EMPTY_ITEMS = {"favorites": b"[]", "history": b"[]", "queue": b"[]", "playlists": b"[]",
               "preferences": b"{}", "recent_searches": b"[]"}
SWEEP_BATCH = 200
# Parsed libraries of the users who synced last, reused while their version is unchanged:
# parsing a large library's JSON again on every sync costs more than merging it.
PARSED_CACHE_SIZE = 8


def settings():
    return current_host().plugin_config("library_sync")


def channel(user_id: Any) -> str:
    """The bus channel on which a user's devices hear about changes."""
    return f"library:{user_id}"


def iso_now(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


@dataclass
class Snapshot:
    """A library as read from the database: the record, raw item texts, parsed state."""

    record: LibraryRecord
    items: dict[str, bytes]
    row_ids: dict[str, int]
    state: LibraryState
    parsed: set[str] = field(default_factory=set)


def parsed_cache() -> OrderedDict:
    return current_app.extensions.setdefault("mediahub_library_sync.parsed", OrderedDict())


def cached_snapshot(user_id: Any, record: LibraryRecord) -> Snapshot | None:
    """The snapshot kept from this user's last sync, if the library has not changed since."""
    entry = parsed_cache().get(user_id)
    if entry is None or entry[0] != (record.version, record.horizon):
        return None
    parsed_cache().move_to_end(user_id)
    _, state, parsed, items, row_ids = entry
    # Shallow copies: merge functions never change what they are given, only replace it.
    return Snapshot(record, dict(items), dict(row_ids), replace(state), set(parsed))


def remember(user_id: Any, snapshot: Snapshot, state: LibraryState, parsed: set[str]) -> None:
    cache = parsed_cache()
    cache[user_id] = ((state.version, state.horizon), state, frozenset(parsed),
                      dict(snapshot.items), dict(snapshot.row_ids))
    cache.move_to_end(user_id)
    while len(cache) > PARSED_CACHE_SIZE:
        cache.popitem(last=False)


async def ensure_record(user_id: Any) -> None:
    # Outside the sync's transaction: on PostgreSQL a unique violation inside one would
    # abort it, and two first syncs of one user can race here.
    if not await LibraryRecord.exists(user_id=user_id):
        try:
            await LibraryRecord.create(user_id=user_id)
        except IntegrityError:
            pass


def sections_of(user_id: Any, connection, names: tuple[str, ...] | None = None):
    query = LibrarySection.filter(user_id=user_id)
    if names is not None:
        query = query.filter(name__in=names)
    return query.using_db(connection) if connection is not None else query


async def read(user_id: Any, parse: tuple[str, ...], connection=None, lock=False) -> Snapshot:
    """The user's library; only the sections in `parse` are turned into merge state."""
    records = LibraryRecord.filter(user_id=user_id)
    if lock:
        records = records.select_for_update()
    if connection is not None:
        records = records.using_db(connection)
    record = await records.first()
    if record is None:
        record = LibraryRecord(user_id=user_id, version=0, horizon=0)
    snapshot = cached_snapshot(user_id, record)
    if snapshot is None:
        rows = [row for row in await sections_of(user_id, connection) if row.name in SECTIONS]
        state = LibraryState(version=record.version, horizon=record.horizon,
                             updated_at=record.updated_at)
        snapshot = Snapshot(record, {row.name: row.items.encode() for row in rows},
                            {row.name: row.id for row in rows}, state)
        metas = {row.name: row.meta for row in rows}
        if "history" in metas:
            state.songs_played = int(from_json(metas["history"]).get("songs_played", 0))
    else:
        missing = tuple(n for n in parse if n in snapshot.row_ids and n not in snapshot.parsed)
        rows = await sections_of(user_id, connection, missing) if missing else []
        metas = {row.name: row.meta for row in rows}
    for name in parse:
        if name in metas and name not in snapshot.parsed:
            load_section(snapshot.state, name, from_json(snapshot.items[name]),
                         from_json(metas[name]))
            snapshot.parsed.add(name)
    return snapshot


async def write(snapshot: Snapshot, outcome: merge.SyncOutcome, user_id: Any, connection) -> None:
    state = outcome.state
    for name in outcome.changed:
        items = to_json(section_items(state, name))
        meta = to_json(section_meta(state, name)).decode()
        oldest = oldest_tombstone(state, name)
        row_id = snapshot.row_ids.get(name)
        if row_id is None:
            row = await LibrarySection.create(user_id=user_id, name=name, items=items.decode(),
                                              meta=meta, oldest_tombstone=oldest,
                                              using_db=connection)
            snapshot.row_ids[name] = row.id
        else:
            await LibrarySection.filter(id=row_id).using_db(connection).update(
                items=items.decode(), meta=meta, oldest_tombstone=oldest)
        snapshot.items[name] = items
    await LibraryRecord.filter(user_id=user_id).using_db(connection).update(
        version=state.version, horizon=state.horizon, updated_at=state.updated_at)
    snapshot.record.version, snapshot.record.updated_at = state.version, state.updated_at
    snapshot.record.horizon = state.horizon


def render(snapshot: Snapshot, outcome: merge.SyncOutcome | None = None) -> bytes:
    """The Library response, stitched from the stored JSON texts (no re-encoding of items)."""
    state = outcome.state if outcome else snapshot.state
    head = {
        "version": state.version,
        "full_replacement": bool(outcome and outcome.full_replacement),
        "playlist_id_map": outcome.playlist_id_map if outcome else {},
        "total_songs_played": state.songs_played,
        "updated_at": state.updated_at,
    }
    parts = [to_json(head)[:-1]]
    for name in SECTIONS:
        parts.append(b',"' + name.encode() + b'":' + snapshot.items.get(name, EMPTY_ITEMS[name]))
    parts.append(b"}")
    return b"".join(parts)


async def get_library(user_id: Any) -> bytes:
    return render(await read(user_id, parse=()))


async def sync(user_id: Any, device: dict, now: float) -> tuple[bytes, merge.SyncOutcome]:
    """Merge one device's snapshot into the user's library; returns the response body."""
    await ensure_record(user_id)
    parse = tuple(name for name in SECTIONS if device.get(name) is not None)
    async with in_transaction() as connection:
        snapshot = await read(user_id, parse, connection, lock=True)
        outcome = merge.merge_library(snapshot.state, device, salt=str(user_id), now=now,
                                      now_iso=iso_now(now))
        if outcome.changed:
            await write(snapshot, outcome, user_id, connection)
    remember(user_id, snapshot, outcome.state, snapshot.parsed | outcome.changed)
    if outcome.changed:
        await announce(user_id, outcome, device.get("device_id"))
    return render(snapshot, outcome), outcome


async def announce(user_id: Any, outcome: merge.SyncOutcome, device_id: str | None) -> None:
    message = {"type": "library_changed", "version": outcome.state.version,
               "sections": sorted(outcome.changed), "device_id": device_id}
    try:
        await current_host().bus.publish(channel(user_id), message)
    except Exception as exc:  # saved is saved: the other devices catch up at their next sync
        log.warning("could not announce library change of %s: %s", user_id, exc)


# -- device sessions ----------------------------------------------------------------------


async def ping(user_id: Any, session_id: str, now: float) -> int:
    """Record a ping; the number of the user's sessions active now."""
    expires = now + settings().session_ttl
    sessions = DeviceSession.filter(user_id=user_id, session_id=session_id)
    if not await sessions.update(last_ping_at=now, expires_at=expires):
        try:
            await DeviceSession.create(user_id=user_id, session_id=session_id,
                                       last_ping_at=now, expires_at=expires)
        except IntegrityError:  # the same session pinged twice at once
            await sessions.update(last_ping_at=now, expires_at=expires)
    return await DeviceSession.filter(user_id=user_id, expires_at__gt=now).count()


# -- the sweep ----------------------------------------------------------------------------


async def purge_user(user_id: Any, cutoff: float) -> int:
    async with in_transaction() as connection:
        snapshot = await read(user_id, ("favorites", "playlists"), connection, lock=True)
        state, removed = merge.purge_tombstones(snapshot.state, cutoff)
        if removed:
            outcome = merge.SyncOutcome(state, {"favorites", "playlists"} & set(snapshot.row_ids))
            await write(snapshot, outcome, user_id, connection)
    return removed


async def sweep(now: float) -> dict[str, int]:
    """Forget tombstones past the retention period; drop device sessions that stopped pinging."""
    cutoff = now - settings().tombstone_retention
    sessions = await DeviceSession.filter(expires_at__lt=now).delete()
    user_ids = await (LibrarySection.filter(oldest_tombstone__lt=cutoff)
                      .distinct().limit(SWEEP_BATCH).values_list("user_id", flat=True))
    tombstones = 0
    for user_id in set(user_ids):
        tombstones += await purge_user(user_id, cutoff)
    return {"library_tombstones": tombstones, "library_sessions": sessions}
