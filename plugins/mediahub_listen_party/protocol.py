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

# Client -> server. Host commands carry `version`.
HOST_COMMANDS = {"HOST_TRACK_SELECTED", "HOST_PLAY", "HOST_PAUSE", "HOST_SEEK", "HOST_HANDOFF"}
CLIENT_MESSAGES = HOST_COMMANDS | {"PING", "SYNC_REPORT"}


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartyState:
        return cls(version=int(data.get("version", 0)), host_id=str(data.get("host_id", "")),
                   track=data.get("track"), playing=bool(data.get("playing", False)),
                   position_sec=float(data.get("position_sec", 0.0)),
                   anchor_ms=float(data.get("anchor_ms", 0.0)))


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
    if kind in HOST_COMMANDS:
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
    elif kind == "HOST_TRACK_SELECTED":
        track_id = message.get("trackId")
        if not isinstance(track_id, str) or not 0 < len(track_id) <= TRACK_ID_CHARS:
            raise ProtocolError("bad_frame", "trackId is a short string")
    elif kind == "HOST_HANDOFF":
        member = message.get("memberId")
        if not isinstance(member, str) or not 0 < len(member) <= 64:
            raise ProtocolError("bad_frame", "memberId names a member")
    return message


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


def check_command(state: PartyState, user_id: str, version: int) -> None:
    if user_id != state.host_id:
        raise ProtocolError("not_host", "only the host controls the party")
    if version != state.version:
        raise ProtocolError("stale_version",
                            f"the party is at version {state.version}, not {version}")


def select_track(state: PartyState, track: dict, now_ms: float) -> PartyState:
    """A new track, paused at 0: guests load it while the host decides when to play."""
    return replace(state, version=state.version + 1, track=track, playing=False,
                   position_sec=0.0, anchor_ms=now_ms)


def play(state: PartyState, position_sec: float | None, now_ms: float, lead_ms: float) -> PartyState:
    """Start (or restart) at `position_sec` (default: where it is) `lead_ms` from now."""
    if state.track is None:
        raise ProtocolError("no_track", "select a track before playing")
    start = position_at(state, now_ms) if position_sec is None else position_sec
    return replace(state, version=state.version + 1, playing=True, position_sec=start,
                   anchor_ms=now_ms + lead_ms)


def pause(state: PartyState, now_ms: float) -> PartyState:
    return replace(state, version=state.version + 1, playing=False,
                   position_sec=position_at(state, now_ms), anchor_ms=now_ms)


def seek(state: PartyState, position_sec: float, now_ms: float, lead_ms: float) -> PartyState:
    """Jump; a playing party resumes from there after the lead, a paused one stays paused."""
    if state.track is None:
        raise ProtocolError("no_track", "select a track before seeking")
    anchor = now_ms + lead_ms if state.playing else now_ms
    return replace(state, version=state.version + 1, position_sec=position_sec, anchor_ms=anchor)


def hand_off(state: PartyState, member_id: str) -> PartyState:
    return replace(state, version=state.version + 1, host_id=member_id)


def state_message(kind: str, state: PartyState, **extra: Any) -> dict[str, Any]:
    """A server message: the seed's fields (`serverTimestamp`, `positionSec`, track) plus the
    whole versioned state, so any message brings a client fully up to date."""
    track = state.track or {}
    return {"t": kind, "version": state.version, "serverTimestamp": state.anchor_ms,
            "positionSec": state.position_sec, "playing": state.playing,
            "trackId": track.get("trackId"), "trackUrl": track.get("trackUrl"),
            "filename": track.get("filename"), "hostId": state.host_id, **extra}


def apply_command(state: PartyState, message: dict[str, Any], user_id: str, now_ms: float,
                  lead_ms: float, track: dict | None = None) -> tuple[PartyState, dict[str, Any]]:
    """A host command applied to `state`: the new state and the message every member gets.

    `track` is the server's own description of `trackId` (looked up by the caller), never
    what the client claimed.
    """
    check_command(state, user_id, message["version"])
    kind = message["t"]
    if kind == "HOST_TRACK_SELECTED":
        if track is None:
            raise ProtocolError("no_such_track", "no such track")
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
    raise ProtocolError("unknown_type", f"{kind} is not a host command")


def pong(message: dict[str, Any], received_ms: float, sent_ms: float) -> dict[str, Any]:
    """The answer to a PING: the client's t0 echoed with the server's receive/send times."""
    return {"t": "PONG", "t0": message["t0"], "t1": received_ms, "t2": sent_ms}
