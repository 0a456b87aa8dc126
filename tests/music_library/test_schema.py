"""music-library's config section and its tables: search indexes that match on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mediahub_music_library.settings import MusicLibrarySettings


def test_a_bare_folder_path_is_a_folder_everybody_sees_named_after_its_last_part():
    settings = MusicLibrarySettings.model_validate(
        {"folders": ["/srv/music", {"path": "/srv/kids", "users": ["alice"]}]})
    assert [(f.path, f.name, f.users) for f in settings.folders] == [
        ("/srv/music", "music", None), ("/srv/kids", "kids", ["alice"])]


@pytest.mark.parametrize("bad", [{"folders": ["/a", "/a/"]}, {"artist_separators": [""]},
                                 {"cover_sizes": [5]}, {"transcode": {"format": "wav"}},
                                 {"folder": ["/a"]}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        MusicLibrarySettings.model_validate(bad)


async def search_hits(connection, dialect: str, table: str, words: str) -> list[str]:
    if dialect == "sqlite":
        query = " ".join(f'"{word}"*' for word in words.split())
        rows = await connection.execute_query_dict(
            f"SELECT t.id FROM {table}_fts f JOIN {table} t ON t.rowid = f.rowid"
            f" WHERE {table}_fts MATCH ?", [query])
    else:
        query = " & ".join(f"{word}:*" for word in words.split())
        rows = await connection.execute_query_dict(
            f"SELECT id FROM {table} WHERE to_tsvector('simple', search_text)"
            " @@ to_tsquery('simple', $1)", [query])
    return [row["id"] for row in rows]


async def test_the_search_index_follows_inserts_updates_and_deletes(mediahub_app_factory,
                                                                    database_overrides):
    from tortoise import Tortoise

    from mediahub_music_library.models import MusicArtist

    app = await mediahub_app_factory(overrides=database_overrides)
    assert app.extensions["mediahub"].plugins.records["music-library"].status == "enabled"
    connection = Tortoise.get_connection("default")
    dialect = connection.capabilities.dialect
    await MusicArtist.create(id="ar-1", key="sigur ros", name="Sigur Rós", sort_name="sigur ros",
                             search_text="sigur ros")
    await MusicArtist.create(id="ar-2", key="beyonce", name="Beyoncé", sort_name="beyonce",
                             search_text="beyonce")
    assert await search_hits(connection, dialect, "music_artists", "sigur ro") == ["ar-1"]
    assert await search_hits(connection, dialect, "music_artists", "bey") == ["ar-2"]
    await MusicArtist.filter(id="ar-2").update(search_text="knowles")
    assert await search_hits(connection, dialect, "music_artists", "bey") == []
    assert await search_hits(connection, dialect, "music_artists", "know") == ["ar-2"]
    await MusicArtist.filter(id="ar-1").delete()
    assert await search_hits(connection, dialect, "music_artists", "sigur") == []
