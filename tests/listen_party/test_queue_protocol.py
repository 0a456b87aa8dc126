"""The party's queue, roles, switches and votes as pure state transitions: every command, every permission."""

from __future__ import annotations

import json

import pytest

from mediahub_listen_party import protocol
from mediahub_listen_party.protocol import PartyState, ProtocolError

LEAD = 500.0


def entry(n: int, by: str = "host", duration: float | None = 10.0) -> dict:
    return {"entryId": f"e{n}", "source": "upload-track", "trackId": f"t{n}",
            "trackUrl": f"/api/track/t{n}", "filename": f"song {n}", "durationSec": duration,
            "addedBy": by, "addedByName": by.title(), "media_id": f"m{n}"}


def party(**kw) -> PartyState:
    base = {"version": 1, "host_id": "host", "cohosts": ("co",)}
    return PartyState(**{**base, **kw})


def run(state: PartyState, user: str, t: str, track: dict | None = None, now: float = 1_000.0,
        listeners: int = 1, **fields):
    message = protocol.parse_frame(json.dumps({"t": t, **fields}))
    return protocol.apply_command(state, message, user, now, LEAD, track, listeners)


def refused(code: str, *args, **kw) -> None:
    with pytest.raises(ProtocolError) as error:
        run(*args, **kw)
    assert error.value.code == code, error.value


# -- permissions --------------------------------------------------------------------------

PERMISSIONS = [  # (action, host, co-host, guest with switches off, guest with both on)
    ("control", True, True, False, True),
    ("queue_add", True, True, False, True),
    ("queue_manage", True, True, False, False),
    ("settings", True, True, False, False),
    ("roles", True, False, False, False),
    ("end", True, False, False, False),
    ("vote", True, True, True, True),
]


@pytest.mark.parametrize("action,host,cohost,guest_off,guest_on", PERMISSIONS)
def test_who_may_do_what(action, host, cohost, guest_off, guest_on):
    off = party(guests_control=False, guests_add=False)
    on = party(guests_control=True, guests_add=True)
    assert protocol.may(off, "host", action) is host
    assert protocol.may(off, "co", action) is cohost
    assert protocol.may(off, "guest", action) is guest_off
    assert protocol.may(on, "guest", action) is guest_on


def test_every_command_names_what_it_needs():
    assert set(protocol.ACTION) == protocol.COMMANDS


@pytest.mark.parametrize("kind,fields", [
    ("HOST_PLAY", {"version": 1}), ("HOST_PAUSE", {"version": 1}),
    ("HOST_SEEK", {"version": 1, "positionSec": 3}), ("SKIP", {"version": 1}),
    ("TRACK_DURATION", {"entryId": "e1", "durationSec": 9.5}),
])
def test_playback_commands_need_control(kind, fields):
    state = party(track=entry(1, duration=None), playing=True, anchor_ms=0)
    refused("not_host", state, "guest", kind, **fields)
    run(state, "co", kind, **fields)  # a co-host may
    run(replace_switches(state, control=True), "guest", kind, **fields)  # and so may guests if allowed


def replace_switches(state: PartyState, control: bool = False, add: bool = True) -> PartyState:
    from dataclasses import replace
    return replace(state, guests_control=control, guests_add=add)


def test_a_guest_adds_only_while_guests_may_and_the_server_says_who_added():
    state = party(track=entry(1), playing=True, anchor_ms=0)
    new, out = run(state, "guest", "QUEUE_ADD", entry(2, by="guest"), trackId="t2")
    assert out["t"] == "QUEUE_CHANGED" and new.version == 2
    assert out["queue"] == [{k: v for k, v in entry(2, by="guest").items() if k != "media_id"}]
    refused("not_host", replace_switches(state, add=False), "guest", "QUEUE_ADD", entry(2), trackId="t2")
    refused("no_such_track", state, "guest", "QUEUE_ADD", None, trackId="nope")


def test_adding_to_an_idle_party_selects_and_after_the_end_plays_a_lead_ahead():
    idle, out = run(party(), "host", "QUEUE_ADD", entry(1), trackId="t1")
    assert out["t"] == "TRACK_SELECTED" and idle.track["entryId"] == "e1" and not idle.playing
    finished = party(track=entry(1), finished=True, position_sec=10.0)
    again, out = run(finished, "guest", "QUEUE_ADD", entry(2), now=5_000, trackId="t2")
    assert out["t"] == "TRACK_SELECTED" and again.playing and again.anchor_ms == 5_000 + LEAD
    assert again.track["entryId"] == "e2" and not again.finished


def test_the_queue_has_a_limit():
    full = party(track=entry(0), queue=tuple(entry(n) for n in range(1, protocol.MAX_QUEUE + 1)))
    refused("queue_full", full, "host", "QUEUE_ADD", entry(999), trackId="t999")


