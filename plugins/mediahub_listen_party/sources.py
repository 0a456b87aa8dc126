"""Where a party's tracks come from: seed uploads, the host's temporary uploads, the hls-transcode library.

A host command names a track by `source` and `trackId`; this module turns that into the
server's own track description (never what the client claimed). The other plugins are
reached only when they are enabled: cloudinary-temp through the public functions of its
loaded plugin object, hls-transcode through its public store functions.
"""

from __future__ import annotations

import uuid
from typing import Any

from mediahub import current_host
from mediahub_listen_party.models import PartyTrack
from mediahub_listen_party.protocol import ProtocolError

UPLOAD_TRACK, TEMP_UPLOAD, LIBRARY = "upload-track", "temp-upload", "library"
SOURCES = (UPLOAD_TRACK, TEMP_UPLOAD, LIBRARY)
TEMP_PLUGIN, LIBRARY_PLUGIN = "cloudinary-temp", "hls-transcode"


def enabled_plugin(name: str) -> Any:
    """The loaded plugin object of an enabled plugin, else None."""
    for record in current_host().plugins.enabled():
        if record.name == name:
            return record.plugin
    return None


def temp_uploads_enabled() -> bool:
    return enabled_plugin(TEMP_PLUGIN) is not None


def library_enabled() -> bool:
    return enabled_plugin(LIBRARY_PLUGIN) is not None


async def name_session_host(session_id: str, user_id) -> None:
    """Tell cloudinary-temp who hosts the party's session, so that they may delete its uploads.

    Called when a party starts and when the host role moves; without the plugin, a no-op.
    """
    setter = getattr(enabled_plugin(TEMP_PLUGIN), "set_session_host", None)
    if setter is not None:
        await setter(session_id, user_id)


def library_url(code: str, track_id: str) -> str:
    """A stable URL for the party's library track: it redirects to a freshly signed master
    playlist, so a guest joining hours later never gets an expired link."""
    return f"/api/parties/{code}/library/{track_id}/master.m3u8"


async def resolve(party, host_id: str, source: object, track_id: str) -> dict[str, Any]:
    """The track a host selected, described by the server; ProtocolError if it cannot play."""
    source = UPLOAD_TRACK if source is None else source
    if source == UPLOAD_TRACK:
        # Only the host's own uploads: a track id seen in someone else's party is no key
        # to their file.
        track = (await PartyTrack.get_or_none(id=track_id, owner_id=host_id)
                 if len(track_id) <= 32 else None)
        if track is not None:
            return {"source": UPLOAD_TRACK, "trackId": track.id,
                    "trackUrl": f"/api/track/{track.id}", "filename": track.filename,
                    "media_id": str(track.media_id)}
    elif source == TEMP_UPLOAD:
        return await temp_track(party, host_id, track_id)
    elif source == LIBRARY:
        return await library_track(party, host_id, track_id)
    else:
        raise ProtocolError("bad_frame", f"source is one of {', '.join(SOURCES)}")
    raise ProtocolError("no_such_track", "no such track")


async def temp_track(party, host_id: str, public_id: str) -> dict[str, Any]:
    """A temporary upload of this party's session (cloudinary-temp's `track_changed` and
    `session_ended` find it again by `media_id` / `publicId` and delete it)."""
    plugin = enabled_plugin(TEMP_PLUGIN)
    if plugin is None:
        raise ProtocolError("source_unavailable", "temporary uploads are not enabled here")
    upload = await plugin.session_upload(str(party.id), public_id)
    if upload is None:
        raise ProtocolError("no_such_track", "no such temporary upload in this party")
    # The session's host may have been forgotten by cloudinary-temp's sweep meanwhile (or
    # claimed by whoever uploaded first): say again who it is before its files matter.
    await plugin.set_session_host(str(party.id), uuid.UUID(host_id))
    return {"source": TEMP_UPLOAD, "trackId": upload["publicId"], "trackUrl": upload["url"],
            "filename": upload["songTitle"] or "track", "publicId": upload["publicId"],
            "media_id": upload["media_id"]}


async def library_track(party, host_id: str, track_id: str) -> dict[str, Any]:
    """A ready track of the host's hls-transcode library. No `media_id`: the library's
    objects are not the party's to delete when the track changes."""
    track = await owned_library_track(host_id, track_id)
    return {"source": LIBRARY, "trackId": str(track.id),
            "trackUrl": library_url(party.code, str(track.id)), "filename": title_of(track),
            "durationSec": track.duration_seconds}


async def owned_library_track(owner_id: str | None, track_id: str):
    """A ready library track (of `owner_id` when given); ProtocolError otherwise."""
    if not library_enabled():
        raise ProtocolError("source_unavailable", "the track library is not enabled here")
    from mediahub_hls_transcode.models import Track

    try:
        conditions = {"id": uuid.UUID(track_id)}
    except ValueError:
        raise ProtocolError("no_such_track", "no such ready track in your library") from None
    if owner_id is not None:
        conditions["owner_id"] = owner_id
    track = await Track.get_or_none(**conditions)
    if track is None or not track.master_ready or track.status != "ready":
        raise ProtocolError("no_such_track", "no such ready track in your library")
    return track


def title_of(track) -> str:
    if track.title and track.artist_name:
        return f"{track.title} — {track.artist_name}"
    return track.title or track.artist_name or "Untitled"


async def library_listing(user) -> list[dict[str, Any]]:
    """The user's library tracks a party can play (ready ones), newest first."""
    if not library_enabled():
        return []
    from mediahub_hls_transcode.models import Track

    tracks = await Track.filter(owner_id=user.id, status="ready", master_ready=True) \
        .order_by("-created_at").limit(500)
    return [{"trackId": str(t.id), "title": title_of(t), "durationSec": t.duration_seconds}
            for t in tracks]


async def signed_master_url(track_id: str) -> str:
    """A freshly signed master playlist URL of a track a party plays (checked when its host
    selected it; it stays playable if the role moves on). Variants are signed too."""
    from mediahub_hls_transcode.store import signed_playlist_url

    track = await owned_library_track(None, track_id)
    return signed_playlist_url(track, "master.m3u8", current_host().settings.server.media_url_ttl)
