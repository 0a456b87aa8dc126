"""The user's library over library-sync: stars, plays, playlists, the play queue; ratings and
now-playing are kept here (library-sync has neither)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mediahub_subsonic_api import shapes
from mediahub_subsonic_api.endpoints import Call, endpoint
from mediahub_subsonic_api.marks import marks_of
from mediahub_subsonic_api.models import NowPlaying, Rating
from mediahub_subsonic_api.params import bad
from mediahub_subsonic_api.wire import SubsonicError, missing, not_found

NOW_PLAYING_MINUTES = 10


def track_item(track) -> dict:
    """A track as library-sync stores it (the seed's item shape, the collection's id)."""
    return {"videoId": track.id, "title": track.title, "artist": track.artist,
            "artwork": track.cover_url, "duration": shapes.seconds(track.duration),
            "genres": list(track.genres)}


async def item_for(call: Call, item_id: str) -> dict:
    """The library-sync item of any collection id the user may see (SubsonicError 70 if none)."""
    catalog = await call.catalog()
    if item_id.startswith("al-"):
        album = await catalog.album(call.user, item_id)
        if album is not None:
            return {"videoId": album.id, "title": album.name, "artist": album.artist,
                    "artwork": album.cover_url}
    elif item_id.startswith("ar-"):
        artist = await catalog.artist(call.user, item_id)
        if artist is not None:
            return {"videoId": artist.id, "title": artist.name, "artwork": artist.cover_url}
    else:
        track = await catalog.track(call.user, item_id)
        if track is not None:
            return track_item(track)
    raise not_found(f"item {item_id[:40]}")


def starred_ids(call: Call) -> list[str]:
    ids = [*call.params.list("id"), *call.params.list("albumId"), *call.params.list("artistId")]
    return list(dict.fromkeys(ids))


@endpoint("star")
async def star(call: Call) -> dict:
    library = await call.library()
    ids = starred_ids(call)
    if not ids:
        raise missing("id")
    items = [await item_for(call, item_id) for item_id in ids]
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    await library.add_favorites(call.user, [{**item, "addedAt": now} for item in items])
    return {}


@endpoint("unstar")
async def unstar(call: Call) -> dict:
    library = await call.library()
    ids = starred_ids(call)
    if not ids:
        raise missing("id")
    await library.remove_favorites(call.user, ids)
    return {}


@endpoint("setRating")
async def set_rating(call: Call) -> dict:
    item_id = call.params.str("id", required=True)
    rating = call.params.int("rating", required=True, minimum=0)
    if rating > 5:
        raise bad("rating", "must be 0 to 5")
    await item_for(call, item_id)
    if rating == 0:
        await Rating.filter(user=call.user, item_id=item_id).delete()
    else:
        updated = await Rating.filter(user=call.user, item_id=item_id).update(rating=rating)
        if not updated:
            await Rating.create(user=call.user, item_id=item_id, rating=rating)
    return {}


async def starred_items(call: Call):
    catalog = await call.catalog()
    marks = await marks_of(call)
    newest_first = [item for _, item in sorted(((when, item) for item, when in marks.starred.items()),
                                                reverse=True)]
    songs = await catalog.tracks(call.user, [i for i in newest_first if i.startswith("tr-")])
    albums = await catalog.albums(call.user, [i for i in newest_first if i.startswith("al-")])
    artists = [artist for artist in [await catalog.artist(call.user, i) for i in newest_first
                                     if i.startswith("ar-")] if artist is not None]
    return marks, artists, albums, songs


@endpoint("getStarred2")
async def get_starred2(call: Call) -> dict:
    marks, artists, albums, songs = await starred_items(call)
    return {"starred2": {"artist": [shapes.artist_id3(a, marks) for a in artists],
                         "album": [shapes.album_id3(a, marks) for a in albums],
                         "song": [shapes.song(t, marks) for t in songs]}}


@endpoint("getStarred")
async def get_starred(call: Call) -> dict:
    marks, artists, albums, songs = await starred_items(call)
    return {"starred": {"artist": [shapes.artist_plain(a, marks) for a in artists],
                        "album": [shapes.album_child(a, marks) for a in albums],
                        "song": [shapes.song(t, marks) for t in songs]}}


def played_at(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        millis = int(raw)
        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise bad("time", "must be milliseconds since 1970") from None


@endpoint("scrobble")
async def scrobble(call: Call) -> dict:
    catalog = await call.catalog()
    ids = call.params.list("id")
    if not ids:
        raise missing("id")
    times = call.params.list("time")
    submission = call.params.bool("submission", True)
    tracks = {t.id: t for t in await catalog.tracks(call.user, ids)}
    if not tracks:
        raise not_found("song")
    if not submission:
        # "Now playing": the last id is what the app plays now.
        track_id = next(i for i in reversed(ids) if i in tracks)
        client = (call.params.str("c") or "unknown")[:64]
        now = datetime.now(timezone.utc)
        updated = await NowPlaying.filter(user=call.user, client=client).update(
            track_id=track_id, updated_at=now)
        if not updated:
            await NowPlaying.create(user=call.user, client=client, track_id=track_id, updated_at=now)
        return {}
    library = await call.library()
    for index, track_id in enumerate(ids):
        if track_id in tracks:
            when = played_at(times[index]) if index < len(times) else None
            await library.add_history(call.user, track_item(tracks[track_id]), played_at=when)
    return {}


@endpoint("getNowPlaying")
async def get_now_playing(call: Call) -> dict:
    catalog = await call.catalog()
    since = datetime.now(timezone.utc) - timedelta(minutes=NOW_PLAYING_MINUTES)
    rows = await NowPlaying.filter(updated_at__gte=since).order_by("-updated_at").prefetch_related("user")
    visible = {t.id: t for t in await catalog.tracks(call.user, list({r.track_id for r in rows}))}
    marks = await marks_of(call)
    now = datetime.now(timezone.utc)
    entries = []
    for row in rows:
        track = visible.get(row.track_id)
        if track is None:
            continue
        entries.append({**shapes.song(track, marks), "username": row.user.username,
                        "minutesAgo": int((now - row.updated_at).total_seconds() // 60),
                        "playerId": row.id, "playerName": row.client})
    return {"nowPlaying": {"entry": entries}}


# -- playlists ----------------------------------------------------------------------------


def playlist_json(call: Call, playlist: dict, tracks: list | None = None) -> dict:
    songs = playlist.get("songs") or []
    duration = (sum(shapes.seconds(t.duration) for t in tracks) if tracks is not None
                else sum(shapes.seconds(s.get("duration")) for s in songs
                         if isinstance(s.get("duration"), (int, float))))
    cover = next((t.cover_id for t in tracks or [] if t.cover_id), None)
    return {"id": str(playlist["id"]), "name": playlist.get("name") or "",
            "comment": playlist.get("description") or None, "owner": call.user.username,
            "public": bool(playlist.get("is_public")),
            "songCount": len(tracks) if tracks is not None else len(songs),
            "duration": duration, "created": shapes.iso(playlist.get("created_at")) or shapes.iso(shapes.EPOCH),
            "changed": shapes.iso(playlist.get("updated_at")) or shapes.iso(shapes.EPOCH),
            "coverArt": cover}


async def visible_tracks(call: Call, songs: list[dict]) -> tuple[list, list[int]]:
    """The playlist's songs the user may see, and each one's index in the stored list."""
    catalog = await call.catalog()
    ids = [s.get("videoId") for s in songs]
    found = {t.id: t for t in await catalog.tracks(call.user, [i for i in ids if isinstance(i, str)])}
    tracks, stored_indexes = [], []
    for index, video_id in enumerate(ids):
        if video_id in found:
            tracks.append(found[video_id])
            stored_indexes.append(index)
    return tracks, stored_indexes


async def playlist_with_songs(call: Call, playlist: dict) -> dict:
    tracks, _ = await visible_tracks(call, playlist.get("songs") or [])
    marks = await marks_of(call)
    return {**playlist_json(call, playlist, tracks), "entry": [shapes.song(t, marks) for t in tracks]}


async def own_playlist(call: Call, playlist_id: str) -> dict:
    library = await call.library()
    playlist = await library.playlist(call.user, playlist_id)
    if playlist is None:
        raise not_found("playlist")
    return playlist


async def songs_to_add(call: Call, name: str) -> list[dict]:
    catalog = await call.catalog()
    ids = call.params.list(name)
    found = {t.id: t for t in await catalog.tracks(call.user, ids)}
    missing_ids = [i for i in ids if i not in found]
    if missing_ids:
        raise not_found(f"song {missing_ids[0][:40]}")
    return [track_item(found[i]) for i in ids]


@endpoint("getPlaylists")
async def get_playlists(call: Call) -> dict:
    username = call.params.str("username")
    if username and username.casefold() != call.user.username.casefold():
        raise SubsonicError(SubsonicError.NOT_AUTHORIZED, "playlists of other users are private")
    library = await call.library()
    playlists = await library.playlists(call.user)
    return {"playlists": {"playlist": [playlist_json(call, p) for p in playlists]}}


@endpoint("getPlaylist")
async def get_playlist(call: Call) -> dict:
    playlist = await own_playlist(call, call.params.str("id", required=True))
    return {"playlist": await playlist_with_songs(call, playlist)}


@endpoint("createPlaylist")
async def create_playlist(call: Call) -> dict:
    library = await call.library()
    playlist_id = call.params.str("playlistId")
    name = call.params.str("name")
    songs = await songs_to_add(call, "songId")
    if playlist_id:
        # Subsonic's createPlaylist with an id replaces the songs of that playlist.
        current = await own_playlist(call, playlist_id)
        playlist = await library.update_playlist(
            call.user, playlist_id, name=name or None, add=songs,
            remove_indexes=list(range(len(current.get("songs") or []))))
    else:
        if not name:
            raise missing("name")
        playlist = await library.create_playlist(call.user, name, songs)
    return {"playlist": await playlist_with_songs(call, playlist)}


@endpoint("updatePlaylist")
async def update_playlist(call: Call) -> dict:
    library = await call.library()
    playlist_id = call.params.str("playlistId", required=True)
    current = await own_playlist(call, playlist_id)
    add = await songs_to_add(call, "songIdToAdd")
    shown, stored_indexes = await visible_tracks(call, current.get("songs") or [])
    remove = []
    for raw in call.params.list("songIndexToRemove"):
        try:
            index = int(raw)
        except ValueError:
            raise bad("songIndexToRemove", "must be a whole number") from None
        if not 0 <= index < len(shown):
            raise bad("songIndexToRemove", f"{index} is not a position in the playlist")
        remove.append(stored_indexes[index])
    public = call.params.bool("public", bool(current.get("is_public")))
    await library.update_playlist(call.user, playlist_id, name=call.params.str("name"),
                                  description=call.params.str("comment"), is_public=public,
                                  add=add, remove_indexes=remove)
    return {}


@endpoint("deletePlaylist")
async def delete_playlist(call: Call) -> dict:
    library = await call.library()
    if not await library.delete_playlist(call.user, call.params.str("id", required=True)):
        raise not_found("playlist")
    return {}


# -- play queue ---------------------------------------------------------------------------


@endpoint("getPlayQueue")
async def get_play_queue(call: Call) -> dict:
    library = await call.library()
    catalog = await call.catalog()
    queue = await library.queue(call.user)
    items = [item.get("videoId") for item in queue.get("items") or []]
    if not items:
        return {}
    found = {t.id: t for t in await catalog.tracks(call.user, [i for i in items if isinstance(i, str)])}
    marks = await marks_of(call)
    current_index = queue.get("current") or 0
    current = items[current_index] if 0 <= current_index < len(items) else None
    return {"playQueue": {
        "current": current if current in found else None,
        "position": int(round(float(queue.get("positionSec") or 0) * 1000)),
        "username": call.user.username,
        "changed": shapes.iso(queue.get("updatedAt")) or shapes.iso(shapes.EPOCH),
        "changedBy": queue.get("device") or "",
        "entry": [shapes.song(found[i], marks) for i in items if i in found],
    }}


@endpoint("savePlayQueue")
async def save_play_queue(call: Call) -> dict:
    library = await call.library()
    catalog = await call.catalog()
    ids = call.params.list("id")
    found = {t.id: t for t in await catalog.tracks(call.user, ids)}
    kept = [i for i in ids if i in found]
    current = call.params.str("current")
    position_ms = call.params.int("position", 0, minimum=0)
    current_index = kept.index(current) if current in kept else 0
    await library.save_queue(call.user, [track_item(found[i]) for i in kept], current=current_index,
                             position_sec=position_ms / 1000, device=call.params.str("c"))
    return {}
