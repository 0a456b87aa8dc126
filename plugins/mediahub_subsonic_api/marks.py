"""What a user added to collection items: stars (library-sync favorites) and ratings (ours)."""

from __future__ import annotations

from mediahub_subsonic_api.endpoints import Call
from mediahub_subsonic_api.models import Rating
from mediahub_subsonic_api.shapes import Marks, iso


async def marks_of(call: Call) -> Marks:
    """The caller's marks, loaded once per request."""
    memo = call.memo("marks")
    if "value" not in memo:
        starred = {}
        library = await call.optional_library()
        if library is not None:
            for item in await library.favorites(call.user):
                video_id = item.get("videoId")
                if isinstance(video_id, str):
                    starred[video_id] = iso(item.get("addedAt")) or iso(EPOCH_TEXT)
        ratings = {row.item_id: row.rating for row in await Rating.filter(user=call.user)}
        memo["value"] = Marks(starred=starred, ratings=ratings)
    return memo["value"]


EPOCH_TEXT = "1970-01-01T00:00:00Z"
