"""Shared pieces of the library-sync tests: the seed client's records, and one JSON call."""

from __future__ import annotations

SEED_FAVORITE = {"videoId": "abc123", "title": "Song Title", "artist": "Artist Name",
                 "artwork": "https://img.example/1.jpg", "duration": 180, "language": "hi",
                 "genres": ["Bollywood"], "addedAt": "2025-12-28T10:00:00Z"}

SEED_PLAY = {"videoId": "abc123", "title": "Song Title", "artist": "Artist Name",
             "playedAt": "2025-12-28T12:00:00Z", "completionRate": 0.95, "source": "search"}

SEED_PLAYLIST = {"id": "pl_local1", "name": "My Favorites", "description": "My top songs",
                 "songs": [{"videoId": "abc123", "title": "Song Title", "artist": "Artist Name",
                            "addedAt": "2025-12-28T10:00:00Z"}],
                 "song_count": 1, "cover_urls": ["https://img.example/1.jpg"], "is_public": False,
                 "created_at": "2025-12-28T09:00:00Z", "updated_at": "2025-12-28T12:00:00Z"}


def favorite(video_id: str, **extra) -> dict:
    return {"videoId": video_id, "title": f"Title {video_id}", "addedAt": "2025-12-28T10:00:00Z",
            **extra}


async def call(client, method: str, path: str, headers: dict, body=None):
    response = await client.open(path, method=method, headers=headers, json=body)
    return response.status_code, await response.get_json()
