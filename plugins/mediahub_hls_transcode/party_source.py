"""The "library" track source of listen-party: a user's ready HLS tracks, played through hls.js."""

from __future__ import annotations

import uuid
from typing import Any

from tortoise.expressions import Q

from mediahub import current_host
from mediahub_hls_transcode.models import Track
from mediahub_hls_transcode.store import READY, signed_playlist_url

LIBRARY = "library"


def title_of(track: Track) -> str:
    if track.title and track.artist_name:
        return f"{track.title} — {track.artist_name}"
    return track.title or track.artist_name or "Untitled"


async def ready_track(track_id: str, owner_id: Any = None) -> Track | None:
    """A ready track (of `owner_id` when given), else None."""
    try:
        conditions: dict[str, Any] = {"id": uuid.UUID(str(track_id))}
    except ValueError:
        return None
    if owner_id is not None:
        conditions["owner_id"] = owner_id
    track = await Track.get_or_none(**conditions)
    if track is None or not track.master_ready or track.status != READY:
        return None
    return track


def master_url(track: Track) -> str:
    """A freshly signed master playlist URL; its variants are signed too."""
    return signed_playlist_url(track, "master.m3u8", current_host().settings.server.media_url_ttl)


async def resolve(track_id: str, user) -> dict[str, Any] | None:
    """A ready track of the selecting user's own library. No `media_id`: the library's
    objects are not the party's to delete when the track changes."""
    track = await ready_track(track_id, user.id)
    if track is None:
        return None
    return {"trackId": str(track.id), "title": title_of(track), "url": master_url(track),
            "refresh": "master.m3u8", "durationSec": track.duration_seconds}


async def fresh_url(track_id: str) -> str | None:
    """Checked when its host selected it: it stays playable if the host role moves on."""
    track = await ready_track(track_id)
    return master_url(track) if track is not None else None


async def search(user, query: str, limit: int) -> list[dict[str, Any]]:
    """The user's ready tracks, newest first; `query` matches title or artist."""
    tracks = Track.filter(owner_id=user.id, status=READY, master_ready=True)
    if query:
        tracks = tracks.filter(Q(title__icontains=query) | Q(artist_name__icontains=query))
    found = await tracks.order_by("-created_at").limit(limit)
    return [{"source": LIBRARY, "trackId": str(t.id), "title": title_of(t),
             "durationSec": t.duration_seconds} for t in found]
