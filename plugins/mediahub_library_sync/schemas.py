"""The library's wire shapes (seed 002's field names) as pydantic TypedDicts, and their limits.

TypedDicts, not models: pydantic validates into plain dicts, which is what the merge works
on and what is stored. They are the contract (and /openapi.json); the large sections of a
write are checked against them item by item by validation.py, which skips items equal to
stored ones.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import NotRequired, TypedDict

# Limits of the seed (history 500, searches 20) and of this server (everything else).
HISTORY_LIMIT = 500
RECENT_SEARCHES_LIMIT = 20
MAX_FAVORITES = 10_000
MAX_HISTORY_IN = 1_000
MAX_QUEUE = 1_000
MAX_PLAYLISTS = 500
MAX_PLAYLIST_SONGS = 1_000
MAX_SEARCHES_IN = 100

ISO_TIMESTAMP = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3])"
                 r":[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?(Z|z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?$")
# What a pattern means, for error messages a person can act on.
PATTERN_MEANING = {ISO_TIMESTAMP: "must be an ISO 8601 timestamp such as 2025-12-28T10:00:00Z"}


def at_most(limit: int) -> AfterValidator:
    """A cap on a long list, checked after validation and stated in its description.

    Not `maxItems`: the API fuzzer then builds lists of ten thousand nested items to probe
    the boundary, which takes it minutes and, on Python 3.11, crashes it.
    """
    def check(items: list) -> list:
        if len(items) > limit:
            raise ValueError(f"at most {limit} items (got {len(items)})")
        return items
    return AfterValidator(check)


# Strict: `"3"` is not a version and `false` is not a position.
STRICT = ConfigDict(strict=True)

Timestamp = Annotated[str, Field(pattern=ISO_TIMESTAMP, max_length=40,
                                 description="ISO 8601, e.g. 2025-12-28T10:00:00Z")]
VideoId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, Field(max_length=500)]
Url = Annotated[str, Field(max_length=2048)]
PlaylistId = Annotated[str, Field(pattern=r"^(pl|playlist)_[A-Za-z0-9_-]{1,64}$",
                                  description="a device's local `pl_...` id or a server "
                                              "`playlist_...` id")]
SessionId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
DeviceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
Version = Annotated[int, Field(ge=0, le=2**62, strict=True)]


@with_config(STRICT)
class Favorite(TypedDict):
    videoId: VideoId
    title: NotRequired[Text | None]
    artist: NotRequired[Text | None]
    artwork: NotRequired[Url | None]
    duration: NotRequired[Annotated[float, Field(ge=0, le=10**7)] | None]
    language: NotRequired[Annotated[str, Field(max_length=32)] | None]
    genres: NotRequired[Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)]]
    addedAt: Timestamp


@with_config(STRICT)
class HistoryEntry(TypedDict):
    videoId: VideoId
    title: NotRequired[Text | None]
    artist: NotRequired[Text | None]
    artwork: NotRequired[Url | None]
    playedAt: Timestamp
    completionRate: NotRequired[Annotated[float, Field(ge=0, le=1)] | None]
    source: NotRequired[Annotated[str, Field(max_length=64)] | None]


@with_config(STRICT)
class QueueItem(TypedDict):
    videoId: VideoId
    title: NotRequired[Text | None]
    artist: NotRequired[Text | None]
    artwork: NotRequired[Url | None]
    position: NotRequired[Annotated[int, Field(ge=0, le=MAX_QUEUE)] | None]
    addedAt: NotRequired[Timestamp | None]


@with_config(STRICT)
class QueueStateIn(TypedDict):
    """Where playback is in the queue: the index of the current item and the seconds into it."""

    current: NotRequired[Annotated[int, Field(ge=0, le=MAX_QUEUE)]]
    positionSec: NotRequired[Annotated[float, Field(ge=0, le=10**7)]]


@with_config(STRICT)
class QueueState(TypedDict):
    current: int
    positionSec: float
    updatedAt: str | None
    device: str | None


@with_config(STRICT)
class PlaylistSong(TypedDict):
    videoId: VideoId
    title: NotRequired[Text | None]
    artist: NotRequired[Text | None]
    artwork: NotRequired[Url | None]
    duration: NotRequired[Annotated[float, Field(ge=0, le=10**7)] | None]
    addedAt: NotRequired[Timestamp | None]


@with_config(STRICT)
class Playlist(TypedDict):
    id: PlaylistId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: NotRequired[Annotated[str, Field(max_length=2000)] | None]
    songs: NotRequired[Annotated[list[PlaylistSong], at_most(MAX_PLAYLIST_SONGS),
                                 Field(description=f"at most {MAX_PLAYLIST_SONGS}")]]
    song_count: NotRequired[Annotated[int, Field(ge=0)]]
    cover_urls: NotRequired[Annotated[list[Url], Field(max_length=4)]]
    is_public: NotRequired[bool]
    created_at: NotRequired[Timestamp | None]
    updated_at: NotRequired[Timestamp | None]


@with_config(STRICT)
class Preferences(TypedDict):
    shuffle: NotRequired[bool]
    repeat: NotRequired[Literal["off", "all", "one"]]
    volume: NotRequired[Annotated[float, Field(ge=0, le=1)]]


Search = Annotated[str, Field(min_length=1, max_length=200)]
FavoriteList = Annotated[list[Favorite], at_most(MAX_FAVORITES),
                         Field(description=f"at most {MAX_FAVORITES}")]
HistoryList = Annotated[list[HistoryEntry], at_most(MAX_HISTORY_IN),
                        Field(description=f"at most {MAX_HISTORY_IN}; the newest "
                                          f"{HISTORY_LIMIT} are kept")]
QueueList = Annotated[list[QueueItem], at_most(MAX_QUEUE), Field(description=f"at most {MAX_QUEUE}")]
PlaylistList = Annotated[list[Playlist], at_most(MAX_PLAYLISTS),
                         Field(description=f"at most {MAX_PLAYLISTS}")]
SearchList = Annotated[list[Search], at_most(MAX_SEARCHES_IN),
                       Field(description=f"at most {MAX_SEARCHES_IN}; the newest "
                                         f"{RECENT_SEARCHES_LIMIT} are kept")]

QUEUE_STATE_DOC = ("the index of the playing item in `queue` and the seconds into it; sent "
                   "with `queue` (left out, a changed queue starts at 0, 0)")
SINCE_DOC = ("the `version` this device last received from the server; leave it out on a "
             "device's first sync (then nothing it lacks counts as deleted)")


@with_config(STRICT)
class SyncRequest(TypedDict):
    since: NotRequired[Annotated[Version | None, Field(description=SINCE_DOC)]]
    device_id: NotRequired[DeviceId | None]
    favorites: NotRequired[FavoriteList]
    history: NotRequired[HistoryList]
    queue: NotRequired[QueueList]
    queue_state: NotRequired[Annotated[QueueStateIn, Field(description=QUEUE_STATE_DOC)]]
    playlists: NotRequired[PlaylistList]
    preferences: NotRequired[Preferences]
    recent_searches: NotRequired[SearchList]


@with_config(STRICT)
class FavoritesPut(TypedDict):
    favorites: FavoriteList
    since: NotRequired[Annotated[Version | None, Field(description=SINCE_DOC)]]
    device_id: NotRequired[DeviceId | None]


@with_config(STRICT)
class HistoryPut(TypedDict):
    history: HistoryList
    since: NotRequired[Version | None]
    device_id: NotRequired[DeviceId | None]


@with_config(STRICT)
class QueuePut(TypedDict):
    queue: QueueList
    queue_state: NotRequired[Annotated[QueueStateIn, Field(description=QUEUE_STATE_DOC)]]
    since: NotRequired[Version | None]
    device_id: NotRequired[DeviceId | None]


@with_config(STRICT)
class PlaylistsPut(TypedDict):
    playlists: PlaylistList
    since: NotRequired[Annotated[Version | None, Field(description=SINCE_DOC)]]
    device_id: NotRequired[DeviceId | None]


@with_config(STRICT)
class PreferencesPut(TypedDict):
    preferences: Preferences
    since: NotRequired[Version | None]
    device_id: NotRequired[DeviceId | None]


@with_config(STRICT)
class RecentSearchesPut(TypedDict):
    recent_searches: SearchList
    since: NotRequired[Version | None]
    device_id: NotRequired[DeviceId | None]


@with_config(STRICT)
class Library(TypedDict):
    """The merged library a device stores (GET /api/me/library, and every write's answer)."""

    version: int
    full_replacement: bool
    playlist_id_map: dict[str, str]
    favorites: list[Favorite]
    history: list[HistoryEntry]
    total_songs_played: int
    queue: list[QueueItem]
    queue_state: QueueState
    playlists: list[Playlist]
    preferences: Preferences
    recent_searches: list[str]
    updated_at: str | None


@with_config(STRICT)
class SessionPing(TypedDict):
    session_id: SessionId


@with_config(STRICT)
class SessionStatus(TypedDict):
    active_sessions: int
    multiple_sessions: bool


SECTION_FIELDS = ("favorites", "history", "queue", "playlists", "preferences", "recent_searches")

ADAPTERS: dict[type, TypeAdapter] = {}


def adapter(shape: type) -> TypeAdapter:
    if shape not in ADAPTERS:
        ADAPTERS[shape] = TypeAdapter(shape)
    return ADAPTERS[shape]


def item_path(loc: tuple) -> str:
    """('favorites', 3, 'addedAt') -> 'favorites[3].addedAt'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


def error_lines(error: ValidationError, prefix: tuple = ()) -> list[str]:
    """Each problem as `path: message`, the path starting with `prefix` (where the value sat)."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        pattern = (problem.get("ctx") or {}).get("pattern")
        message = PATTERN_MEANING.get(pattern, problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{item_path(prefix + tuple(problem['loc']))}: {message}")
    return lines


def summarize(lines: list[str], limit: int = 5) -> str:
    """The first few problems, each naming the item: `favorites[3].addedAt: ...`."""
    parts = lines[:limit]
    if len(lines) > limit:
        parts.append(f"and {len(lines) - limit} more")
    return "; ".join(parts)


def describe_errors(error: ValidationError, limit: int = 5) -> str:
    return summarize(error_lines(error), limit)


class CollectionTracksQuery(BaseModel):
    """`ids`: comma-separated collection track ids (`tr-…`); the first 100 are looked up.

    Letters, digits, `_`, `-` and commas only, 2,500 characters at most: 100 ids, a short URL."""

    ids: str = Field("", max_length=2500, pattern=r"^[A-Za-z0-9_,-]*$")


@with_config(STRICT)
class CollectionTrack(TypedDict):
    id: str
    title: str
    artist: str
    album: str


@with_config(STRICT)
class CollectionTracks(TypedDict):
    music: bool  # false: music-library is not enabled, no id has a collection name
    tracks: list[CollectionTrack]
