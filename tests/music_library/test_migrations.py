"""music-library's hand-written migrations apply on SQLite and PostgreSQL and leave the indexes the catalog's queries need."""

from __future__ import annotations


async def album_indexes(connection, dialect: str, table: str = "music_albums") -> list[str]:
    """The column lists of `table`'s indexes, e.g. ["artist_id,sort_name", ...]."""
    if dialect == "sqlite":
        names = [row["name"] for row in await connection.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", [table])]
        columns = []
        for name in names:
            rows = await connection.execute_query_dict(f'PRAGMA index_info("{name}")')
            columns.append(",".join(row["name"] for row in sorted(rows, key=lambda r: r["seqno"])))
        return columns
    rows = await connection.execute_query_dict(
        "SELECT indexdef FROM pg_indexes WHERE tablename = $1", [table])
    return [row["indexdef"].rsplit("(", 1)[1].rstrip(")").replace(" ", "") for row in rows]


async def test_albums_are_found_by_their_album_artist_through_an_index(mediahub_app_factory,
                                                                      database_overrides):
    from tortoise import Tortoise

    from mediahub_music_library.models import MusicAlbum, MusicArtist

    await mediahub_app_factory(overrides=database_overrides)
    connection = Tortoise.get_connection("default")
    dialect = connection.capabilities.dialect
    assert "artist_id,sort_name" in await album_indexes(connection, dialect)
    artist = await MusicArtist.create(id="ar-1", key="queen", name="Queen", sort_name="queen")
    await MusicAlbum.create(id="al-1", key="queen\ngreatest hits\n", name="Greatest Hits",
                            sort_name="greatest hits", artist=artist, artist_name="Queen")
    if dialect == "sqlite":  # the planner takes it even on a tiny table
        plan = await connection.execute_query_dict(
            "EXPLAIN QUERY PLAN SELECT id FROM music_albums WHERE artist_id = ?", ["ar-1"])
        assert any("USING INDEX" in row["detail"] and "artist" in row["detail"] for row in plan), plan
    else:  # PostgreSQL would scan a tiny table; forbid that to see the index is usable
        async with connection._in_transaction() as tx:
            await tx.execute_script("SET LOCAL enable_seqscan = off")
            plan = await tx.execute_query_dict(
                "EXPLAIN SELECT id FROM music_albums WHERE artist_id = 'ar-1'")
        assert any("artist" in row["QUERY PLAN"] and "Index" in row["QUERY PLAN"] for row in plan), plan
    assert [a.id for a in await MusicAlbum.filter(artist_id="ar-1")] == ["al-1"]


async def test_postgres_search_uses_a_stored_vector_that_follows_the_text(mediahub_app_factory,
                                                                         postgres_url):
    from tortoise import Tortoise

    from mediahub_music_library.models import MusicArtist

    await mediahub_app_factory(overrides={"database": {"url": postgres_url}})
    connection = Tortoise.get_connection("default")
    indexes = await connection.execute_query_dict(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'music_tracks'")
    assert "music_tracks_search_vector" in {row["indexname"] for row in indexes}
    await MusicArtist.create(id="ar-1", key="sigur ros", name="Sigur Rós", sort_name="sigur ros",
                             search_text="sigur ros")

    async def hits(words):
        rows = await connection.execute_query_dict(
            "SELECT id FROM music_artists WHERE search_vector @@ to_tsquery('simple', $1)", [words])
        return [row["id"] for row in rows]

    assert await hits("sigur:* & ro:*") == ["ar-1"]
    await MusicArtist.filter(id="ar-1").update(search_text="jonsi")
    assert await hits("sigur:*") == [] and await hits("jon:*") == ["ar-1"]


async def test_the_title_walk_reads_visibility_from_its_index(mediahub_app_factory, database_overrides):
    """The empty search's pages skip `offset` tracks in title order; the index they walk holds
    what visibility checks (migration 0006), so SQLite never reads the skipped rows' table pages."""
    from tortoise import Tortoise

    from mediahub_music_library.visibility import Viewer

    await mediahub_app_factory(overrides=database_overrides)
    connection = Tortoise.get_connection("default")
    dialect = connection.capabilities.dialect
    indexes = await album_indexes(connection, dialect, "music_tracks")
    assert "sort_title,id,present,folder_id,owner_id,shared" in indexes
    assert "sort_title,id" not in indexes  # the narrower one it replaced
    if dialect == "sqlite":
        visible, params = Viewer("u-1", (1, 2), True).clause("t")
        plan = await connection.execute_query_dict(
            f"EXPLAIN QUERY PLAN SELECT t.id FROM music_tracks t WHERE {visible}"
            " ORDER BY t.sort_title, t.id LIMIT 500 OFFSET 45000", params)
        assert any("COVERING INDEX" in row["detail"] for row in plan), plan


async def test_postgres_track_search_walks_an_index_with_the_vectors(mediahub_app_factory,
                                                                    postgres_url):
    """Migration 0007: the title walk of a track search reads the vectors from its index,
    for the tracks whose text fits a B-tree entry; the others have an index of their own,
    and a track with a long text is still stored and found."""
    from tortoise import Tortoise

    from mediahub_music_library.models import MusicAlbum, MusicArtist, MusicTrack

    await mediahub_app_factory(overrides={"database": {"url": postgres_url}})
    connection = Tortoise.get_connection("default")
    indexes = {row["indexname"]: row["indexdef"] for row in await connection.execute_query_dict(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'music_tracks'")}
    assert "INCLUDE (present, folder_id, owner_id, shared, search_vector) WHERE" in \
        indexes["music_tracks_title_words"]
    assert "WHERE (NOT" in indexes["music_tracks_title_long"]
    artist = await MusicArtist.create(id="ar-1", key="a", name="A", sort_name="a")
    album = await MusicAlbum.create(id="al-1", key="a\nx\n", name="X", sort_name="x", artist=artist,
                                    artist_name="A")
    credits = " ".join(f"performer{k}" for k in range(2000))  # a 20 kB text
    await MusicTrack.create(id="tr-1", fingerprint="1", title="Long", sort_title="long",
                            search_text=f"long {credits}", album=album, artist=artist, artist_name="A")
    rows = await connection.execute_query_dict(
        "SELECT id FROM music_tracks WHERE search_vector @@ to_tsquery('simple', 'performer1999:*')")
    assert [row["id"] for row in rows] == ["tr-1"]
