"""Request bodies checked against the schemas, item by item, skipping items the server already holds.

A full sync sends the whole library back, and almost every item in it is one the server
stored (and so checked) before. Validating all 30,000 items with pydantic cost more than
merging them; instead each item is first compared with the stored item of the same key:
an equal one is valid and is replaced by the stored object (so the merge can tell that
nothing changed by identity), and only the rest go through pydantic. Errors read exactly
as pydantic's, with the path of the item: `favorites[3].addedAt: must be an ISO 8601 ...`.

An item equal to the stored one is taken as the stored one, so `true` where the stored
item has `1` (Python deems them equal) is not refused; the server's copy is what stays.
"""

from __future__ import annotations

from functools import cache
from itertools import compress, count
from operator import itemgetter, ne
from typing import Any, Optional

from pydantic import ValidationError
from pydantic_core import from_json

from mediahub_library_sync.schemas import (MAX_FAVORITES, MAX_PLAYLIST_SONGS, MAX_PLAYLISTS,
                                           DeviceId, Favorite, FavoriteList, HistoryList,
                                           Playlist, PlaylistList, PlaylistSong, Preferences,
                                           QueueList, QueueStateIn, SearchList, Version, adapter, error_lines,
                                           item_path, summarize)
from mediahub_library_sync.state import LibraryState

# The whole-section shapes: what a section must look like, and how small ones are checked.
SECTION_SHAPES = {"favorites": FavoriteList, "history": HistoryList, "queue": QueueList,
                  "playlists": PlaylistList, "preferences": Preferences,
                  "recent_searches": SearchList, "queue_state": QueueStateIn}
# Sections large enough to check against the stored items, and their caps.
KEYED_SECTIONS = {"favorites": MAX_FAVORITES, "playlists": MAX_PLAYLISTS}
FIELD_SHAPES = {"since": Optional[Version], "device_id": Optional[DeviceId]}


class InvalidRequest(ValueError):
    """A body that does not match its schema; the message names each bad item."""


class Problems:
    """Problems found so far in one body (all are reported, the first few by name)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, error: ValidationError, prefix: tuple) -> None:
        self.lines.extend(error_lines(error, prefix))

    def check(self) -> None:
        if self.lines:
            raise InvalidRequest(summarize(self.lines))


def validated(shape: Any, value: Any, prefix: tuple, problems: Problems) -> Any:
    try:
        return adapter(shape).validate_python(value)
    except ValidationError as exc:
        problems.add(exc, prefix)
        return None


def check_count(items: list, limit: int, prefix: tuple, problems: Problems) -> bool:
    """Whether a list is within its cap (the same words as schemas.at_most, items unseen)."""
    if len(items) <= limit:
        return True
    problems.lines.append(f"{item_path(prefix)}: at most {limit} items (got {len(items)})")
    return False


@cache
def required_fields(shape: type) -> frozenset[str]:
    # From pydantic, not `__required_keys__`: that is wrong under postponed annotations.
    return frozenset(adapter(shape).json_schema().get("required", ()))


def parse_request(raw: bytes, shape: type) -> dict:
    """The body of a request to a route taking `shape`: JSON parsed, the envelope checked.

    `since`, `device_id` and the type and length of each section are checked here; the
    items of the large sections are checked by `check_sections` once the stored library is
    at hand. Fields the shape does not have are dropped, as pydantic would.
    """
    try:
        # Only keys are worth caching: the values of a library are mostly distinct.
        body = from_json(raw, allow_inf_nan=False, cache_strings="keys")
    except ValueError as exc:
        raise InvalidRequest(f"body: invalid JSON ({exc})") from None
    if type(body) is not dict:
        raise InvalidRequest("body: must be a JSON object")
    problems = Problems()
    request: dict = {}
    for name in shape.__annotations__:
        if name not in body:
            if name in required_fields(shape):
                problems.lines.append(f"{name}: Field required")
            continue
        value = body[name]
        if name in FIELD_SHAPES:
            request[name] = validated(FIELD_SHAPES[name], value, (name,), problems)
        elif name in KEYED_SECTIONS:
            request[name] = value
            if type(value) is not list:
                validated(SECTION_SHAPES[name], value, (name,), problems)
            else:
                check_count(value, KEYED_SECTIONS[name], (name,), problems)
        else:  # the small sections: checked whole, right away
            request[name] = validated(SECTION_SHAPES[name], value, (name,), problems)
    problems.check()
    return request


def check_items(items: list, shape: type, known: dict[str, dict], prefix: tuple,
                problems: Problems, key: str = "videoId") -> list:
    """`items` with each one equal to a stored item replaced by it, the others validated."""
    try:  # map and compress, not a loop: this runs over every item of a full sync
        checked = list(map(known.get, map(itemgetter(key), items)))
        fresh = list(compress(count(), map(ne, checked, items)))  # indexes of the unequal
    except (TypeError, KeyError):  # an item that is no object, or has no or an odd key
        checked, fresh = list(items), range(len(items))
    for index in fresh:
        checked[index] = validated(shape, items[index], prefix + (index,), problems)
    return checked


def check_playlist(playlist: Any, state: LibraryState, prefix: tuple, problems: Problems) -> Any:
    """One playlist: its header through pydantic (small), its songs against the stored ones."""
    if type(playlist) is not dict or "songs" not in playlist:
        return validated(Playlist, playlist, prefix, problems)
    header = validated(Playlist, {k: v for k, v in playlist.items() if k != "songs"}, prefix,
                       problems)
    songs = playlist["songs"]
    if type(songs) is not list:
        validated(Playlist, playlist, prefix, problems)  # for pydantic's own message
        return None
    if not check_count(songs, MAX_PLAYLIST_SONGS, prefix + ("songs",), problems):
        return None
    stored = state.playlists.songs.get(header["id"]) if header else None
    checked = check_items(songs, PlaylistSong, stored.items if stored else {},
                          prefix + ("songs",), problems)
    return None if header is None else {**header, "songs": checked}


def check_sections(request: dict, state: LibraryState) -> dict:
    """The request with the items of its large sections checked against the stored `state`."""
    problems = Problems()
    checked = dict(request)
    if request.get("favorites") is not None:
        checked["favorites"] = check_items(request["favorites"], Favorite, state.favorites.items,
                                           ("favorites",), problems)
    if request.get("playlists") is not None:
        checked["playlists"] = [check_playlist(playlist, state, ("playlists", index), problems)
                                for index, playlist in enumerate(request["playlists"])]
    problems.check()
    return checked
