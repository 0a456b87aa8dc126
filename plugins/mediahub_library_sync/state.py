"""A user's library as the server keeps it: items plus the server versions and tombstones behind them.

Every change the server accepts is stamped with the user's next version number (an
integer the server alone hands out). Keyed sections remember, per item, the version that
created it and the version that last changed it; a deleted item leaves a tombstone with
the version that deleted it and the server time it happened (for the retention period).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("favorites", "history", "queue", "playlists", "preferences", "recent_searches")
# The small sections, stored as a row each of two JSON documents: `items`, exactly what
# clients get (so GET can answer without parsing it), and `meta`, the versions behind them.
# Favorites and playlists are stored a row per item (rows.py).
SMALL_SECTIONS = ("history", "queue", "preferences", "recent_searches")
QUEUE_START = {"current": 0, "positionSec": 0.0, "updatedAt": None, "device": None}


@dataclass
class Keyed:
    """Items by key, in display order, with [created, changed] versions and tombstones."""

    items: dict[str, dict] = field(default_factory=dict)
    meta: dict[str, list[int]] = field(default_factory=dict)
    tombs: dict[str, list] = field(default_factory=dict)  # key -> [deleted_version, deleted_at]


@dataclass
class Versioned:
    """A value replaced as a whole (the queue, recent searches) and the version that set it."""

    value: Any
    version: int = 0


@dataclass
class Playlists:
    """Playlists (headers, without songs) keyed by server id, and each one's songs."""

    lists: Keyed = field(default_factory=Keyed)
    songs: dict[str, Keyed] = field(default_factory=dict)
    # Version of the last reorder accepted per playlist: a device that has not seen it
    # cannot reorder over it.
    order_versions: dict[str, int] = field(default_factory=dict)


@dataclass
class LibraryState:
    version: int = 0
    # Tombstones at or below this version have been forgotten: a device that last synced
    # before it gets a full replacement.
    horizon: int = 0
    updated_at: str | None = None
    favorites: Keyed = field(default_factory=Keyed)
    history: list[dict] = field(default_factory=list)
    songs_played: int = 0
    queue: Versioned = field(default_factory=lambda: Versioned([]))
    # Where playback is in the queue (set with it, under its version): current, positionSec,
    # and when and by which device it was last saved.
    queue_state: dict[str, Any] = field(default_factory=lambda: dict(QUEUE_START))
    playlists: Playlists = field(default_factory=Playlists)
    preferences: dict[str, Any] = field(default_factory=dict)
    preference_versions: dict[str, int] = field(default_factory=dict)
    recent_searches: Versioned = field(default_factory=lambda: Versioned([]))


# -- public (client) form -----------------------------------------------------------------


def playlist_out(header: dict, songs: Keyed | None) -> dict:
    song_list = list(songs.items.values()) if songs else []
    return {**header, "songs": song_list, "song_count": len(song_list)}


def section_items(state: LibraryState, name: str) -> Any:
    """What clients see of one section."""
    if name == "favorites":
        return list(state.favorites.items.values())
    if name == "history":
        return state.history
    if name == "queue":
        return state.queue.value
    if name == "playlists":
        lists = state.playlists
        return [playlist_out(header, lists.songs.get(pid)) for pid, header in lists.lists.items.items()]
    if name == "preferences":
        return state.preferences
    if name == "recent_searches":
        return state.recent_searches.value
    raise KeyError(name)


# -- stored form of the small sections ----------------------------------------------------


def section_meta(state: LibraryState, name: str) -> dict:
    """The versions and tombstones of one section (stored next to its items)."""
    if name == "history":
        return {"songs_played": state.songs_played}
    if name == "queue":
        return {"v": state.queue.version, "state": state.queue_state}
    if name == "preferences":
        return {"v": state.preference_versions}
    if name == "recent_searches":
        return {"v": state.recent_searches.version}
    raise KeyError(name)


def load_section(state: LibraryState, name: str, items: Any, meta: dict) -> None:
    """Fill one section of `state` from its stored items and meta documents."""
    if name == "history":
        state.history = items
        state.songs_played = int(meta.get("songs_played", len(items)))
    elif name == "queue":
        state.queue = Versioned(items, int(meta.get("v", 0)))
        state.queue_state = {**QUEUE_START, **meta.get("state", {})}
    elif name == "preferences":
        state.preferences = items
        state.preference_versions = meta.get("v", {})
    elif name == "recent_searches":
        state.recent_searches = Versioned(items, int(meta.get("v", 0)))
    else:
        raise KeyError(name)
