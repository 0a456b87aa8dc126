"""Album and song lists, and search: getAlbumList2/getAlbumList, random songs, genres, search3/search2."""

from __future__ import annotations

from collections import Counter

from mediahub_subsonic_api import shapes
from mediahub_subsonic_api.endpoints import Call, endpoint
from mediahub_subsonic_api.marks import marks_of
from mediahub_subsonic_api.models import Rating
from mediahub_subsonic_api.wire import SubsonicError, missing

CATALOG_TYPES = {"newest", "random", "alphabeticalByName", "alphabeticalByArtist", "byYear",
                 "byGenre"}
# Computed here from what library-sync and our ratings know, then loaded by id.
LIBRARY_TYPES = {"frequent", "recent", "starred", "highest"}
MAX_LIST = 500
HISTORY_SCAN = 500  # library-sync keeps the newest 500 plays


async def album_list(call: Call) -> list:
    """The albums of getAlbumList(2) for the request's type, size and offset."""
    catalog = await call.catalog()
    params = call.params
    kind = params.str("type", required=True)
    size = params.int("size", 10, minimum=0, maximum=MAX_LIST)
    offset = params.int("offset", 0, minimum=0)
    if kind in CATALOG_TYPES:
        genre = params.str("genre")
        from_year, to_year = params.int("fromYear"), params.int("toYear")
        if kind == "byGenre" and not genre:
            raise missing("genre")
        if kind == "byYear" and (from_year is None or to_year is None):
            raise missing("fromYear" if from_year is None else "toYear")
        return await catalog.album_list(call.user, kind, size=size, offset=offset, genre=genre,
                                        from_year=from_year, to_year=to_year)
    if kind not in LIBRARY_TYPES:
        raise SubsonicError(SubsonicError.GENERIC, f"unknown album list type: {kind[:40]}")
    ids = await library_album_ids(call, kind)
    return await catalog.albums(call.user, ids[offset:offset + size]) if size else []


async def library_album_ids(call: Call, kind: str) -> list[str]:
    if kind == "starred":
        marks = await marks_of(call)
        starred = [(when, item) for item, when in marks.starred.items() if item.startswith("al-")]
        return [item for _, item in sorted(starred, reverse=True)]
    if kind == "highest":
        rows = await Rating.filter(user=call.user, item_id__startswith="al-").order_by("-rating", "item_id")
        return [row.item_id for row in rows]
    library = await call.library()
    plays = [item.get("videoId") for item in await library.history(call.user, limit=HISTORY_SCAN)]
    plays = [video_id for video_id in plays if isinstance(video_id, str)]
    catalog = await call.catalog()
    album_of = {t.id: t.album_id for t in await catalog.tracks(call.user, list(dict.fromkeys(plays)))}
    albums = [album_of[video_id] for video_id in plays if video_id in album_of]
    if kind == "recent":
        return list(dict.fromkeys(albums))  # history comes newest first
    counts = Counter(albums)
    first_seen = {album: i for i, album in reversed(list(enumerate(albums)))}
    return sorted(counts, key=lambda album: (-counts[album], first_seen[album]))


@endpoint("getAlbumList2")
async def get_album_list2(call: Call) -> dict:
    albums = await album_list(call)
    marks = await marks_of(call)
    return {"albumList2": {"album": [shapes.album_id3(a, marks) for a in albums]}}


@endpoint("getAlbumList")
async def get_album_list(call: Call) -> dict:
    albums = await album_list(call)
    marks = await marks_of(call)
    return {"albumList": {"album": [shapes.album_child(a, marks) for a in albums]}}


@endpoint("getRandomSongs")
async def get_random_songs(call: Call) -> dict:
    catalog = await call.catalog()
    params = call.params
    tracks = await catalog.random_tracks(
        call.user, size=params.int("size", 10, minimum=0, maximum=MAX_LIST),
        genre=params.str("genre"), from_year=params.int("fromYear"), to_year=params.int("toYear"))
    marks = await marks_of(call)
    return {"randomSongs": {"song": [shapes.song(t, marks) for t in tracks]}}


@endpoint("getSongsByGenre")
async def get_songs_by_genre(call: Call) -> dict:
    catalog = await call.catalog()
    params = call.params
    tracks = await catalog.tracks_by_genre(
        call.user, params.str("genre", required=True),
        size=params.int("count", 10, minimum=0, maximum=MAX_LIST),
        offset=params.int("offset", 0, minimum=0))
    marks = await marks_of(call)
    return {"songsByGenre": {"song": [shapes.song(t, marks) for t in tracks]}}


def search_query(raw: str | None) -> str:
    # Symfonium syncs with query="" and some apps send the two quote characters themselves:
    # both mean everything.
    query = (raw or "").strip()
    if query in ('""', "''", "*"):
        return ""
    return query.strip('"')


async def search(call: Call):
    catalog = await call.catalog()
    params = call.params
    return await catalog.search(
        call.user, search_query(params.str("query")),
        artist_count=params.int("artistCount", 20, minimum=0, maximum=MAX_LIST),
        artist_offset=params.int("artistOffset", 0, minimum=0),
        album_count=params.int("albumCount", 20, minimum=0, maximum=MAX_LIST),
        album_offset=params.int("albumOffset", 0, minimum=0),
        song_count=params.int("songCount", 20, minimum=0, maximum=MAX_LIST),
        song_offset=params.int("songOffset", 0, minimum=0))


@endpoint("search3")
async def search3(call: Call) -> dict:
    result = await search(call)
    marks = await marks_of(call)
    return {"searchResult3": {
        "artist": [shapes.artist_id3(a, marks) for a in result.artists],
        "album": [shapes.album_id3(a, marks) for a in result.albums],
        "song": [shapes.song(t, marks) for t in result.tracks],
    }}


@endpoint("search2")
async def search2(call: Call) -> dict:
    result = await search(call)
    marks = await marks_of(call)
    return {"searchResult2": {
        "artist": [shapes.artist_plain(a, marks) for a in result.artists],
        "album": [shapes.album_child(a, marks) for a in result.albums],
        "song": [shapes.song(t, marks) for t in result.tracks],
    }}
