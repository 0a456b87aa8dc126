"""The merge rules as pure functions: a device's snapshot + the server's library -> the new library.

Who wins is decided by server versions, never by device clocks. A device says which
version it last received (`since`); everything follows from comparing that with the
versions the server stamped on each item:

- an item the device lacks was deleted by it only if the item existed when the device
  last synced (created <= since); otherwise the device simply has not seen it yet;
- an item the device has but the server deleted stays deleted unless the device had
  seen the deletion (tombstone <= since), i.e. the user added it again;
- a changed item (or queue, preference, search list) replaces the server's only if the
  server's copy had not changed since the device last synced; otherwise the server's
  newer copy stays (the device's copy is old, or lost a race with an earlier sync).

A device that never sends `since` (seed 002's clients) is merged as if it had sent the
version of the last answer the server gave it (`remembered`, kept per sign-in by the
store); the one thing versions cannot tell for it, whether an item deleted since is held
because the device is stale or because the user added it again there, is told by the
item's `addedAt`, trusted only within CLOCK_TOLERANCE of server time.

See docs/library-sync.md for the rules with examples.
"""

from __future__ import annotations

import hashlib
import json
import operator
from bisect import insort
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from itertools import compress
from typing import Any, Iterable

from mediahub_library_sync.schemas import (HISTORY_LIMIT, MAX_FAVORITES, MAX_PLAYLIST_SONGS,
                                           MAX_PLAYLISTS, RECENT_SEARCHES_LIMIT)
from mediahub_library_sync.state import Keyed, LibraryState, Playlists, Versioned

NEVER_SYNCED = -1
PLAYLIST_HEADER_SKIP = ("songs", "song_count")
NO_VERSIONS = (0, 0)
# How far ahead of the server a device clock may be before its `addedAt` is not believed:
# a later one is stored as the server's time and cannot bring a deleted item back.
CLOCK_TOLERANCE = 300.0


class LimitExceeded(ValueError):
    """The merged library would be larger than the server keeps (names the section)."""


@dataclass
class SyncOutcome:
    state: LibraryState
    changed: set[str] = field(default_factory=set)
    playlist_id_map: dict[str, str] = field(default_factory=dict)
    full_replacement: bool = False


# -- time -------------------------------------------------------------------------------


def instant(timestamp: str | None, _cache: dict[str, float] = {}) -> float:
    """Seconds since the epoch of an ISO 8601 string (naive means UTC); 0 for None."""
    if not timestamp:
        return 0.0
    value = _cache.get(timestamp)
    if value is None:
        value = parse_instant(timestamp)
        if len(_cache) > 100_000:
            _cache.clear()
        _cache[timestamp] = value
    return value


def parse_instant(timestamp: str) -> float:
    text = timestamp.replace(" ", "T", 1)
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    except (ValueError, OverflowError):
        # The schema lets through what only a calendar rejects (February 30th): such a
        # date sorts as the oldest rather than failing the sync.
        return 0.0


def iso_instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DeviceClock:
    """The rules that lean on a device's `addedAt`, with a wrong clock's damage bounded."""

    now: float
    revives: bool  # whether `addedAt` may tell a re-add from a stale copy (no `since`)

    def clamp(self, item: dict) -> dict:
        """The item, its `addedAt` brought back to server time if it is in the future.

        A clock hours ahead would otherwise pin its favorites to the top of the list and
        make each of them look newer than any deletion.
        """
        added = item.get("addedAt")
        if added and instant(added) > self.now + CLOCK_TOLERANCE:
            return {**item, "addedAt": iso_instant(self.now)}
        return item

    def revive(self, item: dict, tomb: list) -> bool:
        """Whether a device without `since` added this deleted item again after its deletion.

        Its `addedAt` must be after the deletion (server time) and not in the future: a
        stale copy carries the time it was first added, before the deletion. Versions alone
        are not enough here: a client that did not store an answer still holds the item
        after it was told of the deletion. Items without `addedAt` (playlists) never return.
        """
        if not self.revives:
            return False
        added = instant(item.get("addedAt"))
        return tomb[1] < added <= self.now + CLOCK_TOLERANCE



