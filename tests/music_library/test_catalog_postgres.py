"""The same browsing and search on PostgreSQL, where the search SQL differs (GIN full-text)."""

from __future__ import annotations

from mediahub.testing import login
from tests.support.music_library import library_config, scan_now
from tests.support.music_library import check_browsing


async def test_browse_search_and_folder_visibility_on_postgresql(mediahub_app_factory, collection,
                                                                 postgres_url):
    app = await mediahub_app_factory(overrides={**library_config(collection),
                                                "database": {"url": postgres_url}})
    counts = await scan_now(app)
    assert counts.added == 7, counts.problems
    client = app.test_client()
    await check_browsing(client, await login(client, "alice"), await login(client, "bob"))


async def test_a_scan_leaves_no_pending_search_entries_on_postgresql(mediahub_app_factory, collection,
                                                                    postgres_url):
    """GIN indexes queue new entries in a pending list every search reads in full; a scan that
    wrote tracks vacuums the tables itself (tidy_tables), not waiting for autovacuum."""
    from mediahub_music_library.queries import SEARCH_TABLES, fetch

    app = await mediahub_app_factory(overrides={**library_config(collection),
                                                "database": {"url": postgres_url}})
    counts = await scan_now(app)
    assert counts.added == 7, counts.problems
    async with app.app_context():
        for table in SEARCH_TABLES:
            merged = await fetch(f"SELECT gin_clean_pending_list('{table}_search_vector'::regclass)"
                                 " AS pages", [])
            assert merged[0]["pages"] == 0, table
