"""The collection tables: folders, tracks, albums, artists, genres, covers, scan problems, the scan lease."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class MusicFolder(Model):
    """A configured music folder. Rows outlive a folder leaving the config, so its ids stay stable."""

    id = fields.IntField(primary_key=True)
    path = fields.CharField(max_length=1024, unique=True)
    name = fields.CharField(max_length=100)
    configured = fields.BooleanField(default=True)

    class Meta:
        table = "music_folders"


class MusicArtist(Model):
    """An artist, keyed by the folded name (or MusicBrainz artist id when tagged)."""

    id = fields.CharField(max_length=24, primary_key=True)
    key = fields.CharField(max_length=512, unique=True)
    name = fields.CharField(max_length=500)
    sort_name = fields.CharField(max_length=500, db_index=True)
    search_text = fields.TextField(default="")
    mbid = fields.CharField(max_length=36, null=True)
    cover_id = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "music_artists"


class MusicAlbum(Model):
    """An album: album artist + album name (+ MusicBrainz album id), a compilation stays one album."""

    id = fields.CharField(max_length=24, primary_key=True)
    key = fields.CharField(max_length=1100, unique=True)
    name = fields.CharField(max_length=500)
    sort_name = fields.CharField(max_length=500, db_index=True)
    search_text = fields.TextField(default="")
    artist = fields.ForeignKeyField("music_library.MusicArtist", related_name="albums",
                                    on_delete=fields.RESTRICT)
    artist_name = fields.CharField(max_length=500)
    year = fields.IntField(null=True, db_index=True)
    genres = fields.JSONField(default=list)
    compilation = fields.BooleanField(default=False)
    mbid = fields.CharField(max_length=36, null=True)
    cover_id = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "music_albums"
        # An artist's page and search look albums up by their album artist.
        indexes = [Index(fields=("artist_id", "sort_name"))]


class MusicTrack(Model):
    """One audio file of a folder, or one upload another plugin ingested.

    A track whose file disappeared keeps its row with present false: ids in users
    history, favorites and playlists stay valid, the track just is not listed.
    """

    id = fields.CharField(max_length=24, primary_key=True)
    folder = fields.ForeignKeyField("music_library.MusicFolder", related_name="tracks",
                                    null=True, on_delete=fields.RESTRICT)
    rel_path = fields.TextField(null=True)
    # A name that is not UTF-8 (b"caf\xe9.mp3") is shown in rel_path with replacement
    # characters; raw_path keeps its bytes (base64) so the file can still be opened.
    raw_path = fields.TextField(null=True)
    # sha1 of "<folder id>/<rel_path>": a unique index a long path fits in.
    path_key = fields.CharField(max_length=40, null=True, unique=True)
    # Uploads: whose they are, whether everybody sees them, and where the bytes live.
    owner = fields.ForeignKeyField("core.User", related_name="music_uploads", null=True,
                                   on_delete=fields.CASCADE)
    shared = fields.BooleanField(default=False)
    media_id = fields.UUIDField(null=True)
    source = fields.CharField(max_length=64, null=True)
    source_id = fields.CharField(max_length=128, null=True)
    present = fields.BooleanField(default=True)
    size = fields.BigIntField(default=0)
    mtime = fields.FloatField(default=0)
    # size + sha1 of the first and last 64 KiB: how a moved file is recognised.
    fingerprint = fields.CharField(max_length=64, db_index=True)
    title = fields.CharField(max_length=500)
    sort_title = fields.CharField(max_length=500)
    search_text = fields.TextField(default="")
    album = fields.ForeignKeyField("music_library.MusicAlbum", related_name="tracks",
                                   on_delete=fields.RESTRICT)
    artist = fields.ForeignKeyField("music_library.MusicArtist", related_name="tracks",
                                    on_delete=fields.RESTRICT)
    artist_name = fields.CharField(max_length=1000)
    artists = fields.JSONField(default=list)  # [[id, name], ...] in tag order
    track_no = fields.IntField(null=True)
    track_total = fields.IntField(null=True)
    disc_no = fields.IntField(null=True)
    disc_total = fields.IntField(null=True)
    year = fields.IntField(null=True, db_index=True)
    date = fields.CharField(max_length=32, null=True)
    genres = fields.JSONField(default=list)
    duration = fields.FloatField(default=0)
    bitrate = fields.IntField(null=True)
    sample_rate = fields.IntField(null=True)
    channels = fields.IntField(null=True)
    bit_depth = fields.IntField(null=True)
    codec = fields.CharField(max_length=32, default="")
    suffix = fields.CharField(max_length=16, default="")
    content_type = fields.CharField(max_length=64, default="application/octet-stream")
    replay_gain = fields.JSONField(null=True)
    mbid = fields.CharField(max_length=36, null=True)
    compilation = fields.BooleanField(default=False)
    lyrics = fields.TextField(null=True)
    cover_id = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "music_tracks"
        # (sort_title, id, ...): search results and the empty search's pages in title order
        # without sorting every match, the visibility columns read from the index alone
        # (migration 0006).
        indexes = [Index(fields=("folder_id", "present")), Index(fields=("album_id", "present")),
                   Index(fields=("source", "source_id")),
                   Index(fields=("sort_title", "id", "present", "folder_id", "owner_id", "shared"))]


class MusicTrackArtist(Model):
    """Every artist of a track (multi-valued tags become several rows)."""

    id = fields.IntField(primary_key=True)
    track = fields.ForeignKeyField("music_library.MusicTrack", related_name="artist_links",
                                   on_delete=fields.CASCADE)
    artist = fields.ForeignKeyField("music_library.MusicArtist", related_name="track_links",
                                    on_delete=fields.CASCADE)
    position = fields.IntField(default=0)

    class Meta:
        table = "music_track_artists"
        indexes = [Index(fields=("artist_id", "track_id")), Index(fields=("track_id", "position"))]


class MusicTrackGenre(Model):
    """Every genre of a track, for genre lists and filters (JSON filters do not work on SQLite)."""

    id = fields.IntField(primary_key=True)
    track = fields.ForeignKeyField("music_library.MusicTrack", related_name="genre_links",
                                   on_delete=fields.CASCADE)
    genre = fields.CharField(max_length=200)

    class Meta:
        table = "music_track_genres"
        indexes = [Index(fields=("genre", "track_id")), Index(fields=("track_id",))]


class MusicCover(Model):
    """Artwork by content hash: an embedded picture of a track or an image file in a folder."""

    id = fields.CharField(max_length=40, primary_key=True)
    kind = fields.CharField(max_length=16)  # embedded | file | media
    folder = fields.ForeignKeyField("music_library.MusicFolder", related_name="covers",
                                    null=True, on_delete=fields.CASCADE)
    rel_path = fields.TextField(null=True)
    track_id = fields.CharField(max_length=24, null=True)
    mime = fields.CharField(max_length=64, default="image/jpeg")
    size = fields.IntField(default=0)

    class Meta:
        table = "music_covers"


class MusicScanIssue(Model):
    """A file the scanner skipped and why, kept (with its size and mtime) until the file changes."""

    id = fields.IntField(primary_key=True)
    folder = fields.ForeignKeyField("music_library.MusicFolder", related_name="issues",
                                    on_delete=fields.CASCADE)
    rel_path = fields.TextField()
    path_key = fields.CharField(max_length=40, unique=True)
    size = fields.BigIntField(default=0)
    mtime = fields.FloatField(default=0)
    reason = fields.TextField()
    seen_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "music_scan_issues"


class MusicScanState(Model):
    """The last scan: counts for `mediahub library status`, and the lease one scanner holds."""

    name = fields.CharField(max_length=32, primary_key=True)
    holder = fields.CharField(max_length=64, null=True)
    lease_until = fields.FloatField(default=0)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    counts = fields.JSONField(default=dict)
    error = fields.TextField(null=True)

    class Meta:
        table = "music_scan_state"
