"""Library tables: one version row per user, one row per section (JSON documents), device sessions."""

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
    """One section of a library: the items clients get and the versions and tombstones behind them.

    Stored as two JSON texts rather than one row per item: a sync reads and writes a few
    rows whatever the size of the library.
    """

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="library_sections",
                                  on_delete=fields.CASCADE)
    name = fields.CharField(max_length=32)
    items = fields.TextField()
    meta = fields.TextField()
    # Server time of the oldest tombstone, so the sweep reads only sections with old ones.
    oldest_tombstone = fields.FloatField(null=True, db_index=True)

    class Meta:
        table = "library_sections"
        unique_together = (("user", "name"),)


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
