"""Library tables: a version row per user, a row per favorite, per playlist and per other section, device sessions."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class LibraryRecord(Model):
    """The version counter and tombstone horizon of one user library."""

    id = fields.IntField(primary_key=True)
    user = fields.OneToOneField("core.User", related_name="library", on_delete=fields.CASCADE)
    version = fields.BigIntField(default=0)
    horizon = fields.BigIntField(default=0)
    updated_at = fields.CharField(max_length=40, null=True)

    class Meta:
        table = "library_records"


class LibrarySection(Model):
    """One small section of a library (history, queue, preferences, recent searches).

    Stored as two JSON texts: the items exactly as clients get them and the versions
    behind them. Favorites and playlists have a row per item instead.
    """

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="library_sections",
                                  on_delete=fields.CASCADE)
    name = fields.CharField(max_length=32)
    items = fields.TextField()
    meta = fields.TextField()

    class Meta:
        table = "library_sections"
        unique_together = (("user", "name"),)


class LibraryFavorite(Model):
    """One favorite of a library, or the tombstone of a removed one.

    A row per favorite: a sync that adds or removes a few of 10,000 writes those rows only.
    """

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="library_favorites",
                                  on_delete=fields.CASCADE)
    video_id = fields.CharField(max_length=64)
    # The favorite addedAt as sent: favorites are listed newest first by this text.
    added_at = fields.CharField(max_length=40, default="")
    # The favorite exactly as clients get it (null for a tombstone).
    document = fields.TextField(null=True)
    created = fields.BigIntField(default=0)  # the library version that added it
    changed = fields.BigIntField(default=0)  # the version that last changed it
    deleted = fields.BigIntField(null=True)  # the version that removed it (a tombstone)
    # Server time of the removal, so the sweep finds tombstones past the retention period.
    deleted_at = fields.FloatField(null=True, db_index=True)

    class Meta:
        table = "library_favorites"
        unique_together = (("user", "video_id"),)


class LibraryPlaylist(Model):
    """One playlist of a library with its songs, or the tombstone of a deleted playlist.

    A row per playlist rather than one for all of them: a sync that changes one playlist
    rewrites that row only.
    """

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="library_playlists",
                                  on_delete=fields.CASCADE)
    playlist_id = fields.CharField(max_length=80)
    # The playlist created_at in seconds (0 without one): its place in the list.
    created = fields.FloatField(default=0)
    # The playlist exactly as clients get it, songs included (null for a tombstone).
    document = fields.TextField(null=True)
    # Versions of the playlist and of its songs, song tombstones, or its own tombstone.
    meta = fields.TextField()
    oldest_tombstone = fields.FloatField(null=True, db_index=True)

    class Meta:
        table = "library_playlists"
        unique_together = (("user", "playlist_id"),)


class DeviceSession(Model):
    """A device or tab that pinged recently (seed session_pings)."""

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="library_device_sessions",
                                  on_delete=fields.CASCADE)
    session_id = fields.CharField(max_length=128)
    last_ping_at = fields.FloatField()
    expires_at = fields.FloatField(db_index=True)

    class Meta:
        table = "library_device_sessions"
        unique_together = (("user", "session_id"),)


class LibraryDevice(Model):
    """What the server last told one device that never says `since`: the version of its answer.

    Keyed by the device's sign-in (a token family or browser session) or its `device_id`,
    so a seed client's PUT is merged as if it had sent the `since` it was last given.
    """

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="library_devices",
                                  on_delete=fields.CASCADE)
    device = fields.CharField(max_length=160)
    seen = fields.BigIntField()  # the library version of the last answer to this device
    seen_at = fields.FloatField(db_index=True)  # server time of that answer (for the sweep)

    class Meta:
        table = "library_devices"
        unique_together = (("user", "device"),)
