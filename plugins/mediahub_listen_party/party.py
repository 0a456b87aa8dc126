"""Parties in the database: create, join, commands committed by version, end, sweep."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
import uuid
from dataclasses import replace
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from mediahub import Forbidden, NotFound, User, call_hook, current_host
from mediahub_listen_party import code_limit, protocol, sources
from mediahub_listen_party.models import Party, PartyMember, PartyTrack
from mediahub_listen_party.protocol import PartyState, ProtocolError

log = logging.getLogger("mediahub.listen_party")

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def settings():
    return current_host().plugin_config("listen_party")


def now_ms() -> float:
    """The one server clock every position is anchored to (Unix time, milliseconds)."""
    return time.time() * 1000.0


def channel(code: str) -> str:
    """Every member's channel: state changes."""
    return f"party:{code}"


def host_channel(code: str) -> str:
    """The host's channel: joins, leaves and every guest's sync report."""
    return f"party:{code}:host"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper()


def state_of(party: Party) -> PartyState:
    return PartyState.from_json(json.loads(party.state))


async def create_party(user, name: str = "") -> Party:
    now = time.time()
    state = PartyState(version=1, host_id=str(user.id), anchor_ms=now_ms(),
                       skip_share=settings().skip_share)
    for _ in range(10):
        try:
            party = await Party.create(code=new_code(), name=name, owner=user,
                                       state=json.dumps(state.to_json()), version=state.version,
                                       created_at=now, last_active_at=now)
            break
        except IntegrityError:
            continue
    else:
        raise RuntimeError("could not pick a free party code")
    await join(party, user, user.display_name or user.username)
    # The party's id is the session id of its temporary uploads: its host may delete them.
    await sources.name_session_host(str(party.id), user.id)
    return party


async def find_party(code: str, *, active: bool = True) -> Party:
    party = await Party.get_or_none(code=normalise_code(code)) if len(code) <= 12 else None
    if party is None or (active and party.ended_at is not None):
        raise NotFound("no such party (or it has ended)", code="party_not_found")
    return party


async def find_party_guarded(code: str, ip: str | None, user) -> Party:
    """A party by a join code a client typed, behind the guessing limit: after too many
    unknown codes from this client (IP network, and account) in a minute, every lookup
    answers 429 — a right code too, or the limit would still tell right from wrong."""
    keys = code_limit.client_keys(ip, user.id if user is not None else None)
    await code_limit.check(keys, settings().code_misses_per_minute)
    try:
        return await find_party(code)
    except NotFound:
        await code_limit.record_miss(keys)
        raise


async def join(party: Party, user, display_name: str) -> PartyMember:
    now = time.time()
    member, created = await PartyMember.get_or_create(
        party=party, user=user,
        defaults={"display_name": display_name[:200], "joined_at": now, "last_seen_at": now})
    if not created and display_name and member.display_name != display_name:
        member.display_name = display_name[:200]
        await member.save(update_fields=["display_name"])
    return member


async def members(party: Party) -> list[dict[str, Any]]:
    rows = await PartyMember.filter(party=party).order_by("joined_at")
    return [{"memberId": str(m.user_id), "name": m.display_name, "online": m.connections > 0}
            for m in rows]


async def member_count(party: Party) -> int:
    return await PartyMember.filter(party=party).count()


def names_upload(state: PartyState, track_id: str) -> bool:
    """Whether the party's current track or queue is the upload `track_id`."""
    return any(track and track.get("source", sources.UPLOAD_TRACK) == sources.UPLOAD_TRACK
               and track.get("trackId") == track_id for track in (state.track, *state.queue))


async def may_fetch_upload(track: PartyTrack, user) -> bool:
    """Who may fetch an uploaded track's bytes (`GET /api/track/<id>`): its uploader, and the
    members of a live party that is playing it or has it queued. Knowing the id is not enough."""
    if track.owner_id == user.id:
        return True
    memberships = await PartyMember.filter(user_id=user.id, party__ended_at__isnull=True) \
        .prefetch_related("party")
    return any(names_upload(state_of(member.party), track.id) for member in memberships)


async def connected(party: Party, user_id, delta: int) -> None:
    """Count a socket opening (+1) or closing (-1); also marks the party active."""
    now = time.time()
    await PartyMember.filter(party_id=party.id, user_id=user_id).update(
        connections=F("connections") + delta, last_seen_at=now)
    await Party.filter(id=party.id).update(last_active_at=now)


async def host_online(party_id, host_id: str) -> bool:
    member = await PartyMember.get_or_none(party_id=party_id, user_id=host_id)
    return member is not None and member.connections > 0


async def run_command(code: str, user_id: str, message: dict[str, Any],
                      name: str = "") -> dict[str, Any]:
    """Apply a member's command to the stored state; publish and return what members get.

    Two commands racing on two instances both read version N; the conditional UPDATE lets
    exactly one commit. A versioned command that loses is refused as stale; a free one (an
    addition, a vote, a track length) is applied again to the winner's state.
    """
    kind = message["t"]
    attempts = 5 if kind in protocol.FREE_COMMANDS else 1
    for attempt in range(attempts):
        party = await find_party(code)
        state = await settle(party)
        track = None
        if kind in ("HOST_TRACK_SELECTED", "QUEUE_ADD"):
            # Role and version first: only who may add makes the server look a track up.
            protocol.check_command(state, user_id, message.get("version")
                                   if kind in protocol.VERSIONED_COMMANDS else None,
                                   protocol.ACTION[kind])
            described = await sources.resolve(party, state.host_id, await User.get(id=user_id),
                                              message.get("source"), message["trackId"])
            track = {**described, "entryId": secrets.token_urlsafe(6), "addedBy": user_id,
                     "addedByName": name[:64]}
        if kind in ("HOST_HANDOFF", "SET_ROLE"):
            exists = await PartyMember.exists(party_id=party.id, user_id=message["memberId"]) \
                if is_uuid(message["memberId"]) else False
            if not exists:
                raise ProtocolError("no_such_member", "choose someone who joined")
        listeners = await online_count(party) if kind == "VOTE_SKIP" else 1
        new, outgoing = protocol.apply_command(state, message, user_id, now_ms(),
                                               settings().start_lead_ms, track, listeners)
        try:
            await commit(party, state, new)
        except ProtocolError:
            if attempt + 1 < attempts:
                continue
            raise
        break
    await current_host().bus.publish(channel(party.code), outgoing)
    if kind == "HOST_HANDOFF":
        await sources.name_session_host(str(party.id), message["memberId"])
    await announce_track_change(party, state, new)
    return outgoing


