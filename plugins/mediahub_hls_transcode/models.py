"""The track table of the hls-transcode plugin."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Track(Model):
    """An uploaded track, its processing state and where its HLS renditions live.

    Every object of a track (original, artwork, renditions) lives under prefix, owned by
    the ledger row media_id whose key is that prefix.
    """

    id = fields.UUIDField(primary_key=True)
    owner = fields.ForeignKeyField("core.User", related_name="hls_tracks", on_delete=fields.CASCADE)
    title = fields.CharField(max_length=200, default="")
    artist_name = fields.CharField(max_length=200, default="")
    album = fields.CharField(max_length=200, null=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    error = fields.TextField(null=True)
    backend = fields.CharField(max_length=64)
    prefix = fields.CharField(max_length=255)
    media_id = fields.UUIDField(null=True)
    job_id = fields.UUIDField(null=True)
    audio_key = fields.CharField(max_length=255)
    declared_size = fields.BigIntField()
    artwork_key = fields.CharField(max_length=255, null=True)
    has_artwork = fields.BooleanField(default=False)
    duration_seconds = fields.FloatField(null=True)
    loudness_lufs = fields.FloatField(null=True)
    gain_db = fields.FloatField(null=True)
    renditions = fields.JSONField(default=list)
    master_ready = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "hls_tracks"