def test_reorder_and_remove_are_for_the_host_and_co_hosts_and_a_guest_takes_back_their_own():
    state = party(track=entry(0), queue=(entry(1), entry(2, by="guest"), entry(3)))
    moved, out = run(state, "co", "QUEUE_MOVE", version=1, entryId="e3", toIndex=0)
    assert [e["entryId"] for e in moved.queue] == ["e3", "e1", "e2"] and out["t"] == "QUEUE_CHANGED"
    last, _ = run(state, "host", "QUEUE_MOVE", version=1, entryId="e1", toIndex=99)
    assert [e["entryId"] for e in last.queue] == ["e2", "e3", "e1"]
    refused("not_host", state, "guest", "QUEUE_MOVE", version=1, entryId="e1", toIndex=0)
    refused("not_host", state, "guest", "QUEUE_REMOVE", version=1, entryId="e1")
    own, _ = run(state, "guest", "QUEUE_REMOVE", version=1, entryId="e2")
    assert [e["entryId"] for e in own.queue] == ["e1", "e3"]
    removed, _ = run(state, "host", "QUEUE_REMOVE", version=1, entryId="e1")
    assert [e["entryId"] for e in removed.queue] == ["e2", "e3"]
    refused("no_such_entry", state, "host", "QUEUE_REMOVE", version=1, entryId="zz")
    refused("stale_version", state, "host", "QUEUE_REMOVE", version=0, entryId="e1")


def test_racing_versioned_commands_have_one_winner():
    state = party(track=entry(0), queue=(entry(1), entry(2)))
    first, _ = run(state, "host", "QUEUE_MOVE", version=1, entryId="e2", toIndex=0)
    # The second was based on version 1 too: refused, whatever it was.
    refused("stale_version", first, "co", "SKIP", version=1)
    # A free command (an addition) applies to whichever state is newest.
    added, _ = run(first, "guest", "QUEUE_ADD", entry(3), trackId="t3")
    assert [e["entryId"] for e in added.queue] == ["e2", "e1", "e3"]


# -- track boundaries ---------------------------------------------------------------------


def test_a_track_ends_at_a_known_instant_and_the_next_starts_exactly_then():
    state = party(track=entry(1, duration=10.0), queue=(entry(2, duration=8.0),), playing=True,
                  position_sec=2.0, anchor_ms=100_000)
    assert protocol.ends_at(state) == 108_000
    assert protocol.advance(state, 107_999) is state
    later = protocol.advance(state, 108_001)
    assert later.track["entryId"] == "e2" and later.position_sec == 0 and later.anchor_ms == 108_000
    assert later.version == 2 and later.playing and protocol.ends_at(later) == 116_000
    # Deterministic: every instance (and every late reader) computes the same state.
    assert protocol.advance(state, 109_000) == later
    # Two boundaries passed with nobody connected: both are taken, the queue then finishes.
    done = protocol.advance(state, 200_000)
    assert done.finished and not done.playing and done.position_sec == 8.0 and done.queue == ()
    assert done.anchor_ms == 116_000 and done.version == 3


def test_no_boundary_without_a_length_or_while_paused():
    assert protocol.ends_at(party(track=entry(1, duration=None), playing=True)) is None
    assert protocol.ends_at(party(track=entry(1), playing=False)) is None


def test_a_controller_reports_an_unknown_length_once():
    state = party(track=entry(1, duration=None), playing=True, anchor_ms=0)
    known, out = run(state, "host", "TRACK_DURATION", entryId="e1", durationSec=9.5)
    assert known.track["durationSec"] == 9.5 and out["endsAt"] == 9_500
    refused("duration_known", known, "host", "TRACK_DURATION", entryId="e1", durationSec=3)
    refused("duration_known", state, "host", "TRACK_DURATION", entryId="e9", durationSec=3)


def test_skip_starts_the_next_a_lead_ahead_and_votes_skip_at_the_party_share():
    state = party(track=entry(1), queue=(entry(2),), playing=True, anchor_ms=0, skip_share=0.5)
    skipped, out = run(state, "co", "SKIP", now=3_000, version=1)
    assert out["t"] == "TRACK_ADVANCED" and skipped.track["entryId"] == "e2"
    assert skipped.anchor_ms == 3_000 + LEAD and skipped.position_sec == 0
    one, out = run(state, "guest", "VOTE_SKIP", listeners=4, entryId="e1")
    assert out["t"] == "SKIP_VOTES" and out["skipVotes"] == 1 and one.track["entryId"] == "e1"
    same, _ = run(one, "guest", "VOTE_SKIP", listeners=4, entryId="e1")
    assert len(same.skip_votes) == 1  # one vote per member
    two, out = run(one, "g2", "VOTE_SKIP", listeners=4, entryId="e1")
    assert out["t"] == "TRACK_ADVANCED" and two.track["entryId"] == "e2" and two.skip_votes == ()
    refused("stale_version", two, "g3", "VOTE_SKIP", entryId="e1")  # that track is gone
    assert protocol.votes_needed(party(skip_share=1.0), 3) == 3
    assert protocol.votes_needed(party(skip_share=0.25), 3) == 1