async def settle(party: Party) -> PartyState:
    """The party's state with every passed track boundary committed (and announced).

    Any instance may do it (its room's timer, a command, a late joiner's snapshot): the
    advance is deterministic, so whoever commits first wins and the others read theirs.
    """
    for _ in range(5):
        state = state_of(party)
        new = protocol.advance(state, now_ms())
        if new.version == state.version:
            return state
        try:
            await commit(party, state, new)
        except ProtocolError:
            party = await find_party(party.code)  # another instance advanced it first
            continue
        party.state, party.version = json.dumps(new.to_json()), new.version
        await current_host().bus.publish(channel(party.code),
                                         protocol.state_message("TRACK_ADVANCED", new))
        await announce_track_change(party, state, new)
        return new
    return state_of(party)


async def advance_due(code: str) -> None:
    """A track boundary is due (a room's timer): move the party on if nobody has yet."""
    with contextlib.suppress(NotFound):
        await settle(await find_party(code))


async def announce_track_change(party: Party, old: PartyState, new: PartyState) -> None:
    """`track_changed` when the playing entry changed or the last one finished.

    A previous track that is still queued (the same upload queued twice) is not named as
    previous: its temporary upload must stay until it has played too.
    """
    before = None if old.finished else old.track
    after = None if new.finished else new.track
    if (before or {}).get("entryId") == (after or {}).get("entryId"):
        return
    if before is not None and any((e.get("source"), e.get("trackId")) ==
                                  (before.get("source"), before.get("trackId")) for e in new.queue):
        before = None
    await call_hook("track_changed", session_id=str(party.id), previous=before, current=after)


async def commit(party: Party, old: PartyState, new: PartyState) -> None:
    updated = await Party.filter(id=party.id, version=old.version, ended_at=None).update(
        state=json.dumps(new.to_json()), version=new.version, last_active_at=time.time())
    if not updated:
        raise ProtocolError("stale_version", "the party changed meanwhile; resync and retry")


async def online_count(party: Party) -> int:
    return await PartyMember.filter(party_id=party.id, connections__gt=0).count()


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def pause_if_host_gone(code: str, host_id: str) -> bool:
    """After the host's grace period: pause the party if that host is still away."""
    party = await Party.get_or_none(code=code)
    if party is None or party.ended_at is not None:
        return False
    state = await settle(party)
    if state.host_id != host_id or not state.playing or await host_online(party.id, host_id):
        return False
    for cohost in state.cohosts:  # a co-host still here keeps the music going
        if await host_online(party.id, cohost):
            return False
    new = protocol.pause(state, now_ms())
    try:
        await commit(party, state, new)
    except ProtocolError:
        return False  # someone acted meanwhile: the party is not abandoned
    await current_host().bus.publish(channel(code), protocol.state_message("PAUSE", new, queue=False,
                                                                           reason="host_away"))
    return True


async def end_party(party: Party, reason: str) -> bool:
    """End a party once (whoever calls first wins); tells members and fires `session_ended`."""
    # The queue goes with the party: nothing of it is played, kept or shown again.
    cleared = replace(state_of(party), queue=(), playing=False, skip_votes=())
    updated = await Party.filter(id=party.id, ended_at=None).update(
        ended_at=time.time(), ended_reason=reason, state=json.dumps(cleared.to_json()))
    if not updated:
        return False
    host = current_host()
    await host.bus.publish(channel(party.code), {"t": "PARTY_ENDED", "reason": reason})
    await call_hook("session_ended", session_id=str(party.id), reason=reason)
    return True


async def end_by(party: Party, user) -> None:
    state = state_of(party)
    if not protocol.may(state, str(user.id), "end") and str(user.id) != str(party.owner_id):
        raise Forbidden("only the host can end the party", code="not_host")
    await end_party(party, "host_ended")


async def sweep(now: float) -> dict[str, int]:
    """End idle parties, delete long-ended ones, delete expired uploaded tracks."""
    conf = settings()
    idle = await Party.filter(ended_at=None, last_active_at__lt=now - conf.idle_timeout)
    ended = 0
    for party in idle:
        ended += await end_party(party, "idle")
    deleted = await Party.filter(ended_at__lt=now - conf.ended_retention).delete()
    playing = {track.get("trackId") for p in await Party.filter(ended_at=None)
               for track in (state_of(p).track, *state_of(p).queue) if track}
    tracks = 0
    ledger = current_host().ledger
    for track in await PartyTrack.filter(created_at__lt=now - conf.track_ttl).prefetch_related("media"):
        if track.id in playing:
            continue
        if await ledger.delete(track.media):
            tracks += 1  # the row goes with its media (ON DELETE CASCADE) or now
            await PartyTrack.filter(id=track.id).delete()
    return {"parties_ended": ended, "parties_deleted": deleted, "tracks_deleted": tracks,
            "code_misses_forgotten": await code_limit.sweep(now)}
