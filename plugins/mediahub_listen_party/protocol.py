"""Party protocol: message validation and versioned state transitions, as pure functions.

The server is the authority. A party's state is one `PartyState`; every command the host
sends names the version it was based on, and a command on a stale version is refused.
Positions are anchored to the server clock: `position_sec` is where the track is at server
time `anchor_ms` (for a scheduled start `anchor_ms` lies a short lead in the future).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

MAX_FRAME_CHARS = 4096
MAX_POSITION_SEC = 24 * 3600.0
MAX_NAME_CHARS = 200
TRACK_ID_CHARS = 64

MAX_QUEUE = 100          # entries waiting; every state message carries the queue
ENTRY_ID_CHARS = 16
# The reactions a member can send: a fixed set, so no free text is ever stored or relayed.
REACTIONS = ("👍", "❤️", "😂", "🔥", "🎉", "👏", "😮", "🙌")

# Client -> server. Commands that change what everyone hears (or who decides) carry the
# `version` they were based on: of two racing, one wins and the other is `stale_version`.
HOST_COMMANDS = {"HOST_TRACK_SELECTED", "HOST_PLAY", "HOST_PAUSE", "HOST_SEEK", "HOST_HANDOFF"}
VERSIONED_COMMANDS = HOST_COMMANDS | {"QUEUE_REMOVE", "QUEUE_MOVE", "SKIP", "SET_ROLE",
                                      "SET_PERMISSIONS"}
# These commute with anything (an addition, a vote, a fact about the current track): the
# server applies them to the newest state, retrying if another command commits first.
FREE_COMMANDS = {"QUEUE_ADD", "VOTE_SKIP", "TRACK_DURATION"}
COMMANDS = VERSIONED_COMMANDS | FREE_COMMANDS
CLIENT_MESSAGES = COMMANDS | {"PING", "SYNC_REPORT", "REACT"}

# What each command needs (see `may`).
ACTION = {"HOST_TRACK_SELECTED": "control", "HOST_PLAY": "control", "HOST_PAUSE": "control",
          "HOST_SEEK": "control", "SKIP": "control", "TRACK_DURATION": "control",
          "HOST_HANDOFF": "roles", "SET_ROLE": "roles", "SET_PERMISSIONS": "settings",
          "QUEUE_ADD": "queue_add", "QUEUE_REMOVE": "queue_manage", "QUEUE_MOVE": "queue_manage",
          "VOTE_SKIP": "vote"}
ROLES = ("cohost", "guest")


class ProtocolError(ValueError):
    """A frame or command the server refuses; `code` is sent back in an ERROR message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PartyState:
    version: int = 0
    host_id: str = ""
    track: dict | None = None  # {"trackId", "trackUrl", "filename"}
    playing: bool = False
    position_sec: float = 0.0
    anchor_ms: float = 0.0
    # Upcoming entries: track dicts with `entryId`, `addedBy`, `addedByName`.
    queue: tuple = ()
    cohosts: tuple = ()
    guests_control: bool = False
    guests_add: bool = True
    skip_share: float = 0.5
    skip_votes: tuple = ()  # member ids who voted to skip the current entry
    finished: bool = False  # the last track played to its end and nothing was queued

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(queue=list(self.queue), cohosts=list(self.cohosts),
                    skip_votes=list(self.skip_votes))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartyState:
        return cls(version=int(data.get("version", 0)), host_id=str(data.get("host_id", "")),
                   track=data.get("track"), playing=bool(data.get("playing", False)),
                   position_sec=float(data.get("position_sec", 0.0)),
                   anchor_ms=float(data.get("anchor_ms", 0.0)),
                   queue=tuple(data.get("queue") or ()), cohosts=tuple(data.get("cohosts") or ()),
                   guests_control=bool(data.get("guests_control", False)),
                   guests_add=bool(data.get("guests_add", True)),
                   skip_share=float(data.get("skip_share", 0.5)),
                   skip_votes=tuple(data.get("skip_votes") or ()),
                   finished=bool(data.get("finished", False)))


