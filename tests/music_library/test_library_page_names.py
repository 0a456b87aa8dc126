"""The /library page asks nobody for an id: it says where favorites and playlist songs are added
(the Music pages' ♥ and ⋯), and names the collection tracks a library holds by id alone
(`GET /api/me/library/tracks`, answered through music-library's `music_catalog` hook)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def get(client, path, headers, status=200):
    response = await client.get(path, headers=headers)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


async def track_id(music, query: str, who: dict) -> str:
    found = await get(music.client, f"/api/music/search?q={query}", who)
    return found["tracks"][0]["id"]


async def test_the_page_offers_what_a_person_can_do_without_ids(music):
    response = await music.client.get("/library", headers={**music.alice, "Accept": "text/html"})
    assert response.status_code == 200
    html = " ".join((await response.get_data(as_text=True)).split())
    assert "Video id" not in html and "videoId" not in html
    assert not re.search(r"<input[^>]*name=\"videoId\"", html)
    assert 'href="/music"' in html and 'href="/music/favorites"' in html
    assert "press ♥ next to a track" in html
    assert "Add to playlist…" in html
    script = await (await music.client.get("/static/library/library.js")).get_data(as_text=True)
    assert "Video id" not in script and "favorite-form" not in script


async def test_collection_ids_are_named_as_the_collection_names_them(music):
    formation = await track_id(music, "formation", music.alice)
    shark = await track_id(music, "shark", music.bob)  # in the folder only bob may see
    # A device stored the favorite by id alone (as a Subsonic star or an old client may).
    response = await music.client.put("/api/me/favorites", headers=music.alice, json={
        "favorites": [{"videoId": formation, "addedAt": "2025-12-28T10:00:00Z"}]})
    assert response.status_code == 200
    ids = ",".join([formation, shark, "dQw4w9WgXcQ", "tr-missing", ""])
    answer = await get(music.client, f"/api/me/library/tracks?ids={ids}", music.alice)
    assert answer == {"music": True, "tracks": [
        {"id": formation, "title": "Formation", "artist": "Beyoncé", "album": "Lemonade"}]}
    # bob sees his own folder's track; nobody gets names without signing in.
    answer = await get(music.client, f"/api/me/library/tracks?ids={shark}", music.bob)
    assert [t["title"] for t in answer["tracks"]] == ["Baby Shark"]
    response = await music.client.get(f"/api/me/library/tracks?ids={formation}")
    assert response.status_code == 401


async def test_bad_id_lists_are_bounded_and_clear(music):
    formation = await track_id(music, "formation", music.alice)
    many = ",".join([*(f"tr-{n:016x}" for n in range(100)), formation])  # 2,019 characters
    answer = await get(music.client, f"/api/me/library/tracks?ids={many}", music.alice)
    assert answer == {"music": True, "tracks": []}  # the first 100 are looked up: the 101st is not
    answer = await get(music.client, f"/api/me/library/tracks?ids={many[20:]}", music.alice)
    assert [t["title"] for t in answer["tracks"]] == ["Formation"]  # now it is the 100th
    for bad in ("x" * 2501, "tr-1,<b>", "tr-%C3%A9"):
        body = await get(music.client, "/api/me/library/tracks?ids=" + bad, music.alice, 400)
        assert body["error"]["code"]
