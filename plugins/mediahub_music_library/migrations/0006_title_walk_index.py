"""music_tracks' title-order index carries what visibility reads: (sort_title, id) becomes
(sort_title, id, present, folder_id, owner_id, shared). Written by hand, the same on SQLite
and PostgreSQL.

Why: the empty search's pages (a Subsonic app syncing everything asks 500 songs at a time)
skip `offset` visible tracks in title order, and with only (sort_title, id) every skipped
track was read from the table to check its visibility: on SQLite a 500-song page at offset
45,000 of 50,000 took 290-420 ms, 10-48 ms with the columns in the index (it is read
alone). PostgreSQL reads the index alone for pages VACUUM has marked all-visible.
"""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("music_library", "0005_search_vectors")]

    operations = [
        ops.RemoveIndex(model_name="MusicTrack", fields=["sort_title", "id"]),
        ops.AddIndex(model_name="MusicTrack", index=Index(
            fields=["sort_title", "id", "present", "folder_id", "owner_id", "shared"])),
    ]
