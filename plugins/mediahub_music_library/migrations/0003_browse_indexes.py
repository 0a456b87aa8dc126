"""Indexes for browsing and search, written by hand (the same CREATE INDEX on SQLite and PostgreSQL).

- music_albums (artist_id, sort_name): an artist's page, the artist list and artist search
  find the artist's albums through it instead of reading every album.
- music_tracks (sort_title, id): track search and the empty search's pages walk it in title
  order instead of sorting every match (queries.track_matches says when).
"""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("music_library", "0002_search_index")]

    operations = [
        ops.AddIndex(model_name="MusicAlbum", index=Index(fields=["artist_id", "sort_name"])),
        ops.AddIndex(model_name="MusicTrack", index=Index(fields=["sort_title", "id"])),
    ]
