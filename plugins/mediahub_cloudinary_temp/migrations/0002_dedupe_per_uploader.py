"""Temp-upload dedupe within one uploader's uploads: unique (session, uploader, sha256).

SQLite made the old unique pair part of CREATE TABLE (an autoindex no DROP INDEX removes),
so there the table is rebuilt without it; PostgreSQL drops the named constraint.
"""

import re

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

TABLE = "temp_uploads"
OLD_UNIQUE = re.compile(r',\s*CONSTRAINT "[^"]+" UNIQUE \("session_id", "sha256"\)')


async def rebuild_sqlite_table_without_old_unique(client) -> None:
    _, rows = await client.execute_query(
        f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name = '{TABLE}' AND sql IS NOT NULL")
    table_sql = next(row["sql"] for row in rows if row["type"] == "table")
    indexes = [row["sql"] for row in rows if row["type"] == "index"]
    new_sql, found = OLD_UNIQUE.subn("", table_sql)
    if not found:
        return
    new_sql = new_sql.replace(f'CREATE TABLE "{TABLE}"', f'CREATE TABLE "{TABLE}_rebuilt"', 1)
    await client.execute_script(
        f'{new_sql};\nINSERT INTO "{TABLE}_rebuilt" SELECT * FROM "{TABLE}";\n'
        f'DROP TABLE "{TABLE}";\nALTER TABLE "{TABLE}_rebuilt" RENAME TO "{TABLE}";\n'
        + "".join(f"{index};\n" for index in indexes))


class RemoveSessionShaUnique(ops.RemoveConstraint):
    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.DIALECT == "sqlite":
            await rebuild_sqlite_table_without_old_unique(state_editor.client)
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('cloudinary_temp', '0001_initial')]

    initial = False

    operations = [
        RemoveSessionShaUnique(
            model_name='TempUpload',
            name=None,
            fields=['session_id', 'sha256'],
        ),
        ops.AddConstraint(
            model_name='TempUpload',
            constraint=UniqueConstraint(fields=('session_id', 'uploader_id', 'sha256'), name=None),
        ),
    ]
