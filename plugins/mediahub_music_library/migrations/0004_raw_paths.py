"""music_tracks.raw_path: the bytes (base64) of a file name that is not UTF-8, so such a file
streams (rel_path shows it with replacement characters). Written by hand; an ADD COLUMN on
SQLite and PostgreSQL alike."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("music_library", "0003_browse_indexes")]

    operations = [
        ops.AddField(model_name="MusicTrack", name="raw_path", field=fields.TextField(null=True)),
    ]
