"""The subsonic-api tables: app passwords, ratings and what each app is playing now."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AppPassword(Model):
    """A per-device password for Subsonic apps, sealed with the server secret.

    Token auth (md5 of password + salt) needs the clear value, so it is stored encrypted
    rather than hashed; lookup_hash (an HMAC of it) finds the row of an apiKey.
    """

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="subsonic_app_passwords",
                                  on_delete=fields.CASCADE)
    name = fields.CharField(max_length=64)
    sealed = fields.CharField(max_length=255)
    lookup_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    last_client = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "subsonic_app_passwords"


class Rating(Model):
    """A user rating (1 to 5) of a collection item (library-sync has no ratings)."""

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="subsonic_ratings",
                                  on_delete=fields.CASCADE)
    item_id = fields.CharField(max_length=64)
    rating = fields.IntField()

    class Meta:
        table = "subsonic_ratings"
        unique_together = (("user", "item_id"),)


class NowPlaying(Model):
    """The track an app of a user reported playing (scrobble with submission=false)."""

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="subsonic_now_playing",
                                  on_delete=fields.CASCADE)
    client = fields.CharField(max_length=64)
    track_id = fields.CharField(max_length=64)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "subsonic_now_playing"
        unique_together = (("user", "client"),)
