"""Search indexes: FTS5 tables kept in sync by triggers on SQLite, GIN full-text indexes on PostgreSQL.

The indexed column is each row's `search_text`, already folded by the plugin (lower case,
accents removed: "Beyoncé" is stored as "beyonce"), so both databases match the same way.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = ("music_tracks", "music_albums", "music_artists")


def sqlite_statements(table):
    fts = f"{table}_fts"
    return [
        # External content: the FTS table holds only the index, the text stays in `table`.
        f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', "
        f"content_rowid='rowid', tokenize='unicode61 remove_diacritics 2', prefix='1 2 3')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, search_text) VALUES (new.rowid, new.search_text); END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF search_text ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); "
        f"INSERT INTO {fts}(rowid, search_text) VALUES (new.rowid, new.search_text); END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def postgres_statements(table):
    return [f"CREATE INDEX IF NOT EXISTS {table}_search ON {table} "
            f"USING gin (to_tsvector('simple', search_text))"]


async def create_indexes(apps, schema_editor):
    client = schema_editor.client
    statements = sqlite_statements if client.capabilities.dialect == "sqlite" else postgres_statements
    for table in TABLES:
        for statement in statements(table):
            await client.execute_query(statement)


async def drop_indexes(apps, schema_editor):
    client = schema_editor.client
    for table in TABLES:
        if client.capabilities.dialect == "sqlite":
            await client.execute_query(f"DROP TABLE IF EXISTS {table}_fts")
            for event in ("insert", "delete", "update"):
                await client.execute_query(f"DROP TRIGGER IF EXISTS {table}_fts_{event}")
        else:
            await client.execute_query(f"DROP INDEX IF EXISTS {table}_search")


class Migration(migrations.Migration):
    dependencies = [("music_library", "0001_initial")]

    operations = [ops.RunPython(create_indexes, drop_indexes)]
