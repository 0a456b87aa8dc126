"""Media retrieval: stream (maxBitRate, format, timeOffset), download, getCoverArt, lyrics."""

from __future__ import annotations

from urllib.parse import quote

from quart import Response

from mediahub_subsonic_api import lyrics as lyrics_text
from mediahub_subsonic_api.endpoints import Call, endpoint
from mediahub_subsonic_api.wire import not_found

COVER_OWNERS = ("tr-", "al-", "ar-")
MAX_COVER_SIZE = 4096


def checked(response: Response | None, what: str) -> Response:
    if response is None:
        raise not_found(what)
    return response


@endpoint("stream")
async def stream(call: Call) -> Response:
    catalog = await call.catalog()
    params = call.params
    track_id = params.str("id", required=True)
    fmt = params.str("format")
    max_bitrate = params.int("maxBitRate", 0, minimum=0)
    time_offset = params.float("timeOffset", 0.0)
    # The catalog checks the id and who may play it (NotFound is Subsonic's 70).
    return checked(await catalog.stream_response(
        call.user, track_id, format=fmt or None, max_bitrate=max_bitrate or None,
        time_offset=time_offset or 0), "song")


@endpoint("download")
async def download(call: Call) -> Response:
    catalog = await call.catalog()
    track_id = call.params.str("id", required=True)
    track = await catalog.track(call.user, track_id)
    if track is None:
        raise not_found("song")
    response = checked(await catalog.stream_response(call.user, track_id, format="raw"), "song")
    filename = f"{track.title}.{track.suffix}" if track.suffix else track.title
    # RFC 6266: an ASCII fallback and the UTF-8 name.
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}")
    return response


@endpoint("getCoverArt")
async def get_cover_art(call: Call) -> Response:
    catalog = await call.catalog()
    cover_id = call.params.str("id", required=True)
    size = call.params.int("size", minimum=1, maximum=MAX_COVER_SIZE)
    # Apps pass an album's, artist's or song's id as well as a coverArt id.
    if cover_id.startswith(COVER_OWNERS):
        owner = cover_id
        if owner.startswith("tr-"):
            item = await catalog.track(call.user, owner)
        elif owner.startswith("al-"):
            item = await catalog.album(call.user, owner)
        else:
            item = await catalog.artist(call.user, owner)
        if item is None or not item.cover_id:
            raise not_found("cover art")
        cover_id = item.cover_id
    return checked(await catalog.cover_response(cover_id, size=size), "cover art")


@endpoint("getLyricsBySongId")
async def get_lyrics_by_song_id(call: Call) -> dict:
    catalog = await call.catalog()
    track = await catalog.track(call.user, call.params.str("id", required=True))
    if track is None:
        raise not_found("song")
    text = await catalog.lyrics(call.user, track.id)
    entries = [lyrics_text.structured(text, artist=track.artist, title=track.title)] if text else []
    return {"lyricsList": {"structuredLyrics": entries}}


@endpoint("getLyrics")
async def get_lyrics(call: Call) -> dict:
    """The legacy lookup by artist and title: the first matching song that has lyrics."""
    catalog = await call.catalog()
    artist = call.params.str("artist") or ""
    title = call.params.str("title") or ""
    if not title:
        return {"lyrics": {}}
    result = await catalog.search(call.user, f"{artist} {title}".strip(), artist_count=0,
                                  album_count=0, song_count=20)
    for track in result.tracks:
        if track.has_lyrics and track.title.casefold() == title.casefold():
            text = await catalog.lyrics(call.user, track.id)
            if text:
                plain = lyrics_text.structured(text, artist=track.artist, title=track.title)
                return {"lyrics": {"artist": track.artist, "title": track.title,
                                   "value": "\n".join(line["value"] for line in plain["line"])}}
    return {"lyrics": {}}