def test_skipping_the_last_track_finishes_the_party():
    state = party(track=entry(1), playing=True, anchor_ms=0)
    done, _ = run(state, "host", "SKIP", now=2_000, version=1)
    assert done.finished and not done.playing and done.position_sec == 10.0


# -- roles and switches -------------------------------------------------------------------


def test_roles_change_only_by_the_host():
    state = party(cohosts=())
    promoted, out = run(state, "host", "SET_ROLE", version=1, memberId="guest", role="cohost")
    assert out["t"] == "ROLES_CHANGED" and out["cohosts"] == ["guest"]
    assert protocol.role_of(promoted, "guest") == "cohost"
    refused("not_host", promoted, "guest", "SET_ROLE", version=2, memberId="x", role="cohost")
    refused("not_host", promoted, "guest", "HOST_HANDOFF", version=2, memberId="x")
    demoted, _ = run(promoted, "host", "SET_ROLE", version=2, memberId="guest", role="guest")
    assert demoted.cohosts == ()
    refused("no_such_member", state, "host", "SET_ROLE", version=1, memberId="host", role="guest")
    handed, _ = run(promoted, "host", "HOST_HANDOFF", version=2, memberId="guest")
    assert handed.host_id == "guest" and handed.cohosts == ()


def test_switches_are_set_by_the_host_or_a_co_host():
    state = party()
    opened, out = run(state, "co", "SET_PERMISSIONS", version=1, guestsControl=True, skipShare=0.75)
    assert out["t"] == "PERMISSIONS_CHANGED"
    assert out["permissions"] == {"guestsControl": True, "guestsAdd": True, "skipShare": 0.75}
    refused("not_host", opened, "guest", "SET_PERMISSIONS", version=2, guestsAdd=False)


@pytest.mark.parametrize("frame", [
    {"t": "SET_ROLE", "version": 1, "memberId": "x", "role": "admin"},
    {"t": "SET_PERMISSIONS", "version": 1, "guestsAdd": "yes"},
    {"t": "SET_PERMISSIONS", "version": 1, "skipShare": 0},
    {"t": "QUEUE_MOVE", "version": 1, "entryId": "e1", "toIndex": -1},
    {"t": "QUEUE_MOVE", "version": 1, "entryId": "e1", "toIndex": True},
    {"t": "QUEUE_REMOVE", "version": 1, "entryId": "x" * 17},
    {"t": "QUEUE_REMOVE", "entryId": "e1"},  # versioned
    {"t": "QUEUE_ADD", "trackId": ""},
    {"t": "QUEUE_ADD", "trackId": "t1", "source": 5},
    {"t": "TRACK_DURATION", "entryId": "e1", "durationSec": -1},
    {"t": "VOTE_SKIP"},
    {"t": "REACT", "emoji": "<b>hi</b>"},
    {"t": "REACT"},
])
def test_malformed_new_frames_are_refused(frame):
    with pytest.raises(ProtocolError) as error:
        protocol.parse_frame(json.dumps(frame))
    assert error.value.code == "bad_frame"


def test_reactions_are_a_fixed_set_and_members_never_see_server_side_keys():
    assert protocol.parse_frame(json.dumps({"t": "REACT", "emoji": "🔥"}))["emoji"] == "🔥"
    message = protocol.state_message("SNAPSHOT", party(track=entry(1), queue=(entry(2),)))
    assert "media_id" not in json.dumps(message)
    assert message["entryId"] == "e1" and message["queue"][0]["addedByName"] == "Host"


# -- the queue in state messages ------------------------------------------------------------


def test_only_queue_frames_and_queue_changes_carry_the_entries():
    queued = tuple(entry(n) for n in range(2, 12))
    state = party(track=entry(1), queue=queued, playing=False, anchor_ms=0)
    ids = [e["entryId"] for e in queued]
    _, play = run(state, "host", "HOST_PLAY", version=1)
    _, roles = run(state, "host", "SET_ROLE", version=1, memberId="guest", role="cohost")
    for message in (play, roles):  # the queue as it was: its ids, not its entries
        assert "queue" not in message and message["queueIds"] == ids
    # A queue change, a boundary and a snapshot carry every entry (and their ids).
    _, moved = run(state, "host", "QUEUE_MOVE", version=1, entryId="e11", toIndex=0)
    assert [e["entryId"] for e in moved["queue"]] == moved["queueIds"] == ["e11", *ids[:-1]]
    _, skipped = run(state, "host", "SKIP", version=1)
    assert skipped["t"] == "TRACK_ADVANCED" and skipped["queueIds"] == ids[1:]
    assert len(skipped["queue"]) == 9
    snapshot = protocol.state_message("SNAPSHOT", state)
    assert [e["entryId"] for e in snapshot["queue"]] == snapshot["queueIds"] == ids
    # With ten entries waiting, a PLAY is a fraction of the queue frame's size.
    size = lambda message: len(json.dumps(message, separators=(",", ":")))  # noqa: E731
    assert size(play) * 3 < size(moved)
