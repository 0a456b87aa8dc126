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
