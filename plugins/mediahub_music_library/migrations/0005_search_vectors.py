"""PostgreSQL: the folded search text's tsvector stored in a generated column (search_vector)
with its GIN index, instead of an index on to_tsvector(search_text).

Why: the planner often walks a sort index and filters each row; with only the expression
index it parsed every row's text again (to_tsvector) for that filter, 18-38 ms for a
three-word prefix query on 50,000 tracks, against 4-7 ms on the stored vector. Nothing
changes on SQLite (FTS5). Written by hand: the models do not know the column; PostgreSQL
keeps it up to date from search_text.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = ("music_tracks", "music_albums", "music_artists")


async def store_vectors(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for table in TABLES:
        await client.execute_query(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS search_vector tsvector"
            " GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED")
        await client.execute_query(
            f"CREATE INDEX IF NOT EXISTS {table}_search_vector ON {table} USING gin (search_vector)")
        await client.execute_query(f"DROP INDEX IF EXISTS {table}_search")


async def drop_vectors(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for table in TABLES:
        await client.execute_query(f"CREATE INDEX IF NOT EXISTS {table}_search ON {table} "
                                   "USING gin (to_tsvector('simple', search_text))")
        await client.execute_query(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")


class Migration(migrations.Migration):
    dependencies = [("music_library", "0004_raw_paths")]

    operations = [ops.RunPython(store_vectors, drop_vectors)]