def canonical(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


# -- keyed collections (favorites, playlists, playlist songs) ----------------------------


def first_by_key(items: list[dict], key: str) -> dict[str, dict]:
    """Items by key; a device listing the same key twice means its first entry."""
    by_key = dict(zip(map(operator.itemgetter(key), items), items))
    if len(by_key) == len(items):
        return by_key  # no key listed twice (the usual case), built at C speed
    by_key = {}
    for item in items:
        by_key.setdefault(item[key], item)
    return by_key


def merge_keyed(server: Keyed, device: dict[str, dict], seen: int, version: int,
                now: float, clock: DeviceClock | None = None) -> tuple[Keyed, bool]:
    """Merge a device's items (by key) into the server's; see the module docstring.

    Unchanged items keep the server's objects, so callers can tell what changed by identity.
    """
    ours = server.items
    # Comprehensions, not one loop doing everything: a sync of 10,000 favorites with a
    # handful of edits spends its time here, and these run several times faster.
    gone = [key for key in ours if key not in device]
    new = [key for key in device if key not in ours]
    edited = [key for key, mine in device.items()
              if key in ours and mine is not ours[key] and mine != ours[key]]
    if not (gone or new or edited):
        return server, False
    items, meta, tombs = dict(ours), dict(server.meta), dict(server.tombs)
    changed = False
    for key in gone:
        if meta.get(key, NO_VERSIONS)[0] <= seen:  # the device had it and let it go: a deletion
            del items[key]
            meta.pop(key, None)
            tombs[key] = [version, now]
            changed = True
    for key in edited:
        created, modified = meta.get(key, NO_VERSIONS)
        if modified <= seen:  # else the server's copy is newer than anything the device saw
            items[key] = clock.clamp(device[key]) if clock else device[key]
            meta[key] = [created, version]
            changed = True
    for key in new:
        tomb = tombs.get(key)
        if tomb is not None and (clock.revive(device[key], tomb) is False
                                 if clock is not None and clock.revives else tomb[0] > seen):
            continue  # deleted after the device last synced (or, without `since`, re-added before)
        tombs.pop(key, None)
        items[key] = clock.clamp(device[key]) if clock else device[key]
        meta[key] = [version, version]
        changed = True
    if not changed:
        return server, False
    return Keyed(items, meta, tombs), True


# Newest first (sorted in reverse). The timestamp text sorts as time when devices spell it
# alike (they do: one client writes them all) and costs nothing to compare; parsing does.
favorite_order = operator.itemgetter("addedAt", "videoId")
FEW_MOVED = 64  # up to this many new or edited favorites are placed one by one, not sorted


def merge_favorites(server: Keyed, device_items: list[dict] | None, seen: int, version: int,
                    now: float, clock: DeviceClock | None = None) -> tuple[Keyed, bool]:
    """Favorites keyed by videoId; newest `addedAt` first."""
    if device_items is None or device_items == list(server.items.values()):
        return server, False  # at C speed; nearly free when validation kept the stored items
    merged, changed = merge_keyed(server, first_by_key(device_items, "videoId"),
                                  seen, version, now, clock)
    if not changed:
        return server, False
    if len(merged.items) > MAX_FAVORITES:
        raise LimitExceeded(f"favorites: at most {MAX_FAVORITES} items "
                            f"(the merge would make {len(merged.items)})")
    merged.items = newest_first(merged.items, server.items)
    return merged, True


def newest_first(items: dict[str, dict], server: dict[str, dict]) -> dict[str, dict]:
    """`items` ordered newest `addedAt` first, knowing the server's items are in that order.

    Items that are the server's own objects keep their relative order, so with a handful
    of new or edited items only those are placed, by binary search, instead of sorting
    10,000 favorites again.
    """
    keys, values = list(items), list(items.values())
    moved = list(map(operator.is_not, map(server.get, keys), values))
    count = sum(moved)
    if count == 0:
        return items
    if count > FEW_MOVED:
        ordered = sorted(values, key=favorite_order, reverse=True)
    else:
        ordered = list(compress(values, map(operator.not_, moved)))
        ordered.reverse()  # bisect wants ascending order
        for item in compress(values, moved):
            insort(ordered, item, key=favorite_order)
        ordered.reverse()
    return dict(zip(map(operator.itemgetter("videoId"), ordered), ordered))


# -- history ----------------------------------------------------------------------------


def history_key(entry: dict) -> tuple[str, float]:
    return (entry["videoId"], instant(entry["playedAt"]))


def merge_history(server: list[dict], device: list[dict] | None,
                  limit: int = HISTORY_LIMIT) -> tuple[list[dict], int, bool]:
    """Plays merged in time order, deduplicated by (videoId, playedAt), newest `limit` kept.

    Returns (history, plays newly kept, changed). A play recorded twice with different
    details keeps one of them, the same one whatever the order of syncs.
    """
    if not device:
        return server, 0, False
    by_key: dict[tuple[str, float], dict] = {history_key(e): e for e in server}
    known = set(by_key)
    for entry in device:
        key = history_key(entry)
        other = by_key.get(key)
        if other is None or (other != entry and canonical(entry) > canonical(other)):
            by_key[key] = entry
    ordered = sorted(by_key.items(), key=lambda kv: (-kv[0][1], kv[0][0]))
    kept = [entry for _, entry in ordered[:limit]]
    added = sum(1 for key, _ in ordered[:limit] if key not in known)
    changed = kept != server
    return (kept if changed else server), added, changed


# -- whole values (queue, recent searches, each preference) ------------------------------


def merge_value(server: Versioned, device: Any, seen: int, version: int) -> tuple[Versioned, bool]:
    """The device's value wins if it differs and the server's had not changed since it synced."""
    if device is None or device == server.value:
        return server, False
    never_set = server.version == 0
    if server.version <= seen or never_set:
        return Versioned(device, version), True
    return server, False


def merge_queue(state: LibraryState, device: dict, seen: int, version: int,
                now_iso: str | None) -> tuple[Versioned, dict, bool]:
    """The queue and where playback is in it, one value: the last device to change either wins.

    A device that sends a changed queue without `queue_state` starts it at 0, 0 (the seed's
    client knows no position); one that sends only `queue_state` moves within the queue.
    """
    items, position = device.get("queue"), device.get("queue_state")
    if items is None and position is None:
        return state.queue, state.queue_state, False
    if items is None:
        items = state.queue.value
    ours = {"current": state.queue_state["current"],
            "positionSec": float(state.queue_state["positionSec"])}
    if position is None:
        position = ours if items == state.queue.value else {}
    current = min(position.get("current", 0), max(len(items) - 1, 0))
    theirs = {"current": current, "positionSec": float(position.get("positionSec", 0.0))}
    merged, did = merge_value(state.queue, (items, theirs), seen, version) \
        if (items, theirs) != (state.queue.value, ours) else (state.queue, False)
    if not did:
        return state.queue, state.queue_state, False
    return (Versioned(items, version),
            {**theirs, "updatedAt": now_iso, "device": device.get("device_id")}, True)


def clean_searches(searches: Iterable[str], limit: int = RECENT_SEARCHES_LIMIT) -> list[str]:
    """Trimmed, deduplicated ignoring case (first, i.e. newest, kept), at most `limit`."""
    seen: set[str] = set()
    kept: list[str] = []
    for search in searches:
        text = search.strip()
        folded = text.casefold()
        if text and folded not in seen:
            seen.add(folded)
            kept.append(text)
            if len(kept) == limit:
                break
    return kept


def merge_preferences(values: dict, versions: dict[str, int], device: dict | None, seen: int,
                      version: int) -> tuple[dict, dict[str, int], bool]:
    """Each preference (shuffle, repeat, volume) is its own value: the last device to change it wins."""
    if not device:
        return values, versions, False
    values, versions, changed = dict(values), dict(versions), False
    for name, value in device.items():
        merged, did = merge_value(Versioned(values.get(name), versions.get(name, 0)), value,
                                  seen, version)
        if did:
            values[name], versions[name], changed = merged.value, merged.version, True
    return values, versions, changed


# -- playlists ---------------------------------------------------------------------------


def server_playlist_id(salt: str, local_id: str) -> str:
    """The server id for a device's local `pl_...` id: the same every time it is sent, so a
    retried sync cannot create the playlist twice."""
    digest = hashlib.sha256(f"{salt}\0{local_id}".encode()).hexdigest()
    return "playlist_" + digest[:24]


def playlist_header(playlist: dict, pid: str) -> dict:
    header = {k: v for k, v in playlist.items() if k not in PLAYLIST_HEADER_SKIP}
    header["id"] = pid
    return header


def merge_song_order(server_order: list[str], device_order: list[str], survivors: dict[str, dict],
                     device_wins: bool) -> list[str]:
    first, second = (device_order, server_order) if device_wins else (server_order, device_order)
    order = [k for k in first if k in survivors]
    placed = set(order)
    order += [k for k in second if k in survivors and k not in placed]
    return order


def merge_playlist_songs(server: Keyed, order_version: int, device_songs: list[dict] | None,
                         seen: int, version: int, now: float,
                         clock: DeviceClock | None = None) -> tuple[Keyed, int, bool]:
    """One playlist's songs: keyed by videoId with tombstones, plus its order."""
    if device_songs is None or device_songs == list(server.items.values()):
        return server, order_version, False  # untouched (most playlists), compared at C speed
    device = first_by_key(device_songs, "videoId")
    merged, changed = merge_keyed(server, device, seen, version, now, clock)
    device_order = [k for k in device if k in server.items and k in merged.items]
    server_order = [k for k in server.items if k in device and k in merged.items]
    # A device that has seen the playlist's last reorder decides the order, new songs included.
    may_order = order_version <= seen
    reorders = may_order and device_order != server_order
    order = merge_song_order(list(server.items), list(device), merged.items, may_order)
    if list(merged.items) != order:  # a new Keyed: `merged` may be the server's own
        merged = Keyed({k: merged.items[k] for k in order}, merged.meta, merged.tombs)
    if reorders:
        order_version, changed = version, True
    if len(merged.items) > MAX_PLAYLIST_SONGS:
        raise LimitExceeded(f"playlists: at most {MAX_PLAYLIST_SONGS} songs in a playlist")
    return merged, order_version, changed or list(server.items) != list(merged.items)


def playlist_order(header: dict) -> tuple:
    return (instant(header.get("created_at")), header["id"])


def merge_playlists(server: Playlists, device_lists: list[dict] | None, seen: int, version: int,
                    now: float, salt: str,
                    clock: DeviceClock | None = None) -> tuple[Playlists, dict[str, str], bool]:
    """Playlists merged by id (local `pl_` ids mapped to server ids), songs merged inside."""
    if device_lists is None:
        return server, {}, False
    id_map: dict[str, str] = {}
    device: dict[str, dict] = {}
    for playlist in device_lists:
        pid = playlist["id"]
        if pid.startswith("pl_"):
            pid = id_map[playlist["id"]] = server_playlist_id(salt, playlist["id"])
        device.setdefault(pid, playlist)
    headers = {pid: playlist_header(p, pid) for pid, p in device.items()}
    lists, changed = merge_keyed(server.lists, headers, seen, version, now, clock)
    songs: dict[str, Keyed] = {}
    orders: dict[str, int] = {}
    for pid in lists.items:
        existing = server.songs.get(pid)
        mine = device.get(pid)
        if existing is None:  # new from this device
            existing = Keyed()
        own_order = server.order_versions.get(pid, 0)
        merged, own_order, did = merge_playlist_songs(
            existing, own_order, mine.get("songs", []) if mine is not None else None,
            seen, version, now, clock)
        songs[pid], changed = merged, changed or did
        if own_order:
            orders[pid] = own_order
    if len(lists.items) > MAX_PLAYLISTS:
        raise LimitExceeded(f"playlists: at most {MAX_PLAYLISTS} playlists")
    ordered = sorted(lists.items.values(), key=playlist_order)
    lists.items = {h["id"]: h for h in ordered}
    if not changed:
        return server, id_map, False
    return Playlists(lists, songs, orders), id_map, True


# -- the whole library --------------------------------------------------------------------


def needs_full_replacement(state: LibraryState, since: int | None) -> bool:
    """A device whose `since` predates forgotten tombstones (or is from the future) cannot merge."""
    return since is not None and (since < state.horizon or since > state.version)


def seen_without_since(state: LibraryState, remembered: int | None) -> int:
    """What a device that sends no `since` has seen: the version last answered to it.

    Unknown (never answered, or before forgotten tombstones): it has seen nothing, so it
    deletes nothing.
    """
    if remembered is None or not state.horizon <= remembered <= state.version:
        return NEVER_SYNCED
    return remembered


def merge_library(state: LibraryState, device: dict, *, salt: str, now: float,
                  now_iso: str | None = None, remembered: int | None = None) -> SyncOutcome:
    """Merge one device's sync (a validated SyncRequest dict) into the server's library.

    Sections the device leaves out are untouched (absent is not empty). `salt` makes
    playlist ids per user; `now` (server time) dates tombstones for the retention period.
    `remembered` is the version last answered to this device, for a device without `since`.
    """
    since = device.get("since")
    if needs_full_replacement(state, since):
        return SyncOutcome(state, full_replacement=True)
    if since is None:
        seen, clock = seen_without_since(state, remembered), DeviceClock(now, True)
    else:
        seen, clock = since, DeviceClock(now, False)
    version = state.version + 1
    new = replace(state)
    changed: set[str] = set()

    new.favorites, did = merge_favorites(state.favorites, device.get("favorites"), seen, version,
                                         now, clock)
    if did:
        changed.add("favorites")
    new.history, added, did = merge_history(state.history, device.get("history"))
    if did:
        new.songs_played = state.songs_played + added
        changed.add("history")
    new.queue, new.queue_state, did = merge_queue(state, device, seen, version, now_iso)
    if did:
        changed.add("queue")
    new.playlists, id_map, did = merge_playlists(state.playlists, device.get("playlists"), seen,
                                                 version, now, salt, clock)
    if did:
        changed.add("playlists")
    new.preferences, new.preference_versions, did = merge_preferences(
        state.preferences, state.preference_versions, device.get("preferences"), seen, version)
    if did:
        changed.add("preferences")
    searches = device.get("recent_searches")
    new.recent_searches, did = merge_value(
        state.recent_searches, None if searches is None else clean_searches(searches), seen, version)
    if did:
        changed.add("recent_searches")

    if not changed:
        return SyncOutcome(state, playlist_id_map=id_map)
    new.version = version
    new.updated_at = now_iso or state.updated_at
    return SyncOutcome(new, changed, id_map)


# -- tombstone retention -----------------------------------------------------------------


def purge_keyed(keyed: Keyed, cutoff: float) -> tuple[Keyed, int, int]:
    """Drop tombstones older than `cutoff`: (keyed, how many, highest version dropped)."""
    old = {k: t for k, t in keyed.tombs.items() if t[1] < cutoff}
    if not old:
        return keyed, 0, 0
    tombs = {k: t for k, t in keyed.tombs.items() if k not in old}
    return Keyed(keyed.items, keyed.meta, tombs), len(old), max(t[0] for t in old.values())


def purge_tombstones(state: LibraryState, cutoff: float) -> tuple[LibraryState, int]:
    """Forget tombstones older than `cutoff` (server time) and raise the horizon past them."""
    removed, highest = 0, 0
    favorites, count, top = purge_keyed(state.favorites, cutoff)
    removed, highest = removed + count, max(highest, top)
    lists, count, top = purge_keyed(state.playlists.lists, cutoff)
    removed, highest = removed + count, max(highest, top)
    songs = {}
    for pid, keyed in state.playlists.songs.items():
        songs[pid], count, top = purge_keyed(keyed, cutoff)
        removed, highest = removed + count, max(highest, top)
    if not removed:
        return state, 0
    playlists = Playlists(lists, songs, state.playlists.order_versions)
    return replace(state, favorites=favorites, playlists=playlists,
                   horizon=max(state.horizon, highest)), removed
