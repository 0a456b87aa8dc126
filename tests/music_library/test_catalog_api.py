"""The JSON API and `music_catalog()` over a scanned real collection, on SQLite and PostgreSQL:
browsing, paging, accent-folding prefix search, and who sees which folder."""

from __future__ import annotations

import asyncio

import pytest

from mediahub.testing import guest
from tests.support.music_library import check_browsing, get

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_browse_search_and_folder_visibility(music):
    await check_browsing(music.client, music.alice, music.bob)


async def test_the_hook_answers_with_dataclasses_guests_see_nothing_bad_input_is_a_400(music):
    from mediahub import first_result
    from mediahub.models import User

    app, client, spy, alice = music.app, music.client, music.spy, music.alice
    visitor = await guest(client)
    async with app.app_context():
        catalog = await first_result("music_catalog")
        assert spy.asked >= 1 and catalog is not None
        bob = await User.get(username="bob")
        newest = await catalog.album_list(bob, "newest", size=20)
        assert len(newest) == 5 and all(album.song_count >= 1 for album in newest)
        shown = await catalog.albums(bob, [newest[2].id, "al-0", newest[0].id])
        assert [album.id for album in shown] == [newest[2].id, newest[0].id]
        result = await catalog.search(bob, "sigur ros", song_count=1)
        assert [a.name for a in result.artists] == ["Sigur Rós"] and len(result.tracks) == 1
        track = result.tracks[0]
        assert (await catalog.track(bob, track.id)).album == "Takk..."
        assert [t.title for t in await catalog.album_tracks(bob, track.album_id)] == ["Glósóli", "Hoppípolla"]
        assert await catalog.artist(bob, "ar-0") is None
    # A party guest is not an account of the server: the collection stays closed to them.
    assert (await get(client, "/api/music/search?q=", visitor)) == {"artists": [], "albums": [], "tracks": []}
    assert (await get(client, "/api/music/folders", visitor))["folders"] == []

    for path in BAD_PARAMETERS:
        body = await get(client, path, alice, status=400)
        assert body["error"]["code"] == "invalid_request", path
    await get(client, "/api/music/tracks/tr-0123456789abcdef", alice, status=404)
    await get(client, "/api/music/tracks/..%2Fetc", alice, status=404)
    assert (await client.get("/api/music/artists")).status_code == 401


BAD_PARAMETERS = ["/api/music/albums?type=best", "/api/music/albums?size=501",
                  "/api/music/albums?size=x", "/api/music/albums?offset=-1",
                  "/api/music/search?q=" + "a" * 201, "/api/music/albums?type=byGenre",
                  "/api/music/random?fromYear=1e3", "/api/music/genres/Pop/tracks?size=%00"]


async def test_status_and_an_admins_rescan(music):
    client = music.client
    status = await get(client, "/api/music/status", music.alice)
    assert status["tracks"] == 7 and status["albums"] == 5 and status["scanning"] is False
    assert status["transcoding"] == 0
    refused = await client.post("/api/music/scan", headers=music.alice)
    assert refused.status_code == 403
    await _set_admin(music.app, "alice", True)
    started = await client.post("/api/music/scan", headers=music.alice)
    assert started.status_code == 202
    deadline = asyncio.get_running_loop().time() + 20
    while (await get(client, "/api/music/status", music.alice))["lastScan"] is None:
        assert asyncio.get_running_loop().time() < deadline, "the admin's scan never finished"
        await asyncio.sleep(0.05)
    last = (await get(client, "/api/music/status", music.alice))["lastScan"]
    assert last["reason"] == "admin" and last["seen"] == 7 and last["added"] == 0
    await _set_admin(music.app, "alice", False)


async def _set_admin(app, username: str, admin: bool) -> None:
    """A role changed by hand in the database: signed-in requests see it once the sign-in
    cache forgets the user (at once here; a server would within its TTL)."""
    from mediahub.models import User
    from mediahub.signin_cache import forget_everywhere

    await User.filter(username=username).update(is_admin=admin)
    async with app.app_context():
        user = await User.get(username=username)
        await forget_everywhere(users=[user.id])
