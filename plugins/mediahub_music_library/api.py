"""The collection's JSON API for the browser pages (the table in docs/music-library.md)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from quart import Blueprint, current_app, request
from quart_schema import document_response, validate_request

from mediahub import (BadRequest, Forbidden, NotFound, Unauthorized, current_user, media_route,
                      require_user)
from mediahub_music_library import schemas
from mediahub_music_library.catalog import ALBUM_LIST_TYPES, Catalog
from mediahub_music_library.models import MusicTrack
from mediahub_music_library.shapes import as_json

blueprint = Blueprint("music_api", __name__)
catalog = Catalog()

ID = re.compile(r"^(tr|al|ar)-[0-9a-f]{1,32}$")
MAX_QUERY = 200
WHOLE_NUMBER = re.compile(r"^-?[0-9]{1,9}$")


def int_arg(name: str, default: int | None, low: int = 0, high: int = 500) -> int | None:
    """A whole-number query parameter within [low, high]; a clear 400 otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not WHOLE_NUMBER.match(raw):
        raise BadRequest(f"{name}: a whole number", code="invalid_request")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name}: between {low} and {high}", code="invalid_request")
    return value


def text_arg(name: str, limit: int = MAX_QUERY) -> str | None:
    value = request.args.get(name)
    if value is not None and (len(value) > limit or "\x00" in value):
        raise BadRequest(f"{name}: at most {limit} characters, no NUL", code="invalid_request")
    return value


def seconds_arg(name: str, high: float = 86400.0) -> float:
    """A non-negative number of seconds such as `12` or `12.5`; 0 when absent."""
    raw = request.args.get(name)
    if not raw:
        return 0.0
    whole, _, fraction = raw.partition(".")
    if not (whole.isascii() and whole.isdigit() and (fraction == "" or fraction.isdigit())
            and len(raw) <= 12) or float(raw) > high:
        raise BadRequest(f"{name}: seconds between 0 and {high:g}", code="invalid_request")
    return float(raw)


def year_args() -> dict:
    return {"from_year": int_arg("fromYear", None, 0, 9999), "to_year": int_arg("toYear", None, 0, 9999)}


def checked_id(value: str, prefix: str) -> str:
    """Ids are server-made (`tr-<hex>`); anything else is simply not found."""
    if not ID.match(value) or not value.startswith(prefix + "-"):
        raise NotFound(f"no such {dict(tr='track', al='album', ar='artist')[prefix]}")
    return value


@blueprint.get("/api/music/folders")
@document_response(schemas.Folders, 200)
@require_user
async def folders():
    return {"folders": as_json(await catalog.folders(await current_user()))}


@blueprint.get("/api/music/artists")
@document_response(schemas.Artists, 200)
@require_user
async def artists():
    folder_id = int_arg("folderId", None, 0, 2**31 - 1)
    return {"artists": as_json(await catalog.artists(await current_user(), folder_id=folder_id))}


@blueprint.get("/api/music/artists/<artist_id>")
@document_response(schemas.ArtistPage, 200)
@require_user
async def artist(artist_id: str):
    user = await current_user()
    found = await catalog.artist(user, checked_id(artist_id, "ar"))
    if found is None:
        raise NotFound("no such artist")
    return {"artist": as_json(found), "albums": as_json(await catalog.artist_albums(user, artist_id))}


@blueprint.get("/api/music/albums")
@document_response(schemas.Albums, 200)
@require_user
async def albums():
    kind = request.args.get("type") or "newest"
    if kind not in ALBUM_LIST_TYPES:
        raise BadRequest(f"type: one of {', '.join(ALBUM_LIST_TYPES)}", code="invalid_request")
    found = await catalog.album_list(await current_user(), kind, size=int_arg("size", 50),
                                     offset=int_arg("offset", 0, high=10**8),
                                     genre=text_arg("genre"), **year_args())
    return {"albums": as_json(found)}


@blueprint.get("/api/music/albums/<album_id>")
@document_response(schemas.AlbumPage, 200)
@require_user
async def album(album_id: str):
    user = await current_user()
    found = await catalog.album(user, checked_id(album_id, "al"))
    if found is None:
        raise NotFound("no such album")
    return {"album": as_json(found), "tracks": as_json(await catalog.album_tracks(user, album_id))}


@blueprint.get("/api/music/tracks")
@document_response(schemas.Tracks, 200)
@require_user
async def tracks():
    raw = text_arg("ids", limit=20000) or ""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if len(ids) > 500:
        raise BadRequest("ids: at most 500", code="invalid_request")
    return {"tracks": as_json(await catalog.tracks(await current_user(), ids))}


@blueprint.get("/api/music/tracks/<track_id>")
@document_response(schemas.OneTrack, 200)
@require_user
async def track(track_id: str):
    found = await catalog.track(await current_user(), checked_id(track_id, "tr"))
    if found is None:
        raise NotFound("no such track")
    return {"track": as_json(found)}


