"""Core tables: users, tokens and web sessions, the media ledger, and persisted jobs."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.UUIDField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=64, default="")
    password_hash = fields.CharField(max_length=255, null=True)  # None for guests
    is_guest = fields.BooleanField(default=False)
    is_admin = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"


class AuthToken(Model):
    """An opaque bearer or refresh token, stored only as its sha256.

    Refresh tokens rotate: each use marks the token used and issues a new one in the same
    family. A used refresh token presented again revokes the whole family (token theft).
    """

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    kind = fields.CharField(max_length=16)  # access | refresh
    family = fields.CharField(max_length=36, db_index=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="tokens", on_delete=fields.CASCADE)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "auth_tokens"


class WebSession(Model):
    """A browser cookie session, with the CSRF token its forms must echo.

    (Model docstrings become SQL comments, and Tortoise 1.1 neither escapes quotes in them
    nor keeps semicolons from splitting its statements: write neither in a model docstring.)
    """

    id = fields.IntField(primary_key=True)
    session_hash = fields.CharField(max_length=64, unique=True)
    csrf_token = fields.CharField(max_length=64)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="web_sessions", on_delete=fields.CASCADE)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "web_sessions"


class MediaObject(Model):
    """The media ledger: one row per stored object, written before its bytes.

    pending -> stored -> deleting -> (row removed after the object is gone).
    """

    id = fields.UUIDField(primary_key=True)
    backend = fields.CharField(max_length=64)
    key = fields.CharField(max_length=512)
    state = fields.CharField(max_length=16, default="pending", db_index=True)
    purpose = fields.CharField(max_length=64, default="")
    content_type = fields.CharField(max_length=128, default="application/octet-stream")
    size = fields.BigIntField(null=True)
    sha256 = fields.CharField(max_length=64, null=True, db_index=True)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="media", null=True, on_delete=fields.SET_NULL)
    expires_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    metadata = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "media_objects"
        unique_together = (("backend", "key"),)


class Job(Model):
    """A background job. The database row is the truth, queues only wake workers."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=128, db_index=True)
    key = fields.CharField(max_length=255, null=True, unique=True)
    payload = fields.JSONField(default=dict)
    state = fields.CharField(max_length=16, default="queued", db_index=True)
    tries = fields.IntField(default=0)
    max_tries = fields.IntField(default=3)
    run_after = fields.DatetimeField(db_index=True)
    lease_until = fields.DatetimeField(null=True)
    progress = fields.FloatField(default=0)
    last_error = fields.TextField(null=True)
    result = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "jobs"


class AddressCount(Model):
    """Guests made or sign-ins failed from one network (`<what>:<address>`) in one minute."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=96)
    minute = fields.BigIntField(db_index=True)  # Unix time // 60
    count = fields.IntField(default=0)

    class Meta:
        table = "address_counts"
        unique_together = (("key", "minute"),)
