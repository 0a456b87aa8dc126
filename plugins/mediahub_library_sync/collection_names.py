"""Names for the collection tracks a library holds (`tr-…` ids), read through music-library's
`music_catalog` hook, so the /library page shows titles where a device stored only the id."""

from __future__ import annotations

import re

from mediahub import User, first_result

MAX_IDS = 100  # one page's worth at a time; the page asks in chunks
COLLECTION_ID = re.compile(r"^tr-[A-Za-z0-9_-]{1,64}$")


def wanted_ids(raw: str) -> list[str]:
    """The distinct collection track ids of a comma-separated list, at most MAX_IDS; anything
    else (another app's ids, junk) is left out, as the catalog leaves out what it lacks."""
    ids = [part.strip() for part in raw.split(",")]
    return list(dict.fromkeys(i for i in ids if COLLECTION_ID.match(i)))[:MAX_IDS]


async def collection_tracks(user: User, ids: list[str]) -> dict:
    """`{"music": bool, "tracks": [{"id", "title", "artist", "album"}]}`: music is False when
    music-library is not enabled (then no id has a name from the collection)."""
    catalog = await first_result("music_catalog")
    if catalog is None:
        return {"music": False, "tracks": []}
    found = await catalog.tracks(user, ids) if ids else []
    return {"music": True, "tracks": [{"id": t.id, "title": t.title, "artist": t.artist,
                                       "album": t.album} for t in found]}
