"""Party tables: parties (their versioned state), members, uploaded tracks, join-code misses."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Party(Model):
    """A listening party: the join code, the host, and the authoritative playback state.

    `state` is the JSON of protocol.PartyState; `version` mirrors its version so that a
    command commits with one conditional UPDATE (optimistic concurrency across instances).
    """

    id = fields.UUIDField(primary_key=True)
    code = fields.CharField(max_length=12, unique=True)
    name = fields.CharField(max_length=200, default="")
    owner = fields.ForeignKeyField("core.User", related_name="parties", on_delete=fields.CASCADE)
    state = fields.TextField()
    version = fields.BigIntField(default=0)
    created_at = fields.FloatField()
    last_active_at = fields.FloatField(db_index=True)
    ended_at = fields.FloatField(null=True, db_index=True)
    ended_reason = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "party_parties"


class PartyMember(Model):
    """A user who joined a party, with the number of sockets they have open to it."""

    id = fields.IntField(primary_key=True)
    party = fields.ForeignKeyField("listen_party.Party", related_name="members",
                                   on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("core.User", related_name="party_memberships",
                                  on_delete=fields.CASCADE)
    display_name = fields.CharField(max_length=200)
    connections = fields.IntField(default=0)
    joined_at = fields.FloatField()
    last_seen_at = fields.FloatField()

    class Meta:
        table = "party_members"
        unique_together = (("party", "user"),)


class PartyTrack(Model):
    """A track uploaded for parties (seed POST /api/upload-track), stored through the ledger."""

    id = fields.CharField(max_length=32, primary_key=True)
    media = fields.ForeignKeyField("core.MediaObject", related_name="party_tracks",
                                   on_delete=fields.CASCADE)
    owner = fields.ForeignKeyField("core.User", related_name="party_tracks",
                                   on_delete=fields.CASCADE)
    filename = fields.CharField(max_length=255)
    created_at = fields.FloatField(db_index=True)

    class Meta:
        table = "party_tracks"


class PartyCodeMiss(Model):
    """Unknown join codes tried by one client (`ip:<net>` or `user:<id>`) in one minute."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=80)
    minute = fields.BigIntField(db_index=True)  # Unix time // 60
    misses = fields.IntField(default=0)

    class Meta:
        table = "party_code_misses"
        unique_together = (("key", "minute"),)
