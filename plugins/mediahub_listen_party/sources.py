"""Where a party's tracks come from: any plugin's track source, reached only through listen-party's hooks.

A host command names a track by `source` and `trackId`; the plugin owning that source
answers `party_track_resolve` (see hookspecs.py) with the server's own description, which
this module turns into the track a party stores and broadcasts (never what the client
claimed). listen-party's own source is the seed's `upload-track`.
"""

from __future__ import annotations

import re
from typing import Any

from mediahub import call_hook, first_result
from mediahub_listen_party.models import PartyTrack
from mediahub_listen_party.protocol import ProtocolError

UPLOAD_TRACK = "upload-track"
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_SEARCH = 500


async def offered(user) -> list[dict[str, Any]]:
    """Every source an enabled plugin offers, in plugin order (one entry per name)."""
    seen: dict[str, dict[str, Any]] = {}
    for answer in await call_hook("party_track_sources", user=user):
        for entry in answer if isinstance(answer, list) else []:
            if isinstance(entry, dict) and SOURCE_NAME.match(str(entry.get("source", ""))):
                seen.setdefault(entry["source"], entry)
    return list(seen.values())


async def name_session_host(session_id: str, host_id) -> None:
    """Tell the plugins that keep session-scoped things (cloudinary-temp) who hosts the party."""
    await call_hook("session_host_changed", session_id=session_id, host_id=str(host_id))


def stable_url(code: str, source: str, track_id: str, name: str) -> str:
    """The party's own link to a track whose URL expires: it redirects to a fresh one, so a
    guest joining hours later never gets an expired link."""
    return f"/api/parties/{code}/sources/{source}/{track_id}/{name}"


async def resolve(party, host_id: str, user, source: object, track_id: str) -> dict[str, Any]:
    """The track `user` selected, described by the server; ProtocolError if it cannot play."""
    source = UPLOAD_TRACK if source is None else source
    if not isinstance(source, str) or not SOURCE_NAME.match(source):
        raise ProtocolError("bad_frame", "source is a track source name such as \"upload-track\"")
    if source not in {entry["source"] for entry in await offered(user)}:
        raise ProtocolError("source_unavailable", f"no plugin here offers tracks from {source!r}")
    # Plugins that keep session-scoped files may have forgotten the host meanwhile (a
    # sweep): say again who it is before those files matter.
    await name_session_host(str(party.id), host_id)
    described = await first_result("party_track_resolve", source=source, track_id=track_id,
                                   session_id=str(party.id), user=user)
    if not isinstance(described, dict) or not described.get("url"):
        raise ProtocolError("no_such_track", "no such track")
    return track_of(party.code, source, described)


def track_of(code: str, source: str, described: dict[str, Any]) -> dict[str, Any]:
    """What the party stores: the seed's `trackId`/`trackUrl`/`filename`, plus the source's own keys."""
    track_id = str(described["trackId"])
    refresh = described.get("refresh")
    track = {key: value for key, value in described.items()
             if key not in ("url", "title", "media_id") and value is not None}
    track.update(source=source, trackId=track_id, filename=described.get("title") or "Untitled",
                 trackUrl=stable_url(code, source, track_id, refresh) if refresh else described["url"])
    if described.get("media_id"):
        track["media_id"] = str(described["media_id"])
    return track


async def fresh_url(track: dict[str, Any]) -> str | None:
    return await first_result("party_track_url", source=track["source"], track_id=track["trackId"])


async def search(user, source: str | None, query: str = "", limit: int = MAX_SEARCH) -> list[dict]:
    """Tracks `user` may pick (from one source, or all), as the sources rank them."""
    found: list[dict] = []
    for answer in await call_hook("party_track_search", source=source, user=user, query=query,
                                  limit=limit):
        found.extend(entry for entry in answer if isinstance(entry, dict))
    return found[:limit]


# -- listen-party's own source: the seed's `POST /api/upload-track` -----------------------


async def own_upload(track_id: str, user) -> dict[str, Any] | None:
    """Only the selecting member's own uploads: a track id seen in someone else's party is
    no key to their file."""
    if len(track_id) > 32:
        return None
    track = await PartyTrack.get_or_none(id=track_id, owner_id=user.id)
    if track is None:
        return None
    return {"trackId": track.id, "title": track.filename, "url": f"/api/track/{track.id}",
            "durationSec": None, "media_id": str(track.media_id)}
