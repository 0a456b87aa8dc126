"""The guestbook table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tortoise import fields
from tortoise.models import Model

from mediahub import current_host


class Greeting(Model):
    """One guestbook entry."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "greeter_greetings"


def expired_before(now: float) -> datetime:
    keep = current_host().plugin_config("greeter").keep_seconds
    return datetime.fromtimestamp(now, timezone.utc) - timedelta(seconds=keep)
