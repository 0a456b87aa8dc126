"""Reading and writing libraries: a transaction per change, a row per favorite and playlist, the sweep."""

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
from mediahub_library_sync.models import (DeviceSession, LibraryDevice, LibraryFavorite,
                                          LibraryPlaylist, LibraryRecord, LibrarySection)
from mediahub_library_sync.rows import (changed_favorites, changed_playlists, favorite_row,
                                        favorites_from, playlist_document, playlist_meta,
                                        playlist_oldest_tombstone, playlists_from)
from mediahub_library_sync.state import (SECTIONS, SMALL_SECTIONS, Keyed, LibraryState,
                                         Playlists, load_section, section_items, section_meta)
from mediahub_library_sync.validation import check_sections

log = logging.getLogger("mediahub.library_sync")

EMPTY_ITEMS = {"history": b"[]", "queue": b"[]", "preferences": b"{}", "recent_searches": b"[]"}
SWEEP_BATCH = 200
DELETE_BATCH = 500  # ids per DELETE ... IN (...), well under SQLite's parameter limit
# Parsed libraries of the users who synced last, reused while their version is unchanged:
# reading and parsing a large library again on every sync costs more than merging it.
PARSED_CACHE_SIZE = 8
# Read into state for every answer: the queue's position goes in the answer's head.
ALWAYS_PARSED = ("queue",)
FAVORITE_VERSIONS = ("video_id", "created", "changed", "deleted", "deleted_at")
FAVORITE_COLUMNS = ("added_at", "document", "created", "changed", "deleted", "deleted_at")
PLAYLIST_COLUMNS = ("created", "document", "meta", "oldest_tombstone")


def settings():
    return current_host().plugin_config("library_sync")


def channel(user_id: Any) -> str:
    """The bus channel on which a user's devices hear about changes."""
    return f"library:{user_id}"


