"""Thread, member, message and render tables of the s3-renders plugin."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Thread(Model):
    """A conversation, private ones readable by their members only."""

    id = fields.UUIDField(primary_key=True)
    title = fields.CharField(max_length=200)
    owner = fields.ForeignKeyField("core.User", related_name="render_threads",
                                   on_delete=fields.CASCADE)
    is_private = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "render_threads"


class ThreadMember(Model):
    """One user taking part in a thread (the owner included)."""

    id = fields.IntField(primary_key=True)
    thread = fields.ForeignKeyField("s3_renders.Thread", related_name="members",
                                    on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("core.User", related_name="render_memberships",
                                  on_delete=fields.CASCADE)

    class Meta:
        table = "render_thread_members"
        unique_together = (("thread", "user"),)


class Message(Model):
    """A message in a thread, with the sequencer snapshot of the seed as JSON text."""

    id = fields.UUIDField(primary_key=True)
    thread = fields.ForeignKeyField("s3_renders.Thread", related_name="messages",
                                    on_delete=fields.CASCADE)
    author = fields.ForeignKeyField("core.User", related_name="render_messages",
                                    on_delete=fields.CASCADE)
    text = fields.TextField(default="")
    snapshot = fields.TextField(default="{}")
    snapshot_metadata = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "render_messages"


class Render(Model):
    """An uploaded audio render, whose bytes are the ledger object media_id.

    The id is the uuid in the object key, as in the seed layout renders/uuid.format.
    """

    id = fields.UUIDField(primary_key=True)
    owner = fields.ForeignKeyField("core.User", related_name="renders", on_delete=fields.CASCADE)
    message = fields.ForeignKeyField("s3_renders.Message", related_name="renders", null=True,
                                     on_delete=fields.SET_NULL)
    media_id = fields.UUIDField(db_index=True)
    format = fields.CharField(max_length=16)
    bitrate = fields.IntField(null=True)
    duration = fields.FloatField()
    size_bytes = fields.BigIntField()
    peaks = fields.TextField(default="[]")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "render_renders"
