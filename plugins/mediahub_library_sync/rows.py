"""The stored form of favorites and playlists: a row per item, and which rows a merge changed.

A sync typically changes a handful of items among tens of thousands. Each favorite and
each playlist (with its songs) is a row holding the item exactly as clients get it plus
the versions behind it, or a tombstone; after a merge only the rows whose content changed
are written. Merge functions keep the server's objects for what they leave alone, so
"changed" is mostly decided by identity, without comparing contents.
"""

from __future__ import annotations

from itertools import compress
from operator import is_not
from typing import Any

from mediahub_library_sync.state import Keyed, Playlists, playlist_out

NO_VERSIONS = [0, 0]


# -- favorites ----------------------------------------------------------------------------


def favorites_from(documents: list[dict], rows: list[tuple]) -> Keyed:
    """Favorites from their rows: `documents` of the live ones in display order, and each
    row as (video_id, created, changed, deleted, deleted_at)."""
    items = {item["videoId"]: item for item in documents}
    meta, tombs = {}, {}
    for video_id, created, changed, deleted, deleted_at in rows:
        if deleted is None:
            meta[video_id] = [created, changed]
        else:
            tombs[video_id] = [deleted, deleted_at]
    return Keyed(items, meta, tombs)


def changed_favorites(old: Keyed, new: Keyed) -> tuple[list[str], list[str]]:
    """(favorites whose row must be written, tombstones forgotten since, whose row goes)."""
    if new is old:
        return [], []
    # Every change the merge accepts stamps the item with new versions (a new list), so the
    # versions alone tell which items changed. map and compress rather than a loop: this
    # looks at each of up to 10,000 favorites.
    keys = list(new.meta)
    written = set(compress(keys, map(is_not, map(old.meta.get, keys), new.meta.values())))
    written.update(key for key, tomb in new.tombs.items() if old.tombs.get(key) is not tomb)
    gone = [key for key in old.tombs if key not in new.tombs and key not in new.items]
    return sorted(written), gone


def favorite_row(favorites: Keyed, key: str) -> dict[str, Any]:
    """The columns of a favorite row (its document aside): versions, or the tombstone."""
    if key in favorites.items:
        created, changed = favorites.meta.get(key, NO_VERSIONS)
        return {"added_at": favorites.items[key].get("addedAt") or "", "created": created,
                "changed": changed, "deleted": None, "deleted_at": None}
    deleted, deleted_at = favorites.tombs[key]
    return {"added_at": "", "created": 0, "changed": 0, "deleted": deleted,
            "deleted_at": deleted_at}


# -- playlists ----------------------------------------------------------------------------


def playlist_document(lists: Playlists, pid: str) -> dict | None:
    """The playlist as clients get it; None for a deleted playlist (its row is a tombstone)."""
    header = lists.lists.items.get(pid)
    return None if header is None else playlist_out(header, lists.songs.get(pid))


def playlist_meta(lists: Playlists, pid: str) -> dict:
    """Versions of the playlist and of its songs, or the playlist tombstone."""
    if pid not in lists.lists.items:
        return {"tomb": lists.lists.tombs[pid]}
    songs = lists.songs.get(pid) or Keyed()
    return {"v": lists.lists.meta.get(pid, NO_VERSIONS), "order": lists.order_versions.get(pid, 0),
            "songs": {"meta": songs.meta, "tombs": songs.tombs}}


def playlist_row(lists: Playlists, pid: str) -> tuple | None:
    """Everything stored in a playlist row, to compare before and after a merge (None: no row)."""
    header = lists.lists.items.get(pid)
    if header is None:
        tomb = lists.lists.tombs.get(pid)
        return None if tomb is None else (tomb,)
    return (header, lists.songs.get(pid), lists.lists.meta.get(pid), lists.order_versions.get(pid))


def changed_playlists(old: Playlists, new: Playlists) -> tuple[list[str], list[str]]:
    """(playlists whose row must be written, playlists whose row goes)."""
    if new is old:
        return [], []
    written, gone = [], []
    for pid in dict.fromkeys([*new.lists.items, *new.lists.tombs, *old.lists.items,
                              *old.lists.tombs]):
        after = playlist_row(new, pid)
        if after is None:
            gone.append(pid)
        elif after != playlist_row(old, pid):  # tuples of the same objects compare at once
            written.append(pid)
    return written, gone


def playlist_oldest_tombstone(lists: Playlists, pid: str) -> float | None:
    if pid not in lists.lists.items:
        return lists.lists.tombs[pid][1]
    songs = lists.songs.get(pid)
    return min((t[1] for t in songs.tombs.values()), default=None) if songs else None


def playlists_from(documents: dict[str, Any], metas: dict[str, dict]) -> Playlists:
    """Playlists from their rows: `documents` of the live ones in display order, every row meta."""
    headers, versions, songs, orders = {}, {}, {}, {}
    for pid, playlist in documents.items():
        meta = metas.get(pid, {})
        headers[pid] = {k: v for k, v in playlist.items() if k not in ("songs", "song_count")}
        versions[pid] = meta.get("v", NO_VERSIONS)
        song_meta = meta.get("songs", {})
        songs[pid] = Keyed({song["videoId"]: song for song in playlist.get("songs", [])},
                           song_meta.get("meta", {}), song_meta.get("tombs", {}))
        if meta.get("order"):
            orders[pid] = meta["order"]
    tombs = {pid: meta["tomb"] for pid, meta in metas.items() if "tomb" in meta}
    return Playlists(Keyed(headers, versions, tombs), songs, orders)