def iso_now(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def json_array(texts: Any) -> bytes:
    return b"[" + b",".join(texts) + b"]"


@dataclass
class Snapshot:
    """A library as read from the database: the record, the stored texts, the parsed state."""

    record: LibraryRecord
    items: dict[str, bytes]  # small section -> its stored items
    row_ids: dict[str, int]  # small section -> its row
    favorites: dict[str, bytes]  # video id -> stored document, live ones in display order
    favorite_rows: set[str]  # video ids with a row (live or tombstone)
    playlists: dict[str, bytes]  # playlist id -> stored document, live ones in display order
    playlist_rows: set[str]  # playlist ids with a row (live or tombstone)
    state: LibraryState
    parsed: set[str] = field(default_factory=set)

    def copy(self, state: LibraryState | None = None) -> Snapshot:
        # Shallow: merge functions never change what they are given, only replace it.
        return Snapshot(self.record, dict(self.items), dict(self.row_ids), dict(self.favorites),
                        set(self.favorite_rows), dict(self.playlists), set(self.playlist_rows),
                        replace(state or self.state), set(self.parsed))


def parsed_cache() -> OrderedDict:
    return current_app.extensions.setdefault("mediahub_library_sync.parsed", OrderedDict())


def cached_snapshot(user_id: Any, record: LibraryRecord) -> Snapshot | None:
    """The snapshot kept from this user's last sync, if the library has not changed since."""
    entry = parsed_cache().get(user_id)
    if entry is None or entry[0] != (record.version, record.horizon):
        return None
    parsed_cache().move_to_end(user_id)
    snapshot = entry[1].copy()
    snapshot.record = record
    return snapshot


def remember(user_id: Any, snapshot: Snapshot, state: LibraryState, parsed: set[str]) -> None:
    kept = snapshot.copy(state)
    kept.parsed = set(parsed)
    cache = parsed_cache()
    cache[user_id] = ((state.version, state.horizon), kept)
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


def rows_of(model: type, user_id: Any, connection):
    query = model.filter(user_id=user_id)
    return query.using_db(connection) if connection is not None else query


async def read_everything(snapshot: Snapshot, user_id: Any, connection) -> dict[str, Any]:
    """Fill a new snapshot with every stored text of the library, one query per table.

    Returns what parsing needs besides: the small sections' metas by name, and the version
    columns of favorites and playlists.
    """
    metas: dict[str, Any] = {}
    for row in await rows_of(LibrarySection, user_id, connection):
        if row.name in EMPTY_ITEMS:
            snapshot.items[row.name] = row.items.encode()
            snapshot.row_ids[row.name] = row.id
            metas[row.name] = row.meta
    favorites = await rows_of(LibraryFavorite, user_id, connection).values_list(
        "added_at", "document", *FAVORITE_VERSIONS)
    favorites.sort(key=lambda row: (row[0], row[2]), reverse=True)  # as merge.favorite_order
    snapshot.favorites = {row[2]: row[1].encode() for row in favorites if row[1] is not None}
    snapshot.favorite_rows = {row[2] for row in favorites}
    metas["favorites"] = [row[2:] for row in favorites]
    playlists = await rows_of(LibraryPlaylist, user_id, connection).values_list(
        "playlist_id", "created", "document", "meta")
    playlists.sort(key=lambda row: (row[1], row[0]))  # as merge.playlist_order
    snapshot.playlists = {row[0]: row[2].encode() for row in playlists if row[2] is not None}
    snapshot.playlist_rows = {row[0] for row in playlists}
    metas["playlists"] = {row[0]: row[3] for row in playlists}
    if "history" in metas:
        snapshot.state.songs_played = int(from_json(metas["history"]).get("songs_played", 0))
    return metas


async def read_metas(snapshot: Snapshot, names: tuple[str, ...], user_id: Any,
                     connection) -> dict[str, Any]:
    """What parsing the sections `names` of a cached snapshot needs besides its texts."""
    metas: dict[str, Any] = {}
    small = tuple(name for name in names if name in snapshot.row_ids)
    if small:
        for row in await rows_of(LibrarySection, user_id, connection).filter(name__in=small):
            metas[row.name] = row.meta
    if "favorites" in names and snapshot.favorite_rows:
        metas["favorites"] = await rows_of(LibraryFavorite, user_id, connection).values_list(
            *FAVORITE_VERSIONS)
    if "playlists" in names and snapshot.playlist_rows:
        metas["playlists"] = dict(await rows_of(LibraryPlaylist, user_id, connection)
                                  .values_list("playlist_id", "meta"))
    return metas


def parse_section(snapshot: Snapshot, name: str, meta: Any) -> None:
    state = snapshot.state
    if name == "favorites":
        state.favorites = favorites_from(from_json(json_array(snapshot.favorites.values())),
                                         meta or [])
    elif name == "playlists":
        state.playlists = playlists_from(
            {pid: from_json(text) for pid, text in snapshot.playlists.items()},
            {pid: from_json(text) for pid, text in (meta or {}).items()})
    elif meta is not None:
        load_section(state, name, from_json(snapshot.items[name]), from_json(meta))


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
        state = LibraryState(version=record.version, horizon=record.horizon,
                             updated_at=record.updated_at)
        snapshot = Snapshot(record, {}, {}, {}, set(), {}, set(), state)
        metas = await read_everything(snapshot, user_id, connection)
    else:
        missing = tuple(name for name in parse if name not in snapshot.parsed)
        metas = await read_metas(snapshot, missing, user_id, connection) if missing else {}
    for name in parse:
        if name not in snapshot.parsed:
            parse_section(snapshot, name, metas.get(name))
            snapshot.parsed.add(name)
    return snapshot


async def delete_rows(model: type, column: str, keys: list[str], user_id: Any, connection) -> None:
    for start in range(0, len(keys), DELETE_BATCH):
        await rows_of(model, user_id, connection).filter(
            **{f"{column}__in": keys[start:start + DELETE_BATCH]}).delete()


def in_order(keys: dict, stored: dict[str, bytes], written: dict[str, bytes]) -> dict[str, bytes]:
    """The documents of `keys`, in their order: those just written, else those stored before."""
    documents = dict(zip(keys, map(stored.get, keys)))  # at C speed, for 10,000 favorites
    documents.update(written)
    return documents


async def write_favorites(snapshot: Snapshot, new: Keyed, user_id: Any, connection) -> None:
    """Upsert the rows of the favorites that changed, delete forgotten tombstones."""
    written, gone = changed_favorites(snapshot.state.favorites, new)
    texts, rows = {}, []
    for key in written:
        item = new.items.get(key)
        if item is not None:
            texts[key] = to_json(item)
        rows.append(LibraryFavorite(user_id=user_id, video_id=key,
                                    document=texts[key].decode() if item is not None else None,
                                    **favorite_row(new, key)))
    if rows:  # one upsert for new and changed rows alike
        await LibraryFavorite.bulk_create(rows, batch_size=1000, on_conflict=("user_id", "video_id"),
                                          update_fields=FAVORITE_COLUMNS, using_db=connection)
    await delete_rows(LibraryFavorite, "video_id", gone, user_id, connection)
    snapshot.favorites = in_order(new.items, snapshot.favorites, texts)
    snapshot.favorite_rows = (snapshot.favorite_rows | set(written)) - set(gone)


async def write_playlists(snapshot: Snapshot, new: Playlists, user_id: Any, connection) -> None:
    """Upsert the rows of the playlists that changed, delete forgotten tombstones."""
    written, gone = changed_playlists(snapshot.state.playlists, new)
    gone = [pid for pid in gone if pid in snapshot.playlist_rows]
    texts, rows = {}, []
    for pid in written:
        document = playlist_document(new, pid)
        if document is not None:
            texts[pid] = to_json(document)
        rows.append(LibraryPlaylist(
            user_id=user_id, playlist_id=pid,
            created=merge.instant(document.get("created_at")) if document else 0.0,
            document=texts[pid].decode() if document else None,
            meta=to_json(playlist_meta(new, pid)).decode(),
            oldest_tombstone=playlist_oldest_tombstone(new, pid)))
    if rows:
        await LibraryPlaylist.bulk_create(rows, batch_size=100, on_conflict=("user_id", "playlist_id"),
                                          update_fields=PLAYLIST_COLUMNS, using_db=connection)
    await delete_rows(LibraryPlaylist, "playlist_id", gone, user_id, connection)
    snapshot.playlists = in_order(new.lists.items, snapshot.playlists, texts)
    snapshot.playlist_rows = (snapshot.playlist_rows | set(written)) - set(gone)


async def write(snapshot: Snapshot, outcome: merge.SyncOutcome, user_id: Any, connection) -> None:
    """Write what the merge changed: the rows of changed items and small sections, the record."""
    state = outcome.state
    for name in outcome.changed & set(SMALL_SECTIONS):
        items = to_json(section_items(state, name))
        meta = to_json(section_meta(state, name)).decode()
        row_id = snapshot.row_ids.get(name)
        if row_id is None:
            row = await LibrarySection.create(user_id=user_id, name=name, items=items.decode(),
                                              meta=meta, using_db=connection)
            snapshot.row_ids[name] = row.id
        else:
            await LibrarySection.filter(id=row_id).using_db(connection).update(
                items=items.decode(), meta=meta)
        snapshot.items[name] = items
    if "favorites" in outcome.changed:
        await write_favorites(snapshot, state.favorites, user_id, connection)
    if "playlists" in outcome.changed:
        await write_playlists(snapshot, state.playlists, user_id, connection)
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
        "queue_state": state.queue_state,
    }
    parts = [to_json(head)[:-1]]
    for name in SECTIONS:
        if name == "favorites":
            text = json_array(snapshot.favorites.values())
        elif name == "playlists":
            text = json_array(snapshot.playlists.values())
        else:
            text = snapshot.items.get(name, EMPTY_ITEMS[name])
        parts.append(b',"' + name.encode() + b'":' + text)
    parts.append(b"}")
    return b"".join(parts)


