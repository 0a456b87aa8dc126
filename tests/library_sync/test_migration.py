"""library-sync migration 0002: favorites and playlists of existing installs move to a row per item and back."""

from __future__ import annotations

import json

from mediahub.testing import login, make_settings, running_app

from tests.support.library_sync import SEED_PLAYLIST, call, favorite


async def migrate_library_sync(settings, target: str) -> list[dict]:
    """Move library_sync to `target` (up or down); the library_sections rows afterwards."""
    from tortoise import connections
    from tortoise.migrations.api import migrate

    from mediahub import db
    from mediahub.app import build_plugin_host, database_config

    config = database_config(settings, build_plugin_host(settings))
    try:
        # core too: the state of library_sync refers to core.User
        await migrate(config=config, app_labels=["core", "library_sync"],
                      target=f"library_sync.{target}")
        return await connections.get("default").execute_query_dict(
            "SELECT name, items, meta FROM library_sections ORDER BY name")
    finally:
        await db.close_db()


async def test_existing_libraries_survive_the_move_to_rows_and_back(tmp_path, database_overrides):
    settings = make_settings(tmp_path / "data", database_overrides)
    async with running_app(settings) as app:
        client = app.test_client()
        headers = await login(client)
        _, first = await call(client, "POST", "/api/me/library/sync", headers, {
            "favorites": [favorite(v, addedAt=f"2025-12-2{i}T10:00:00Z") for i, v in enumerate("abc")],
            "playlists": [{**SEED_PLAYLIST, "songs": [{"videoId": "s1"}, {"videoId": "s2"}]},
                          {**SEED_PLAYLIST, "id": "pl_gone", "name": "Gone"}],
            "history": [{"videoId": "a", "playedAt": "2025-12-28T12:00:00Z"}]})
        kept = next(p for p in first["playlists"] if p["name"] == "My Favorites")
        _, before = await call(client, "POST", "/api/me/library/sync", headers, {
            "since": first["version"], "favorites": first["favorites"][1:],  # drops "c"
            "playlists": [{**kept, "songs": kept["songs"][1:]}]})  # drops "Gone" and "s1"
    # Back to the layout of one row per section, as an install from before 0002 has it.
    sections = await migrate_library_sync(settings, "0001_initial")
    stored = {row["name"]: row for row in sections}
    assert sorted(stored) == ["favorites", "history", "playlists"]
    assert [f["videoId"] for f in json.loads(stored["favorites"]["items"])] == ["b", "a"]
    assert list(json.loads(stored["favorites"]["meta"])["tombs"]) == ["c"]
    assert len(json.loads(stored["playlists"]["meta"])["tombs"]) == 1
    # Forward again, as an upgrade does when the server starts.
    async with running_app(settings) as app:
        client = app.test_client()
        headers = await login(client)
        _, after = await call(client, "GET", "/api/me/library", headers)
        assert {k: v for k, v in after.items() if k != "playlist_id_map"} == \
            {k: v for k, v in before.items() if k != "playlist_id_map"}
        # The tombstones came along: a device that still has everything brings nothing back.
        status, merged = await call(client, "POST", "/api/me/library/sync", headers, {
            "since": first["version"], "favorites": first["favorites"],
            "playlists": first["playlists"]})
        assert status == 200
        assert [f["videoId"] for f in merged["favorites"]] == ["b", "a"]
        assert [[s["videoId"] for s in p["songs"]] for p in merged["playlists"]] == [["s2"]]
    assert {row["name"] for row in await migrate_library_sync(settings, "0002_item_rows")} == \
        {"history"}