@blueprint.get("/api/music/tracks/<track_id>/lyrics")
@document_response(schemas.Lyrics, 200)
@require_user
async def lyrics(track_id: str):
    user = await current_user()
    if await catalog.track(user, checked_id(track_id, "tr")) is None:
        raise NotFound("no such track")
    return {"lyrics": await catalog.lyrics(user, track_id)}


class SharedBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    shared: bool


@blueprint.put("/api/music/tracks/<track_id>/shared")
@document_response(schemas.OneTrack, 200)
@require_user
@validate_request(SharedBody)
async def share(track_id: str, data: SharedBody):
    """The uploader of an uploaded track lets everybody see it (or takes it back)."""
    user = await current_user()
    found = await catalog.track(user, checked_id(track_id, "tr"))
    if found is None:
        raise NotFound("no such track")
    if not found.mine:
        raise Forbidden("only the uploader of an uploaded track may share it")
    await MusicTrack.filter(id=track_id).update(shared=data.shared)
    return {"track": as_json(await catalog.track(user, track_id))}


@blueprint.get("/api/music/genres")
@document_response(schemas.Genres, 200)
@require_user
async def genres():
    return {"genres": as_json(await catalog.genres(await current_user()))}


@blueprint.get("/api/music/genres/<genre>/tracks")
@document_response(schemas.Tracks, 200)
@require_user
async def genre_tracks(genre: str):
    if len(genre) > 200 or "\x00" in genre:
        raise NotFound("no such genre")
    found = await catalog.tracks_by_genre(await current_user(), genre, size=int_arg("size", 50),
                                          offset=int_arg("offset", 0, high=10**8))
    return {"tracks": as_json(found)}


@blueprint.get("/api/music/random")
@document_response(schemas.Tracks, 200)
@require_user
async def random_tracks():
    found = await catalog.random_tracks(await current_user(), size=int_arg("size", 50),
                                        genre=text_arg("genre"), **year_args())
    return {"tracks": as_json(found)}


@blueprint.get("/api/music/search")
@document_response(schemas.SearchResult, 200)
@require_user
async def search():
    big = 10**8
    found = await catalog.search(
        await current_user(), text_arg("q") or "",
        artist_count=int_arg("artistCount", 20), artist_offset=int_arg("artistOffset", 0, high=big),
        album_count=int_arg("albumCount", 20), album_offset=int_arg("albumOffset", 0, high=big),
        song_count=int_arg("songCount", 20), song_offset=int_arg("songOffset", 0, high=big))
    return as_json(found)


@blueprint.route("/api/music/tracks/<track_id>/stream", methods=["GET", "HEAD"])
@media_route
async def stream(track_id: str):
    """The original (Range, conditional) or, with `format`/`maxBitRate`/`timeOffset`, a transcode.

    A signed link (`exp` + `sig`, what a party hands its members) needs no sign-in.
    """
    from mediahub_music_library.party import signature_problem
    from mediahub_music_library.streaming import track_audio

    track_id = checked_id(track_id, "tr")
    options = dict(format=text_arg("format", limit=8) or None,
                   max_bitrate=int_arg("maxBitRate", None, 0, 100000) or None,
                   time_offset=seconds_arg("timeOffset"))
    if "sig" in request.args or "exp" in request.args:
        problem = signature_problem(track_id, request.args.get("exp"), request.args.get("sig"))
        if problem:
            raise Forbidden(problem)
        track = await MusicTrack.get_or_none(id=track_id, present=True)
        if track is None:
            raise NotFound("no such track")
        return await track_audio(track, None, **options)
    user = await current_user()
    if user is None:
        raise Unauthorized("sign in first", headers={"WWW-Authenticate": "Bearer"})
    return await catalog.stream_response(user, track_id, **options)


@blueprint.route("/api/music/covers/<cover_id>", methods=["GET", "HEAD"])
@media_route
@require_user
async def cover(cover_id: str):
    return await catalog.cover_response(cover_id, size=int_arg("size", None, 1, 4000))


@blueprint.get("/api/music/status")
@document_response(schemas.Status, 200)
@require_user
async def status():
    """What is indexed, whether a scan runs (and how far it got), the last scan's counts."""
    from mediahub_music_library.service import status as library_status

    return await library_status()


@blueprint.post("/api/music/scan")
@document_response(schemas.ScanStarted, 202)
@require_user
async def scan():
    """Admins: rescan every folder now, in the background (202); poll /api/music/status."""
    from mediahub import current_host
    from mediahub_music_library.service import LibraryService

    if not (await current_user()).is_admin:
        raise Forbidden("only an admin may start a scan")
    service = current_app.extensions.get("music_library")
    if service is None:  # not serving (watch and scan_on_start off): a service for this scan
        service = LibraryService(current_host().plugin_config("music_library"))
        current_app.extensions["music_library"] = service
    service.scan_soon("admin")
    return {"scanning": True}, 202