def role_of(state: PartyState, user_id: str) -> str:
    if user_id == state.host_id:
        return "host"
    return "cohost" if user_id in state.cohosts else "guest"


def may(state: PartyState, user_id: str, action: str) -> bool:
    """Whether `user_id` may do `action` ("control", "queue_add", "queue_manage",
    "settings", "roles", "end", "vote"): the host everything, a co-host everything but
    roles and ending, a guest voting, plus what the party's two switches allow."""
    role = role_of(state, user_id)
    if role == "host" or action == "vote":
        return True
    if action in ("roles", "end"):
        return False
    if role == "cohost":
        return True
    return (action == "control" and state.guests_control) or \
        (action == "queue_add" and state.guests_add)


def ends_at(state: PartyState) -> float | None:
    """Server ms at which the playing track ends (the next one starts), if its length is known."""
    duration = (state.track or {}).get("durationSec")
    if not state.playing or not isinstance(duration, (int, float)) or duration <= 0:
        return None
    return state.anchor_ms + max(0.0, duration - state.position_sec) * 1000.0


def position_at(state: PartyState, server_ms: float) -> float:
    """Where the track is at `server_ms` (before a scheduled start: the start position)."""
    if not state.playing:
        return state.position_sec
    return max(state.position_sec, state.position_sec + (server_ms - state.anchor_ms) / 1000.0)


# -- validation of client frames ----------------------------------------------------------


def parse_frame(text: object) -> dict[str, Any]:
    """A client frame as a checked dict; raises ProtocolError for anything malformed."""
    if not isinstance(text, str):
        raise ProtocolError("bad_frame", "frames are JSON text")
    if len(text) > MAX_FRAME_CHARS:
        raise ProtocolError("frame_too_large", f"frames are at most {MAX_FRAME_CHARS} characters")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_frame", "frames are JSON objects") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_frame", "frames are JSON objects")
    kind = message.get("t")
    if not isinstance(kind, str) or kind not in CLIENT_MESSAGES:  # a list is not even hashable
        raise ProtocolError("unknown_type", f"unknown message type {str(kind)[:40]!r}")
    if kind in VERSIONED_COMMANDS:
        version = message.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise ProtocolError("bad_frame", "host commands carry the integer `version` they are based on")
    if kind in ("HOST_PLAY", "HOST_SEEK"):
        position = message.get("positionSec")
        if position is None and kind == "HOST_PLAY":
            return message
        check_position(position)
    elif kind == "PING":
        check_number(message.get("t0"), "t0")
    elif kind == "SYNC_REPORT":
        for field in ("offsetMs", "driftMs", "rttMs"):
            check_number(message.get(field), field)
    elif kind in ("HOST_TRACK_SELECTED", "QUEUE_ADD"):
        track_id = message.get("trackId")
        if not isinstance(track_id, str) or not 0 < len(track_id) <= TRACK_ID_CHARS:
            raise ProtocolError("bad_frame", "trackId is a short string")
    elif kind in ("HOST_HANDOFF", "SET_ROLE"):
        member = message.get("memberId")
        if not isinstance(member, str) or not 0 < len(member) <= 64:
            raise ProtocolError("bad_frame", "memberId names a member")
        if kind == "SET_ROLE" and message.get("role") not in ROLES:
            raise ProtocolError("bad_frame", "role is \"cohost\" or \"guest\"")
    elif kind in ("QUEUE_REMOVE", "QUEUE_MOVE", "VOTE_SKIP", "TRACK_DURATION"):
        check_entry_id(message.get("entryId"))
        if kind == "QUEUE_MOVE":
            index = message.get("toIndex")
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_QUEUE:
                raise ProtocolError("bad_frame", f"toIndex is a queue position 0..{MAX_QUEUE - 1}")
        if kind == "TRACK_DURATION":
            duration = check_number(message.get("durationSec"), "durationSec")
            if not 0 < duration <= MAX_POSITION_SEC:
                raise ProtocolError("bad_frame", "durationSec is a track length in seconds")
    elif kind == "SET_PERMISSIONS":
        for name in ("guestsControl", "guestsAdd"):
            if name in message and not isinstance(message[name], bool):
                raise ProtocolError("bad_frame", f"{name} is true or false")
        if "skipShare" in message:
            share = check_number(message["skipShare"], "skipShare")
            if not 0 < share <= 1:
                raise ProtocolError("bad_frame", "skipShare is a share of listeners in (0, 1]")
    elif kind == "REACT":
        if message.get("emoji") not in REACTIONS:
            raise ProtocolError("bad_frame", "emoji is one of the party's reactions")
    if kind in ("HOST_TRACK_SELECTED", "QUEUE_ADD") and "source" in message \
            and not isinstance(message["source"], str):
        raise ProtocolError("bad_frame", "source is a track source name")
    return message