# -- what each device without `since` was last told -----------------------------------------

DEVICE_REFRESH = 24 * 3600  # a device row's time is renewed at least daily, for the sweep


def device_key(device_id: str | None, sign_in: str | None) -> str | None:
    """Who a request without `since` is: its `device_id` if it sends one, else its sign-in."""
    if device_id:
        return f"device:{device_id}"
    return sign_in


async def remembered_version(user_id: Any, key: str | None, connection=None) -> LibraryDevice | None:
    if key is None:
        return None
    return await rows_of(LibraryDevice, user_id, connection).filter(device=key).first()


async def remember_answer(user_id: Any, key: str | None, row: LibraryDevice | None, version: int,
                          now: float, connection=None) -> None:
    """Note that the device `key` was just given the library at `version`."""
    if key is None or (row is not None and row.seen == version
                       and row.seen_at > now - DEVICE_REFRESH):
        return
    await LibraryDevice.bulk_create(
        [LibraryDevice(user_id=user_id, device=key, seen=version, seen_at=now)],
        on_conflict=("user_id", "device"), update_fields=("seen", "seen_at"), using_db=connection)


async def get_library(user_id: Any, sign_in: str | None = None, now: float = 0.0) -> bytes:
    snapshot = await read(user_id, parse=ALWAYS_PARSED)
    if sign_in is not None:  # a seed client may store this answer and PUT from it later
        row = await remembered_version(user_id, sign_in)
        await remember_answer(user_id, sign_in, row, snapshot.state.version, now)
    return render(snapshot)


