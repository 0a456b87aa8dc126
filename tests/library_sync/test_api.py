"""library-sync over HTTP: seed payloads, deletions across devices, bad input, limits, isolation, live updates."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from mediahub.testing import login
from tests.support.library_sync import SEED_FAVORITE, SEED_PLAY, SEED_PLAYLIST, call, favorite


async def test_seed_sync_round_trip_with_playlist_ids(mediahub_app):
    client = mediahub_app.test_client()
    headers = await login(client)
    status, library = await call(client, "POST", "/api/me/library/sync", headers, {
        "favorites": [SEED_FAVORITE], "history": [SEED_PLAY], "playlists": [SEED_PLAYLIST],
        "queue": [{"videoId": "q1", "position": 0}], "preferences": {"shuffle": False,
                                                                     "repeat": "off", "volume": 1.0},
        "recent_searches": ["bollywood", "arijit singh"]})
    assert status == 200, library
    server_id = library["playlist_id_map"]["pl_local1"]
    assert server_id.startswith("playlist_")
    assert library["favorites"] == [SEED_FAVORITE]
    assert library["history"] == [SEED_PLAY] and library["total_songs_played"] == 1
    playlist = library["playlists"][0]
    assert playlist["id"] == server_id and playlist["song_count"] == 1
    assert playlist["songs"][0]["videoId"] == "abc123"
    assert library["preferences"] == {"shuffle": False, "repeat": "off", "volume": 1.0}
    assert library["recent_searches"] == ["bollywood", "arijit singh"]
    assert library["version"] >= 1 and library["full_replacement"] is False
    status, fetched = await call(client, "GET", "/api/me/library", headers)
    assert status == 200
    assert {k: v for k, v in fetched.items() if k != "playlist_id_map"} == \
        {k: v for k, v in library.items() if k != "playlist_id_map"}


async def test_a_favorite_removed_on_one_device_stays_removed_when_another_syncs(mediahub_app):
    client = mediahub_app.test_client()
    headers = await login(client)
    _, first = await call(client, "POST", "/api/me/library/sync", headers,
                          {"favorites": [favorite("a"), favorite("b")]})
    phone = {"since": first["version"], "device_id": "phone",
             "favorites": [favorite("a"), favorite("b")]}
    status, laptop = await call(client, "PUT", "/api/me/favorites", headers,
                                {"since": first["version"], "device_id": "laptop",
                                 "favorites": [favorite("b")]})
    assert status == 200 and [f["videoId"] for f in laptop["favorites"]] == ["b"]
    status, merged = await call(client, "POST", "/api/me/library/sync", headers, phone)
    assert status == 200
    assert [f["videoId"] for f in merged["favorites"]] == ["b"]


async def test_malformed_items_get_a_400_naming_the_item(mediahub_app):
    client = mediahub_app.test_client()
    headers = await login(client)
    favorites = [favorite(str(i)) for i in range(3)] + [favorite("x", addedAt="yesterday")]
    status, body = await call(client, "PUT", "/api/me/favorites", headers, {"favorites": favorites})
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["message"].startswith("favorites[3].addedAt: must be an ISO 8601 timestamp")
    status, body = await call(client, "POST", "/api/me/library/sync", headers,
                              {"playlists": [{**SEED_PLAYLIST, "songs": [{"title": "no id"}]}]})
    assert status == 400 and "playlists[0].songs[0].videoId" in body["error"]["message"]
    for bad in (b"not json", b"[]", b"", b'{"favorites": 5}'):
        response = await client.post("/api/me/library/sync", data=bad,
                                     headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 400, bad
        assert (await response.get_json())["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("since", [-1, "3", 1.5, 2**70, "garbage"])
async def test_garbage_versions_are_refused_not_crashed_on(mediahub_app, since):
    client = mediahub_app.test_client()
    headers = await login(client)
    status, body = await call(client, "POST", "/api/me/library/sync", headers,
                              {"since": since, "favorites": []})
    assert status == 400 and body["error"]["message"].startswith("since:")


async def test_a_version_from_the_future_or_an_unknown_device_gets_a_full_replacement(mediahub_app):
    client = mediahub_app.test_client()
    headers = await login(client)
    _, library = await call(client, "POST", "/api/me/library/sync", headers,
                            {"favorites": [favorite("a")]})
    status, answer = await call(client, "POST", "/api/me/library/sync", headers,
                                {"since": library["version"] + 1000, "device_id": "never-seen",
                                 "favorites": []})
    assert status == 200 and answer["full_replacement"] is True
    assert [f["videoId"] for f in answer["favorites"]] == ["a"]  # nothing was wiped


async def test_a_large_library_fits_and_the_cap_holds(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"plugins": {"library_sync": {
        "max_body_bytes": 3 * 1024 * 1024}}})
    client = app.test_client()
    headers = await login(client)
    big = {"favorites": [favorite(f"v{i}", artist="An artist with a long name " * 3)
                         for i in range(10_000)]}
    assert len(json.dumps(big)) > 1024 * 1024  # more than the app-wide JSON cap
    status, library = await call(client, "PUT", "/api/me/favorites", headers, big)
    assert status == 200 and len(library["favorites"]) == 10_000
    too_big = {"favorites": [favorite(f"v{i}", title="x" * 400) for i in range(10_000)]}
    status, body = await call(client, "PUT", "/api/me/favorites", headers, too_big)
    assert status == 413 and "error" in body
    status, body = await call(client, "PUT", "/api/me/favorites", headers,
                              {"favorites": [favorite(f"v{i}") for i in range(10_001)]})
    assert status == 400 and body["error"]["message"].startswith("favorites:")


async def test_one_user_never_sees_or_changes_another_users_library(mediahub_app):
    client = mediahub_app.test_client()
    alice = await login(client, "alice")
    bob = await login(client, "bob")
    _, mine = await call(client, "POST", "/api/me/library/sync", alice,
                         {"favorites": [favorite("secret")], "playlists": [SEED_PLAYLIST]})
    alice_playlist = mine["playlists"][0]["id"]
    status, theirs = await call(client, "GET", "/api/me/library", bob)
    assert status == 200 and theirs["favorites"] == [] and theirs["playlists"] == []
    # Bob naming Alice's playlist id only ever touches Bob's own library.
    _, theirs = await call(client, "PUT", "/api/me/playlists", bob, {
        "since": 0, "playlists": [{"id": alice_playlist, "name": "hijacked", "songs": []}]})
    _, mine_again = await call(client, "GET", "/api/me/library", alice)
    assert mine_again["playlists"][0]["name"] == "My Favorites"
    assert mine_again["favorites"] == mine["favorites"]
    for method, path in [("GET", "/api/me/library"), ("POST", "/api/me/library/sync"),
                         ("PUT", "/api/me/favorites"), ("POST", "/api/me/session/ping")]:
        status, body = await call(client, method, path, {}, {})
        assert status == 401 and body["error"]["code"] == "unauthorized"


async def test_session_ping_counts_active_devices_until_they_expire(mediahub_app):
    from mediahub.scheduler import run_sweep

    client = mediahub_app.test_client()
    headers = await login(client)
    _, status = await call(client, "POST", "/api/me/session/ping", headers, {"session_id": "tab-1"})
    assert status == {"active_sessions": 1, "multiple_sessions": False}
    _, status = await call(client, "POST", "/api/me/session/ping", headers, {"session_id": "tab-2"})
    assert status == {"active_sessions": 2, "multiple_sessions": True}
    _, status = await call(client, "POST", "/api/me/session/ping", headers, {"session_id": "tab-2"})
    assert status["active_sessions"] == 2
    code, body = await call(client, "POST", "/api/me/session/ping", headers, {"session_id": "a b"})
    assert code == 400 and body["error"]["message"].startswith("session_id:")
    async with mediahub_app.app_context():
        counts = await run_sweep(mediahub_app.extensions["mediahub"], now=time.time() + 301)
    assert counts["library_sessions"] == 2
    _, status = await call(client, "POST", "/api/me/session/ping", headers, {"session_id": "tab-1"})
    assert status == {"active_sessions": 1, "multiple_sessions": False}


async def test_tombstones_expire_and_a_device_away_longer_gets_a_full_replacement(mediahub_app_factory):
    from mediahub.scheduler import run_sweep

    app = await mediahub_app_factory(overrides={"plugins": {"library_sync": {
        "tombstone_retention": 60}}})
    client = app.test_client()
    headers = await login(client)
    _, first = await call(client, "POST", "/api/me/library/sync", headers,
                          {"favorites": [favorite("a"), favorite("b")]})
    await call(client, "PUT", "/api/me/favorites", headers,
               {"since": first["version"], "favorites": [favorite("b")]})
    async with app.app_context():
        soon = await run_sweep(app.extensions["mediahub"], now=time.time() + 10)
        later = await run_sweep(app.extensions["mediahub"], now=time.time() + 120)
    assert soon["library_tombstones"] == 0 and later["library_tombstones"] == 1
    status, answer = await call(client, "POST", "/api/me/library/sync", headers,
                                {"since": first["version"], "favorites": [favorite("a"), favorite("b")]})
    assert status == 200 and answer["full_replacement"] is True
    assert [f["videoId"] for f in answer["favorites"]] == ["b"]


async def receive_json(socket, timeout: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(socket.receive(), timeout))


async def test_other_devices_hear_of_a_change_over_the_websocket(mediahub_app):
    client = mediahub_app.test_client()
    headers = await login(client)
    token = headers["Authorization"].split()[1]
    async with client.websocket(f"/ws/library?access_token={token}") as socket:
        assert (await receive_json(socket))["type"] == "ready"
        _, library = await call(client, "PUT", "/api/me/favorites", headers,
                                {"favorites": [favorite("a")], "device_id": "laptop"})
        message = await receive_json(socket)
    assert message == {"type": "library_changed", "version": library["version"],
                       "sections": ["favorites"], "device_id": "laptop"}


async def test_library_page_and_menu_link(mediahub_app):
    client = mediahub_app.test_client()
    anonymous = await client.get("/library", headers={"Accept": "text/html"})
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    headers = await login(client)
    page = await client.get("/library", headers={**headers, "Accept": "text/html"})
    html = (await page.get_data()).decode()
    assert page.status_code == 200
    assert 'href="/library"' in html and "library.js" in html
    script = await client.get("/static/library/library.js")
    assert script.status_code == 200


# -- storage: a row per favorite and per playlist ----------------------------------------


async def user_id_of(username: str):
    from mediahub.models import User

    return (await User.get(username=username)).id


def forget_parsed_libraries(app) -> None:
    """As if another instance had served the last syncs: nothing parsed is reused."""
    app.extensions.pop("mediahub_library_sync.parsed", None)


async def test_a_sync_rewrites_only_the_rows_of_what_changed(mediahub_app):
    from mediahub_library_sync.models import LibraryFavorite, LibraryPlaylist

    client = mediahub_app.test_client()
    headers = await login(client)
    _, library = await call(client, "POST", "/api/me/library/sync", headers, {
        "favorites": [favorite(v) for v in "abc"],
        "playlists": [SEED_PLAYLIST, {**SEED_PLAYLIST, "id": "pl_other", "name": "Other"}]})
    user_id = await user_id_of("alice")
    # Marks in rows that the next sync has no reason to touch: a rewrite would lose them.
    untouched_favorite = LibraryFavorite.filter(user_id=user_id, video_id="b")
    await untouched_favorite.update(changed=999)
    other = next(p for p in library["playlists"] if p["name"] == "Other")
    untouched_playlist = LibraryPlaylist.filter(user_id=user_id, playlist_id=other["id"])
    await untouched_playlist.update(oldest_tombstone=-1.0)
    mine = next(p for p in library["playlists"] if p["name"] == "My Favorites")
    status, _ = await call(client, "POST", "/api/me/library/sync", headers, {
        "since": library["version"], "favorites": [favorite("b"), favorite("c", title="New")],
        "playlists": [{**mine, "name": "Renamed"}, other]})
    assert status == 200
    assert (await untouched_favorite.get()).changed == 999
    assert (await untouched_playlist.get()).oldest_tombstone == -1.0
    rows = {row.video_id: row for row in await LibraryFavorite.filter(user_id=user_id)}
    assert rows["a"].document is None and rows["a"].deleted == library["version"] + 1
    assert json.loads(rows["c"].document)["title"] == "New"
    renamed = await LibraryPlaylist.get(user_id=user_id, playlist_id=mine["id"])
    assert json.loads(renamed.document)["name"] == "Renamed"


async def test_a_library_read_back_from_the_database_merges_like_the_cached_one(mediahub_app):
    """Two users make the same changes; one library is re-read from the rows before each."""
    client = mediahub_app.test_client()
    warm, cold = await login(client, "warm"), await login(client, "cold")
    steps = [
        {"favorites": [favorite(v, addedAt=f"2025-12-{10 + i}T10:00:00Z") for i, v in enumerate("abcd")],
         "playlists": [SEED_PLAYLIST], "history": [SEED_PLAY], "queue": [{"videoId": "q"}],
         "preferences": {"volume": 0.5}, "recent_searches": ["x"]},
        {"favorites": [favorite("d", addedAt="2025-12-13T10:00:00Z"), favorite("e")],
         "playlists": []},
        {"favorites": [favorite("a", addedAt="2025-12-10T10:00:00Z")], "history": []},
    ]
    answers = {}
    for headers, name in ((warm, "warm"), (cold, "cold")):
        since = None
        for step in steps:
            if name == "cold":
                forget_parsed_libraries(mediahub_app)
            status, library = await call(client, "POST", "/api/me/library/sync", headers,
                                         {**step, "since": since})
            assert status == 200, library
            since = library["version"]
        forget_parsed_libraries(mediahub_app)
        _, answers[name] = await call(client, "GET", "/api/me/library", headers)
    assert answers["warm"]["favorites"] == answers["cold"]["favorites"]
    # "a" came back (its tombstone was seen), "e" went (the device had seen it and let go).
    assert [f["videoId"] for f in answers["warm"]["favorites"]] == ["a"]
    for key in ("version", "history", "queue", "preferences", "recent_searches", "playlists"):
        assert answers["warm"][key] == answers["cold"][key], key


async def test_playlist_tombstones_expire_row_by_row(mediahub_app_factory):
    from mediahub.scheduler import run_sweep
    from mediahub_library_sync.models import LibraryPlaylist

    app = await mediahub_app_factory(overrides={"plugins": {"library_sync": {
        "tombstone_retention": 60}}})
    client = app.test_client()
    headers = await login(client)
    two_songs = {**SEED_PLAYLIST, "songs": [{"videoId": "s1"}, {"videoId": "s2"}]}
    _, first = await call(client, "POST", "/api/me/library/sync", headers, {
        "playlists": [two_songs, {**SEED_PLAYLIST, "id": "pl_gone", "name": "Gone"}]})
    kept = next(p for p in first["playlists"] if p["name"] == "My Favorites")
    await call(client, "PUT", "/api/me/playlists", headers, {
        "since": first["version"], "playlists": [{**kept, "songs": kept["songs"][:1]}]})
    user_id = await user_id_of("alice")
    assert await LibraryPlaylist.filter(user_id=user_id).count() == 2  # one is a tombstone
    async with app.app_context():
        counts = await run_sweep(app.extensions["mediahub"], now=time.time() + 120)
    assert counts["library_tombstones"] == 2  # the playlist and the song
    rows = await LibraryPlaylist.filter(user_id=user_id)
    assert [row.playlist_id for row in rows] == [kept["id"]]
    assert json.loads(rows[0].meta)["songs"]["tombs"] == {} and rows[0].oldest_tombstone is None
    status, answer = await call(client, "POST", "/api/me/library/sync", headers,
                                {"since": first["version"], "playlists": first["playlists"]})
    assert status == 200 and answer["full_replacement"] is True
    assert [p["name"] for p in answer["playlists"]] == ["My Favorites"]


class TestOnEachDatabase:
    """The sync path on SQLite and PostgreSQL (skipped without MEDIAHUB_TEST_POSTGRES_URL)."""

    async def test_sync_delete_and_concurrent_devices(self, mediahub_app_factory, database_overrides):
        app = await mediahub_app_factory(overrides=database_overrides)
        client = app.test_client()
        headers = await login(client)
        _, first = await call(client, "POST", "/api/me/library/sync", headers, {
            "favorites": [favorite("a"), favorite("b")], "playlists": [SEED_PLAYLIST],
            "history": [SEED_PLAY]})
        since = first["version"]
        devices = [
            {"since": since, "favorites": [favorite("b")]},  # removes "a"
            {"since": since, "favorites": [favorite("a"), favorite("b"), favorite("c")]},
            {"since": since, "playlists": []},  # removes the playlist
            {"since": since, "playlists": first["playlists"], "history": [SEED_PLAY]},
        ]
        answers = await asyncio.gather(*(call(client, "POST", "/api/me/library/sync", headers, d)
                                         for d in devices))
        assert all(status == 200 for status, _ in answers), answers
        _, final = await call(client, "GET", "/api/me/library", headers)
        assert sorted(f["videoId"] for f in final["favorites"]) == ["b", "c"]
        assert final["playlists"] == [] and len(final["history"]) == 1
        assert final["version"] == since + 3  # the fourth device changed nothing
