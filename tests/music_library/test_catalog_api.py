"""The JSON API and `music_catalog()` over a scanned real collection, on SQLite and PostgreSQL:
browsing, paging, accent-folding prefix search, and who sees which folder."""

from __future__ import annotations

import asyncio

import pytest

from mediahub.testing import guest, login

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def get(client, path, headers, status=200):
    response = await client.get(path, headers=headers)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


def names(items, key="name"):
    return [item[key] for item in items]


async def test_browse_search_and_folder_visibility(music):
    await check_browsing(music.client, music.alice, music.bob)


async def check_browsing(client, alice, bob):
    """Run on the shared SQLite app here and on PostgreSQL in test_catalog_postgres.py."""
    assert names((await get(client, "/api/music/folders", alice))["folders"]) == ["main"]
    assert names((await get(client, "/api/music/folders", bob))["folders"]) == ["main", "Kids"]

    # Artists sorted by name; "Jónsi" is a second artist of one track, not "Sigur Rós; Jónsi".
    artists = (await get(client, "/api/music/artists", alice))["artists"]
    assert names(artists) == ["ABBA", "Beyoncé", "Jónsi", "Queen", "Sigur Rós"]
    assert "Pinkfong" in names((await get(client, "/api/music/artists", bob))["artists"])

    # Two "Greatest Hits" by two artists stay two albums.
    albums = (await get(client, "/api/music/albums?type=alphabeticalByName", alice))["albums"]
    assert names(albums) == ["Greatest Hits", "Greatest Hits", "Lemonade", "Takk..."]
    assert {a["artist"] for a in albums[:2]} == {"ABBA", "Queen"}
    by_year = (await get(client, "/api/music/albums?type=byYear&fromYear=2020&toYear=1990", alice))
    assert names(by_year["albums"]) == ["Lemonade", "Takk...", "Greatest Hits"]
    page = (await get(client, "/api/music/albums?type=alphabeticalByArtist&size=2&offset=1", alice))
    assert [a["artist"] for a in page["albums"]] == ["Beyoncé", "Queen"]
    rock = await get(client, "/api/music/albums?type=byGenre&genre=Post-Rock", alice)
    assert names(rock["albums"]) == ["Takk..."]

    # An album page: its tracks in track order, counts and shapes the pages rely on.
    takk = next(a for a in albums if a["name"] == "Takk...")
    body = await get(client, f"/api/music/albums/{takk['id']}", alice)
    assert body["album"]["songCount"] == 2 and 1.5 < body["album"]["duration"] < 2.5
    assert names(body["tracks"], "title") == ["Glósóli", "Hoppípolla"]
    hoppipolla = body["tracks"][1]
    assert names(hoppipolla["artists"]) == ["Sigur Rós", "Jónsi"]
    assert hoppipolla["albumArtist"] == "Sigur Rós" and hoppipolla["trackNo"] == 2
    assert hoppipolla["streamUrl"] == f"/api/music/tracks/{hoppipolla['id']}/stream"
    assert hoppipolla["suffix"] == "ogg" and hoppipolla["uploaded"] is False
    assert hoppipolla["genres"] == ["Post-Rock"] and hoppipolla["year"] == 2005

    jonsi = next(a for a in artists if a["name"] == "Jónsi")
    body = await get(client, f"/api/music/artists/{jonsi['id']}", alice)
    assert body["artist"]["albumCount"] == 1 and names(body["albums"]) == ["Takk..."]

    # Search: accents and case ignored, every word a prefix, artists/albums/tracks each.
    found = await get(client, "/api/music/search?q=beyonce", alice)
    assert names(found["artists"]) == ["Beyoncé"]
    assert names(found["albums"]) == ["Lemonade"]
    assert sorted(names(found["tracks"], "title")) == ["Formation", "Hold Up"]
    found = await get(client, "/api/music/search?q=SIGUR%20ro", alice)
    assert names(found["artists"]) == ["Sigur Rós"] and names(found["albums"]) == ["Takk..."]
    found = await get(client, "/api/music/search?q=hoppi", alice)
    assert names(found["tracks"], "title") == ["Hoppípolla"]
    assert (await get(client, "/api/music/search?q=beyonce%20zzz", alice))["tracks"] == []
    # Empty query: everything, paged.
    everything = await get(client, "/api/music/search?q=&songCount=4&songOffset=4", alice)
    assert len(everything["artists"]) == 5 and len(everything["albums"]) == 4
    assert names(everything["tracks"], "title") == ["Hold Up", "Hoppípolla"]

    # The kids folder is bob's: alice neither lists nor finds nor opens it.
    assert (await get(client, "/api/music/search?q=baby", alice))["tracks"] == []
    shark = (await get(client, "/api/music/search?q=baby", bob))["tracks"][0]
    await get(client, f"/api/music/tracks/{shark['id']}", alice, status=404)
    await get(client, f"/api/music/albums/{shark['albumId']}", alice, status=404)
    assert (await get(client, f"/api/music/tracks/{shark['id']}", bob))["track"]["title"] == "Baby Shark"
    pop = await get(client, "/api/music/genres", alice)
    assert {g["name"]: g["songCount"] for g in pop["genres"]}["Pop"] == 1
    assert {g["name"]: g["songCount"] for g in (await get(client, "/api/music/genres", bob))["genres"]}["Pop"] == 2

    # Tracks by ids keep the order asked and leave out what the viewer may not see.
    ids = f"{shark['id']},{hoppipolla['id']},tr-0000000000000000,{body['albums'][0]['id']}"
    listed = await get(client, f"/api/music/tracks?ids={ids}", alice)
    assert names(listed["tracks"], "id") == [hoppipolla["id"]]
    listed = await get(client, f"/api/music/tracks?ids={hoppipolla['id']},{shark['id']}", bob)
    assert names(listed["tracks"], "id") == [hoppipolla["id"], shark["id"]]

    formation = next(t for t in found["tracks"] + (await get(
        client, "/api/music/search?q=formation", alice))["tracks"] if t["title"] == "Formation")
    assert formation["hasLyrics"] is True
    lyrics = await get(client, f"/api/music/tracks/{formation['id']}/lyrics", alice)
    assert lyrics == {"lyrics": "Okay, ladies"}
    genre = await get(client, "/api/music/genres/R%26B/tracks?size=1&offset=1", alice)
    assert names(genre["tracks"], "title") == ["Hold Up"]
    assert len((await get(client, "/api/music/random?size=3", alice))["tracks"]) == 3


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
    from mediahub.models import User

    client = music.client
    status = await get(client, "/api/music/status", music.alice)
    assert status["tracks"] == 7 and status["albums"] == 5 and status["scanning"] is False
    assert status["transcoding"] == 0
    refused = await client.post("/api/music/scan", headers=music.alice)
    assert refused.status_code == 403
    await User.filter(username="alice").update(is_admin=True)
    started = await client.post("/api/music/scan", headers=music.alice)
    assert started.status_code == 202
    deadline = asyncio.get_running_loop().time() + 20
    while (await get(client, "/api/music/status", music.alice))["lastScan"] is None:
        assert asyncio.get_running_loop().time() < deadline, "the admin's scan never finished"
        await asyncio.sleep(0.05)
    last = (await get(client, "/api/music/status", music.alice))["lastScan"]
    assert last["reason"] == "admin" and last["seen"] == 7 and last["added"] == 0
    await User.filter(username="alice").update(is_admin=False)
