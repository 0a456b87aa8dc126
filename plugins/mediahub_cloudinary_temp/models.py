"""Temporary uploads of a listening session (beside their media-ledger rows) and who hosts each session."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TempUpload(Model):
    """One temporary upload: which session, who uploaded it, and its media ledger row.

    The ledger row holds the object and its expiry, so nothing is forgotten on restart.
    """

    id = fields.IntField(primary_key=True)
    public_id = fields.CharField(max_length=64, unique=True)
    media_id = fields.UUIDField(unique=True)
    session_id = fields.CharField(max_length=128, db_index=True)
    uploader_id = fields.UUIDField(null=True)
    song_title = fields.CharField(max_length=300, default="")
    sha256 = fields.CharField(max_length=64)
    expires_at = fields.FloatField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "temp_uploads"
        # One copy per uploader: the same bytes from someone else are their own upload
        # (a dedupe across users would hand out another user's publicId and clock).
        unique_together = (("session_id", "uploader_id", "sha256"),)


class TempSession(Model):
    """The host of a session id for temporary uploads: its first uploader, or who the party plugin names."""

    id = fields.IntField(primary_key=True)
    session_id = fields.CharField(max_length=128, unique=True)
    host_id = fields.UUIDField()
    last_activity = fields.FloatField(db_index=True)

    class Meta:
        table = "temp_sessions"
