"""The listen-party plugin: a host plays a track, guests who joined with a code play it in sync."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mediahub import hookimpl


class ListenPartySettings(BaseModel):
    """`[plugins.listen_party]` in the config file."""

    model_config = {"extra": "forbid"}
    # How far ahead a play or seek is scheduled: long enough for every guest to receive
    # the message and seek its audio element, short enough to feel immediate.
    start_lead_ms: float = Field(700, ge=50, le=5000)
    # A host whose last socket closed has this long to come back before the party pauses.
    host_grace_seconds: float = Field(30, gt=0)
    # A party nobody touched for this long is ended by the sweep.
    idle_timeout: float = Field(2 * 3600, gt=0)
    # Ended parties are kept (for their page to say so) this long, then deleted.
    ended_retention: float = Field(24 * 3600, gt=0)
    # Uploaded tracks live this long (seed: 2 hours) unless a live party still plays them.
    track_ttl: float = Field(2 * 3600, gt=0)
    # The size cap of one uploaded track (default: [server] max_upload_bytes).
    max_track_bytes: int | None = Field(None, ge=1024)
    # Per socket: sustained messages per second and burst before the socket is closed.
    messages_per_second: float = Field(10, gt=0)
    message_burst: int = Field(40, ge=1)
    # Unknown join codes one client (IP network, and account) may try per minute before
    # every code lookup answers 429; see docs/party-protocol.md "Join codes" for the why.
    code_misses_per_minute: int = Field(10, ge=1, le=1000)
    # Reactions per member: this many at once, then one every `reaction_seconds`.
    reaction_burst: int = Field(3, ge=1, le=50)
    reaction_seconds: float = Field(1.0, gt=0, le=60)
    # A new party's "vote to skip" share of online listeners (the host may change it).
    skip_share: float = Field(0.5, gt=0, le=1)


@hookimpl
def register_hookspecs():
    from mediahub_listen_party import hookspecs

    return hookspecs


@hookimpl
def party_service():
    from mediahub_listen_party.service import service

    return service


@hookimpl
def register_config_sections():
    return {"listen_party": ListenPartySettings}


@hookimpl
def register_models():
    return {"listen_party": {"models": "mediahub_listen_party.models",
                             "migrations": "mediahub_listen_party.migrations"}}


@hookimpl
def register_routes(app):
    from mediahub_listen_party.routes import blueprint as api
    from mediahub_listen_party.live import blueprint as live

    return [api, live]


@hookimpl
def register_nav_items(request):
    return [{"label": "Party", "href": "/party"}]


@hookimpl
async def cleanup(now):
    from mediahub_listen_party import party

    return await party.sweep(now)


# -- the party's own track source: the seed's `POST /api/upload-track` ---------------------


@hookimpl(trylast=True)
def party_track_sources(user):
    return [{"source": "upload-track", "label": "A file from your device", "picker": "upload"}]


@hookimpl(trylast=True)
async def party_track_resolve(source, track_id, session_id, user):
    from mediahub_listen_party import sources

    return await sources.own_upload(track_id, user) if source == sources.UPLOAD_TRACK else None