async def sync(user_id: Any, request: dict, now: float,
               sign_in: str | None = None) -> tuple[bytes, merge.SyncOutcome]:
    """Merge one device's snapshot (validation.parse_request) into the user's library.

    A request without `since` is merged with the version last answered to its device
    (`device_id`, else `sign_in`), which is then updated. Returns the response body.
    Raises validation.InvalidRequest for bad items.
    """
    if user_id not in parsed_cache():  # a cached library means its record exists
        await ensure_record(user_id)
    parse = tuple(name for name in SECTIONS
                  if request.get(name) is not None or name in ALWAYS_PARSED)
    key = device_key(request.get("device_id"), sign_in) if request.get("since") is None else None
    async with in_transaction() as connection:
        snapshot = await read(user_id, parse, connection, lock=True)
        device = check_sections(request, snapshot.state)
        row = await remembered_version(user_id, key, connection)
        outcome = merge.merge_library(snapshot.state, device, salt=str(user_id), now=now,
                                      now_iso=iso_now(now),
                                      remembered=row.seen if row is not None else None)
        if outcome.changed:
            await write(snapshot, outcome, user_id, connection)
        await remember_answer(user_id, key, row, outcome.state.version, now, connection)
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
            await write(snapshot, merge.SyncOutcome(state, {"favorites", "playlists"}), user_id,
                        connection)
    return removed


async def sweep(now: float) -> dict[str, int]:
    """Forget tombstones past the retention period; drop device sessions that stopped pinging."""
    cutoff = now - settings().tombstone_retention
    sessions = await DeviceSession.filter(expires_at__lt=now).delete()
    # A device silent this long may hold deletions the server forgot: it starts afresh.
    await LibraryDevice.filter(seen_at__lt=cutoff).delete()
    user_ids = set()
    for query in (LibraryFavorite.filter(deleted_at__lt=cutoff),
                  LibraryPlaylist.filter(oldest_tombstone__lt=cutoff)):
        user_ids.update(await query.distinct().limit(SWEEP_BATCH).values_list("user_id", flat=True))
    tombstones = 0
    for user_id in user_ids:
        tombstones += await purge_user(user_id, cutoff)
    return {"library_tombstones": tombstones, "library_sessions": sessions}
