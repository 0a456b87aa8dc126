"""PostgreSQL: the title-order walk of a track search reads its index alone. A partial index
on (sort_title, id) INCLUDE (the visibility columns, search_vector) for the tracks whose text
is short enough for a B-tree entry, and an index of the same order for the others (a few at
most; queries.track_page reads both branches and merges them). Nothing changes on SQLite.

Why: PostgreSQL answers a track search by walking the title index and checking each track's
vector until the page is full; with the vector only in the table every checked track was a
table read (on 50,000 tracks: 2.5-3.3 ms per statement on average, p95 12-15 ms, up to 30 ms
for three rare words), with it in the index 0.65 ms on average, p95 1.8 ms. A B-tree entry
holds at most ~2.7 kB and search_text has no length limit, hence the bound (SHORT_TEXT).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# The same expression as queries.SHORT_TEXT (without the alias): the planner uses a partial
# index only for queries that say its condition.
SHORT_TEXT = ("length(search_vector) <= 64 AND octet_length(search_text) <= 600"
              " AND octet_length(sort_title) <= 400")


async def create_indexes(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await client.execute_query(
        "CREATE INDEX IF NOT EXISTS music_tracks_title_words ON music_tracks (sort_title, id)"
        f" INCLUDE (present, folder_id, owner_id, shared, search_vector) WHERE {SHORT_TEXT}")
    await client.execute_query(
        "CREATE INDEX IF NOT EXISTS music_tracks_title_long ON music_tracks (sort_title, id)"
        f" WHERE NOT ({SHORT_TEXT})")


async def drop_indexes(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await client.execute_query("DROP INDEX IF EXISTS music_tracks_title_words")
    await client.execute_query("DROP INDEX IF EXISTS music_tracks_title_long")


class Migration(migrations.Migration):
    dependencies = [("music_library", "0006_title_walk_index")]

    operations = [ops.RunPython(create_indexes, drop_indexes)]
