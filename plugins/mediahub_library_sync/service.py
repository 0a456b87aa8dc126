"""`library_service()`: favorites, history, playlists and the queue of a user, for other plugins.

Each change is made as a device would make it: the section as the server last had it,
changed, sent with that version as `since` through the same validation, merge, storage
and live announcement as `PUT /api/me/...`. So a removal is a tombstone that no stale
device undoes, an addition made meanwhile on a phone is not lost, and every other device
of the user hears of the change.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic_core import to_json

from mediahub import BadRequest, NotFound, User
from mediahub_library_sync import store
from mediahub_library_sync.merge import LimitExceeded, iso_instant
from mediahub_library_sync.schemas import SyncRequest
from mediahub_library_sync.state import section_items
from mediahub_library_sync.validation import InvalidRequest, parse_request

SERVICE_DEVICE = "mediahub-server"  # the device_id live pushes name for changes made here


def device_name(device: str | None) -> str:
    """A caller's device name as a valid `device_id` (letters, digits, `_.:-`, 128 at most)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.:-]", "_", device or "")[:128]
    return cleaned or SERVICE_DEVICE


def iso(moment: datetime | None) -> str:
    if moment is None:
        return iso_instant(time.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso_instant(moment.timestamp())


class LibraryService:
    """The object `library_service()` returns; every method is async and takes the user."""

    async def _state(self, user: User, *sections: str):
        return (await store.read(user.id, parse=sections)).state

    async def _change(self, user: User, body: dict, device: str | None = None):
        """One change, merged exactly like a device's request with `since`."""
        body = {**body, "device_id": device_name(device)}
        try:
            request = parse_request(to_json(body), SyncRequest)
            _, outcome = await store.sync(user.id, request, time.time())
        except InvalidRequest as exc:
            raise BadRequest(str(exc), code="invalid_request") from None
        except LimitExceeded as exc:
            raise BadRequest(str(exc), code="library_limit") from None
        return outcome

    # -- favorites ---------------------------------------------------------------------

    async def favorites(self, user: User) -> list[dict]:
        """Newest first; each has `videoId` and `addedAt`."""
        return section_items(await self._state(user, "favorites"), "favorites")

    async def add_favorites(self, user: User, items: Iterable[dict]) -> list[dict]:
        state = await self._state(user, "favorites")
        now = iso(None)
        current = dict(state.favorites.items)
        for item in items:
            if item.get("videoId") not in current:
                current[item.get("videoId")] = {**item, "addedAt": item.get("addedAt") or now}
        outcome = await self._change(user, {"since": state.version,
                                            "favorites": list(current.values())})
        return section_items(outcome.state, "favorites")

    async def remove_favorites(self, user: User, video_ids: Iterable[str]) -> list[dict]:
        state = await self._state(user, "favorites")
        gone = set(video_ids)
        kept = [item for key, item in state.favorites.items.items() if key not in gone]
        if len(kept) == len(state.favorites.items):
            return list(state.favorites.items.values())
        outcome = await self._change(user, {"since": state.version, "favorites": kept})
        return section_items(outcome.state, "favorites")

    # -- history -----------------------------------------------------------------------

    async def add_history(self, user: User, item: dict, played_at: datetime | None = None) -> None:
        state = await self._state(user)
        await self._change(user, {"since": state.version,
                                  "history": [{**item, "playedAt": iso(played_at)}]})

    async def history(self, user: User, limit: int = 50) -> list[dict]:
        """Newest play first."""
        return section_items(await self._state(user, "history"), "history")[:max(limit, 0)]

    # -- playlists ---------------------------------------------------------------------

    async def playlists(self, user: User) -> list[dict]:
        return section_items(await self._state(user, "playlists"), "playlists")

    async def playlist(self, user: User, playlist_id: str) -> dict | None:
        return next((p for p in await self.playlists(user) if p["id"] == playlist_id), None)

    async def create_playlist(self, user: User, name: str, songs: Iterable[dict] = (),
                              description: str = "") -> dict:
        state = await self._state(user, "playlists")
        now = iso(None)
        local_id = "pl_" + secrets.token_urlsafe(12).replace("-", "_")
        new = {"id": local_id, "name": name, "description": description, "is_public": False,
               "songs": [{**song, "addedAt": song.get("addedAt") or now} for song in songs],
               "created_at": now, "updated_at": now}
        outcome = await self._change(user, {"since": state.version, "playlists": [
            *section_items(state, "playlists"), new]})
        made = outcome.playlist_id_map[local_id]
        return next(p for p in section_items(outcome.state, "playlists") if p["id"] == made)

    async def update_playlist(self, user: User, playlist_id: str, *, name: str | None = None,
                              description: str | None = None, is_public: bool | None = None,
                              add: Iterable[dict] = (), remove_indexes: Iterable[int] = ()) -> dict:
        """Rename, describe, publish, append songs, remove songs by their index (in the
        playlist as it is now). NotFound if the user has no such playlist."""
        state = await self._state(user, "playlists")
        playlists = section_items(state, "playlists")
        mine = next((p for p in playlists if p["id"] == playlist_id), None)
        if mine is None:
            raise NotFound("no such playlist", code="playlist_not_found")
        now = iso(None)
        removed = set(remove_indexes)
        songs = [song for index, song in enumerate(mine["songs"]) if index not in removed]
        songs += [{**song, "addedAt": song.get("addedAt") or now} for song in add]
        changed = {**mine, "songs": songs, "updated_at": now}
        for key, value in (("name", name), ("description", description), ("is_public", is_public)):
            if value is not None:
                changed[key] = value
        outcome = await self._change(user, {"since": state.version, "playlists": [
            changed if p["id"] == playlist_id else p for p in playlists]})
        found = next((p for p in section_items(outcome.state, "playlists")
                      if p["id"] == playlist_id), None)
        if found is None:  # deleted on another device meanwhile
            raise NotFound("no such playlist", code="playlist_not_found")
        return found

    async def delete_playlist(self, user: User, playlist_id: str) -> bool:
        state = await self._state(user, "playlists")
        playlists = section_items(state, "playlists")
        kept = [p for p in playlists if p["id"] != playlist_id]
        if len(kept) == len(playlists):
            return False
        await self._change(user, {"since": state.version, "playlists": kept})
        return True

    # -- queue -------------------------------------------------------------------------

    async def queue(self, user: User) -> dict[str, Any]:
        """`{"items", "current", "positionSec", "updatedAt", "device"}`."""
        state = await self._state(user, "queue")
        return {"items": state.queue.value, **state.queue_state}

    async def save_queue(self, user: User, items: Iterable[dict], current: int = 0,
                         position_sec: float = 0.0, device: str | None = None) -> dict[str, Any]:
        state = await self._state(user, "queue")
        items = [{k: v for k, v in item.items() if k != "position"} | {"position": index}
                 for index, item in enumerate(items)]
        outcome = await self._change(user, {
            "since": state.version, "queue": items,
            "queue_state": {"current": current, "positionSec": float(position_sec)}}, device)
        return {"items": outcome.state.queue.value, **outcome.state.queue_state}


service = LibraryService()