def check_entry_id(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= ENTRY_ID_CHARS:
        raise ProtocolError("bad_frame", "entryId names a queue entry")
    return value


def check_number(value: object, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ProtocolError("bad_frame", f"{name} must be a finite number")
    try:
        number = float(value)  # a JSON integer of 309 digits is larger than any float
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ProtocolError("bad_frame", f"{name} must be a finite number")
    return number


def check_position(value: object) -> float:
    position = check_number(value, "positionSec")
    if not 0 <= position <= MAX_POSITION_SEC:
        raise ProtocolError("bad_frame", f"positionSec must be within 0..{MAX_POSITION_SEC:.0f}")
    return position


# -- transitions --------------------------------------------------------------------------


def check_command(state: PartyState, user_id: str, version: int | None,
                  action: str = "control") -> None:
    """Refuse a command its sender may not give (`not_host`) or based on an old version."""
    if not may(state, user_id, action):
        raise ProtocolError("not_host", REFUSALS.get(action, "only the host may do that"))
    if version is not None and version != state.version:
        raise ProtocolError("stale_version",
                            f"the party is at version {state.version}, not {version}")


REFUSALS = {
    "control": "only the host (or a co-host) controls playback here",
    "queue_add": "the host has not let guests add to the queue",
    "queue_manage": "only the host (or a co-host) reorders or removes other people's tracks",
    "settings": "only the host (or a co-host) changes the party's switches",
    "roles": "only the host changes roles",
}


def bump(state: PartyState, **changes: Any) -> PartyState:
    return replace(state, version=state.version + 1, **changes)


def select_track(state: PartyState, track: dict, now_ms: float) -> PartyState:
    """A new track, paused at 0: guests load it while the host decides when to play."""
    return bump(state, track=track, playing=False, position_sec=0.0, anchor_ms=now_ms,
                skip_votes=(), finished=False)


def play(state: PartyState, position_sec: float | None, now_ms: float, lead_ms: float) -> PartyState:
    """Start (or restart) at `position_sec` (default: where it is) `lead_ms` from now."""
    if state.track is None:
        raise ProtocolError("no_track", "select a track before playing")
    if state.finished and position_sec is None:
        position_sec = 0.0  # play after the end: the last track again
    start = position_at(state, now_ms) if position_sec is None else position_sec
    return bump(state, playing=True, position_sec=start, anchor_ms=now_ms + lead_ms,
                finished=False)


def pause(state: PartyState, now_ms: float) -> PartyState:
    return bump(state, playing=False, position_sec=position_at(state, now_ms), anchor_ms=now_ms)


def seek(state: PartyState, position_sec: float, now_ms: float, lead_ms: float) -> PartyState:
    """Jump; a playing party resumes from there after the lead, a paused one stays paused."""
    if state.track is None:
        raise ProtocolError("no_track", "select a track before seeking")
    anchor = now_ms + lead_ms if state.playing else now_ms
    return bump(state, position_sec=position_sec, anchor_ms=anchor, finished=False)


def hand_off(state: PartyState, member_id: str) -> PartyState:
    """The host role moves; the new host is no longer a co-host, the old one is a guest."""
    return bump(state, host_id=member_id,
                cohosts=tuple(c for c in state.cohosts if c != member_id))


def set_role(state: PartyState, member_id: str, role: str) -> PartyState:
    if member_id == state.host_id:
        raise ProtocolError("no_such_member", "the host's role moves with HOST_HANDOFF")
    cohosts = tuple(c for c in state.cohosts if c != member_id)
    return bump(state, cohosts=cohosts + ((member_id,) if role == "cohost" else ()))


def set_permissions(state: PartyState, message: dict[str, Any]) -> PartyState:
    return bump(state, guests_control=message.get("guestsControl", state.guests_control),
                guests_add=message.get("guestsAdd", state.guests_add),
                skip_share=float(message.get("skipShare", state.skip_share)))


# -- the queue ----------------------------------------------------------------------------


def add_to_queue(state: PartyState, entry: dict, now_ms: float, lead_ms: float) -> PartyState:
    """Queue `entry`; with nothing selected it becomes the track (paused), after the queue
    ran out it starts a lead from now (the party was listening)."""
    if len(state.queue) >= MAX_QUEUE:
        raise ProtocolError("queue_full", f"the queue holds at most {MAX_QUEUE} tracks")
    if state.track is None:
        return select_track(state, entry, now_ms)
    if state.finished:
        return bump(state, track=entry, playing=True, position_sec=0.0,
                    anchor_ms=now_ms + lead_ms, skip_votes=(), finished=False)
    return bump(state, queue=state.queue + (entry,))


def find_entry(state: PartyState, entry_id: str) -> int:
    for index, entry in enumerate(state.queue):
        if entry.get("entryId") == entry_id:
            return index
    raise ProtocolError("no_such_entry", "that track is no longer in the queue")


def remove_from_queue(state: PartyState, entry_id: str) -> PartyState:
    index = find_entry(state, entry_id)
    return bump(state, queue=state.queue[:index] + state.queue[index + 1:])


def move_in_queue(state: PartyState, entry_id: str, to_index: int) -> PartyState:
    index = find_entry(state, entry_id)
    rest = state.queue[:index] + state.queue[index + 1:]
    to_index = min(to_index, len(rest))
    return bump(state, queue=rest[:to_index] + (state.queue[index],) + rest[to_index:])


def next_track(state: PartyState, start_ms: float, playing: bool) -> PartyState:
    """The next entry becomes the track, at 0 from `start_ms`; with an empty queue the
    party stops at the end of the last track (`finished`)."""
    if not state.queue:
        duration = (state.track or {}).get("durationSec")
        end = position_at(state, start_ms) if duration is None else float(duration)
        return bump(state, playing=False, position_sec=end, anchor_ms=start_ms, skip_votes=(),
                    finished=state.track is not None)
    return bump(state, track=state.queue[0], queue=state.queue[1:], playing=playing,
                position_sec=0.0, anchor_ms=start_ms, skip_votes=(), finished=False)


def skip(state: PartyState, now_ms: float, lead_ms: float) -> PartyState:
    """On to the next entry: playing, it starts a lead from now, like any scheduled start."""
    if state.track is None:
        raise ProtocolError("no_track", "nothing to skip")
    return next_track(state, now_ms + lead_ms if state.playing else now_ms, state.playing)


def advance(state: PartyState, now_ms: float) -> PartyState:
    """The state once every track boundary up to `now_ms` has passed.

    Deterministic: the next track starts exactly at the previous one's `ends_at`, whoever
    computes it and whenever, so every instance (and every late reader) agrees, and the
    browsers that switched on their own at that instant are already where the state says.
    """
    boundary = ends_at(state)
    while boundary is not None and now_ms >= boundary:
        state = next_track(state, boundary, True)
        boundary = ends_at(state)
    return state


def vote_skip(state: PartyState, user_id: str, entry_id: str, listeners: int, now_ms: float,
              lead_ms: float) -> tuple[PartyState, bool]:
    """Count a vote for skipping the current entry; enough votes (the party's share of
    the `listeners` online) skip it. Returns the new state and whether it skipped."""
    if state.track is None or state.track.get("entryId") != entry_id:
        raise ProtocolError("stale_version", "that track is no longer playing")
    votes = state.skip_votes if user_id in state.skip_votes else state.skip_votes + (user_id,)
    if len(votes) >= votes_needed(state, listeners):
        return skip(state, now_ms, lead_ms), True
    return bump(state, skip_votes=votes), False


def votes_needed(state: PartyState, listeners: int) -> int:
    return max(1, math.ceil(state.skip_share * max(1, listeners) - 1e-9))


def set_duration(state: PartyState, entry_id: str, duration: float) -> PartyState | None:
    """The length of the current track, reported by a controller's browser for a source
    that did not know it; None (nothing to change) if known already or another track."""
    track = state.track or {}
    if track.get("entryId") != entry_id or track.get("durationSec"):
        return None
    return bump(state, track={**track, "durationSec": duration})


# -- what members get ---------------------------------------------------------------------

PUBLIC_ENTRY = ("entryId", "source", "trackId", "trackUrl", "filename", "durationSec",
                "coverUrl", "addedBy", "addedByName")


def public_entry(entry: dict) -> dict[str, Any]:
    """An entry as members see it (server-side keys such as `media_id` stay in the state)."""
    return {key: entry.get(key) for key in PUBLIC_ENTRY if entry.get(key) is not None}


# The state messages that always carry the queue's entries: the snapshot, and those about
# the queue. Every other one carries them only when it changed the queue, and always
# `queueIds` (the entry ids in order, ~10 B each against ~250 B an entry): a client holding
# entries for those ids is up to date, one that is not (its inbox dropped a QUEUE_CHANGED)
# reconnects for a snapshot.
QUEUE_FRAMES = frozenset({"SNAPSHOT", "QUEUE_CHANGED", "TRACK_ADVANCED"})


def state_message(kind: str, state: PartyState, *, queue: bool = True, **extra: Any) -> dict[str, Any]:
    """A server message: the seed's fields (`serverTimestamp`, `positionSec`, track) plus the
    whole versioned state, so any message brings a client up to date; the queue's entries
    only if `queue` (see QUEUE_FRAMES), their ids always."""
    track = state.track or {}
    entries = {"queue": [public_entry(entry) for entry in state.queue]} if queue else {}
    return {"t": kind, "version": state.version, "serverTimestamp": state.anchor_ms,
            "positionSec": state.position_sec, "playing": state.playing,
            "trackId": track.get("trackId"), "trackUrl": track.get("trackUrl"),
            "filename": track.get("filename"), "hostId": state.host_id,
            "entryId": track.get("entryId"), "durationSec": track.get("durationSec"),
            "coverUrl": track.get("coverUrl"), "addedByName": track.get("addedByName"),
            "endsAt": ends_at(state), "finished": state.finished,
            **entries, "queueIds": [entry["entryId"] for entry in state.queue],
            "cohosts": list(state.cohosts),
            "permissions": {"guestsControl": state.guests_control, "guestsAdd": state.guests_add,
                            "skipShare": state.skip_share},
            "skipVotes": len(state.skip_votes), **extra}


def apply_command(state: PartyState, message: dict[str, Any], user_id: str, now_ms: float,
                  lead_ms: float, track: dict | None = None,
                  listeners: int = 1) -> tuple[PartyState, dict[str, Any]]:
    """A command applied to `state`: the new state and the message every member gets (the
    queue's entries in it only if it is a queue frame or changed the queue).

    `track` is the server's own description of `trackId` (looked up by the caller, with
    its queue `entryId`), never what the client claimed; `listeners` is how many members
    are online (for votes).
    """
    new, outgoing = _apply_command(state, message, user_id, now_ms, lead_ms, track, listeners)
    if outgoing["t"] not in QUEUE_FRAMES and new.queue == state.queue:
        del outgoing["queue"]
    return new, outgoing


def _apply_command(state: PartyState, message: dict[str, Any], user_id: str, now_ms: float,
                   lead_ms: float, track: dict | None, listeners: int) -> tuple[PartyState, dict[str, Any]]:
    kind = message["t"]
    action = ACTION.get(kind)
    if action is None:
        raise ProtocolError("unknown_type", f"{kind} is not a command")
    if kind == "QUEUE_REMOVE":
        index = find_entry(state, message["entryId"])
        if state.queue[index].get("addedBy") == user_id and may(state, user_id, "queue_add"):
            action = "queue_add"  # your own entry: yours to take back
    check_command(state, user_id, message.get("version") if kind in VERSIONED_COMMANDS else None,
                  action)
    if kind in ("HOST_TRACK_SELECTED", "QUEUE_ADD"):
        if track is None:
            raise ProtocolError("no_such_track", "no such track")
        if kind == "QUEUE_ADD":
            new = add_to_queue(state, track, now_ms, lead_ms)
            changed = (new.track or {}).get("entryId") != (state.track or {}).get("entryId")
            return new, state_message("TRACK_SELECTED" if changed else "QUEUE_CHANGED", new)
        new = select_track(state, track, now_ms)
        return new, state_message("TRACK_SELECTED", new)
    if kind == "HOST_PLAY":
        new = play(state, message.get("positionSec"), now_ms, lead_ms)
        return new, state_message("PLAY", new)
    if kind == "HOST_PAUSE":
        new = pause(state, now_ms)
        return new, state_message("PAUSE", new)
    if kind == "HOST_SEEK":
        new = seek(state, message["positionSec"], now_ms, lead_ms)
        return new, state_message("SEEK", new)
    if kind == "HOST_HANDOFF":
        new = hand_off(state, message["memberId"])
        return new, state_message("HOST_CHANGED", new)
    if kind == "SET_ROLE":
        new = set_role(state, message["memberId"], message["role"])
        return new, state_message("ROLES_CHANGED", new)
    if kind == "SET_PERMISSIONS":
        new = set_permissions(state, message)
        return new, state_message("PERMISSIONS_CHANGED", new)
    if kind == "QUEUE_REMOVE":
        new = remove_from_queue(state, message["entryId"])
        return new, state_message("QUEUE_CHANGED", new)
    if kind == "QUEUE_MOVE":
        new = move_in_queue(state, message["entryId"], message["toIndex"])
        return new, state_message("QUEUE_CHANGED", new)
    if kind == "SKIP":
        new = skip(state, now_ms, lead_ms)
        return new, state_message("TRACK_ADVANCED", new)
    if kind == "VOTE_SKIP":
        new, skipped = vote_skip(state, user_id, message["entryId"], listeners, now_ms, lead_ms)
        return new, state_message("TRACK_ADVANCED" if skipped else "SKIP_VOTES", new)
    new = set_duration(state, message["entryId"], float(message["durationSec"]))
    if new is None:
        raise ProtocolError("duration_known", "this track's length is known already")
    return new, state_message("QUEUE_CHANGED", new)


def pong(message: dict[str, Any], received_ms: float, sent_ms: float) -> dict[str, Any]:
    """The answer to a PING: the client's t0 echoed with the server's receive/send times."""
    return {"t": "PONG", "t0": message["t0"], "t1": received_ms, "t2": sent_ms}
