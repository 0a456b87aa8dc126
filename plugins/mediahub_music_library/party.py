"""Collection tracks in a listening party: listen-party's track-source hooks, source `collection`.

A member's browser gets a signed stream link (`?exp=&sig=`, valid `media_url_ttl`
seconds) instead of needing an account that sees the folder: the party's stable link
redirects to a fresh one whenever a guest (re)loads the track.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from mediahub import check_media_signature, current_host, media_signature
from mediahub_music_library.rows import stream_url
from mediahub_music_library.models import MusicTrack

SOURCE = "collection"
SIGNED_AS = "music-library"  # the "backend" part of the signed message: only this plugin's links


def signed_stream_url(track_id: str) -> str:
    host = current_host()
    expires = int(time.time()) + host.settings.server.media_url_ttl
    signature = media_signature(host.secret_key, SIGNED_AS, track_id, expires)
    return f"{stream_url(track_id)}?{urlencode({'exp': expires, 'sig': signature})}"


def signature_problem(track_id: str, exp: str | None, sig: str | None) -> str | None:
    """None if `exp`/`sig` sign this track's stream and have not expired, else why not."""
    return check_media_signature(current_host().secret_key, SIGNED_AS, track_id, exp, sig, time.time())


def sources(user) -> list[dict]:
    return [{"source": SOURCE, "label": "From the music collection", "picker": "list"}]


def party_title(track) -> str:
    return f"{track.artist} — {track.title}" if track.artist else track.title


async def resolve(track_id: str, user) -> dict | None:
    """The track if the choosing member sees it (their folders, their or shared uploads)."""
    from mediahub_music_library.api import catalog

    track = await catalog.track(user, track_id) if isinstance(track_id, str) else None
    if track is None:
        return None
    return {"trackId": track.id, "title": party_title(track), "durationSec": track.duration,
            "url": signed_stream_url(track.id), "refresh": "stream", "media_id": None,
            "artist": track.artist, "album": track.album, "coverUrl": track.cover_url}


async def fresh_url(track_id: str) -> str | None:
    """A freshly signed link, unless the track left the collection (members then get 404)."""
    if not await MusicTrack.exists(id=track_id, present=True):
        return None
    return signed_stream_url(track_id)


async def search(user, query: str, limit: int) -> list[dict]:
    from mediahub_music_library.api import catalog

    limit = max(0, min(int(limit), 500))
    if query.strip():
        tracks = (await catalog.search(user, query, artist_count=0, album_count=0,
                                       song_count=limit)).tracks
    else:
        tracks = await catalog.newest_tracks(user, size=limit)
    return [{"source": SOURCE, "trackId": track.id, "title": party_title(track),
             "durationSec": track.duration} for track in tracks]
