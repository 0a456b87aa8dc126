"""Every party command × every role (host, co-host, guest with each switch off and on): who may, who is refused.

The table below is written out by hand (not derived from `protocol.may`), so a change to the
rules has to change it too. It is checked twice: on the pure transitions, and end to end over
the WebSocket (where the server also looks tracks and members up).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mediahub.testing import guest, login
from mediahub_listen_party import protocol
from mediahub_listen_party.protocol import PartyState, ProtocolError
from tests.support.multipart import multipart
from tests.support.party import receive, send, wav_bytes

ROLES = ("host", "cohost", "guest", "guest_control", "guest_add")
# command (and which entry it names) -> may it, for each of ROLES: Y yes, n no.
MATRIX = {
    "TRACK_DURATION": "YYnYn",
    "HOST_PLAY": "YYnYn",
    "HOST_SEEK": "YYnYn",
    "HOST_PAUSE": "YYnYn",
    "QUEUE_ADD": "YYnnY",
    "QUEUE_MOVE": "YYnnn",
    "QUEUE_REMOVE": "YYnnn",           # someone else's entry
    "QUEUE_REMOVE_OWN": "YYnnY",       # your own entry: yours to take back while you may add
    "SKIP": "YYnYn",
    "HOST_TRACK_SELECTED": "YYnYn",
    "VOTE_SKIP": "YYYYY",
    "SET_PERMISSIONS": "YYnnn",
    "SET_ROLE": "Ynnnn",
    "HOST_HANDOFF": "Ynnnn",
}
CASES = [(command, role, allowed == "Y")
         for command, row in MATRIX.items() for role, allowed in zip(ROLES, row)]


def test_the_matrix_names_every_command():
    assert set(MATRIX) - {"QUEUE_REMOVE_OWN"} == protocol.COMMANDS


# -- the pure transitions -----------------------------------------------------------------


def entry(name: str, by: str) -> dict:
    return {"entryId": name, "source": "upload-track", "trackId": name, "trackUrl": f"/api/track/{name}",
            "filename": name, "addedBy": by, "addedByName": by}


def actor_of(role: str) -> str:
    return "host" if role == "host" else "me"


def state_for(role: str) -> PartyState:
    me = actor_of(role)
    return PartyState(version=3, host_id="host", cohosts=("me",) if role == "cohost" else (),
                      guests_control=role == "guest_control", guests_add=role == "guest_add",
                      track={**entry("now", "host"), "durationSec": None}, playing=True,
                      anchor_ms=0.0, queue=(entry("h1", "host"), entry("h2", "host"), entry("mine", me)))


FRAMES = {
    "TRACK_DURATION": {"entryId": "now", "durationSec": 200},
    "HOST_PLAY": {"version": 3, "positionSec": 1},
    "HOST_SEEK": {"version": 3, "positionSec": 5},
    "HOST_PAUSE": {"version": 3},
    "QUEUE_ADD": {"trackId": "new"},
    "QUEUE_MOVE": {"version": 3, "entryId": "h2", "toIndex": 0},
    "QUEUE_REMOVE": {"version": 3, "entryId": "h1"},
    "QUEUE_REMOVE_OWN": {"version": 3, "entryId": "mine"},
    "SKIP": {"version": 3},
    "HOST_TRACK_SELECTED": {"version": 3, "trackId": "new"},
    "VOTE_SKIP": {"entryId": "now"},
    "SET_PERMISSIONS": {"version": 3, "guestsControl": True},
    "SET_ROLE": {"version": 3, "memberId": "other", "role": "cohost"},
    "HOST_HANDOFF": {"version": 3, "memberId": "other"},
}


def apply(command: str, role: str, **changes):
    kind = "QUEUE_REMOVE" if command == "QUEUE_REMOVE_OWN" else command
    frame = protocol.parse_frame(json.dumps({"t": kind, **FRAMES[command], **changes}))
    track = entry("new", actor_of(role)) if kind in ("QUEUE_ADD", "HOST_TRACK_SELECTED") else None
    return protocol.apply_command(state_for(role), frame, actor_of(role), 1_000.0, 500.0, track,
                                  listeners=5)


@pytest.mark.parametrize("command,role,allowed", CASES)
def test_each_command_for_each_role(command, role, allowed):
    if not allowed:
        with pytest.raises(ProtocolError) as refused:
            apply(command, role)
        assert refused.value.code == "not_host" and refused.value.args[0]
        return
    new, message = apply(command, role)
    assert new.version == 4 and message["version"] == 4 and message["t"] != "ERROR"
    if command in protocol.VERSIONED_COMMANDS or command == "QUEUE_REMOVE_OWN":
        # Allowed, but on an old version: the one-winner rule, whoever sends it.
        with pytest.raises(ProtocolError) as stale:
            apply(command, role, version=2)
        assert stale.value.code == "stale_version"


def test_a_refusal_says_what_the_switch_is():
    with pytest.raises(ProtocolError) as refused:
        apply("QUEUE_ADD", "guest")
    assert "guests add" in str(refused.value)
    with pytest.raises(ProtocolError) as refused:
        apply("HOST_PLAY", "guest_add")
    assert "controls playback" in str(refused.value)
    # Switches off again: what a guest could do a moment ago is refused.
    off = replace(state_for("guest_control"), guests_control=False)
    with pytest.raises(ProtocolError):
        protocol.apply_command(off, {"t": "HOST_PAUSE", "version": 3}, "me", 1_000.0, 500.0)


# -- over the WebSocket -------------------------------------------------------------------


@pytest.fixture
async def app(mediahub_app_factory):
    overrides = {"plugins": {"listen_party": {"start_lead_ms": 100, "message_burst": 40}}}
    return await mediahub_app_factory(overrides=overrides)


async def upload(client, who: dict, name: str) -> str:
    body, content_type = multipart([("audio", name, wav_bytes(0.3)), ("filename", None, name.encode())])
    response = await client.post("/api/upload-track", data=body, headers={**who, **content_type})
    return (await response.get_json())["trackId"]


def websocket(client, code: str, who: dict):
    return client.websocket(f"/ws/party/{code}?access_token={who['Authorization'].split()[1]}")


async def answer(ws, version: int) -> dict:
    """The command's outcome as its sender sees it: the new state, or an ERROR."""
    while True:
        message = await receive(ws, timeout=5)
        if message["t"] == "ERROR" or message.get("version", 0) > version and message["t"] in {
                "TRACK_SELECTED", "PLAY", "PAUSE", "SEEK", "HOST_CHANGED", "QUEUE_CHANGED",
                "TRACK_ADVANCED", "SKIP_VOTES", "ROLES_CHANGED", "PERMISSIONS_CHANGED"}:
            return message


@pytest.mark.parametrize("role", ROLES)
async def test_every_command_over_the_socket(app, role):
    """One party per role; the actor sends every command in turn (the order keeps each one
    meaningful: the hand-off last), the server answers with the new state or `not_host`."""
    client = app.test_client()
    alice = await login(client)
    code = (await (await client.post("/api/parties", json={}, headers=alice)).get_json())["code"]
    actor = alice if role == "host" else await guest(client, "Me")
    carol = await guest(client, "Carol")
    host_tracks = [await upload(client, alice, f"h{n}.wav") for n in range(4)]
    mine = [await upload(client, actor, f"m{n}.wav") for n in range(2)]
    async with websocket(client, code, alice) as host, websocket(client, code, actor) as me, \
            websocket(client, code, carol) as third:
        await receive(host, "SNAPSHOT")
        actor_id = (await receive(me, "SNAPSHOT"))["you"]
        carol_id = (await receive(third, "SNAPSHOT"))["you"]
        for track in host_tracks:
            await send(host, t="QUEUE_ADD", trackId=track)
        await send(me, t="QUEUE_ADD", trackId=mine[0])  # guests may add by default
        state = await receive(host, "QUEUE_CHANGED")
        while len(state["queue"]) < 4:
            state = await receive(host, "QUEUE_CHANGED")
        known = {e["entryId"]: e for e in state["queue"]}
        # The role's switches and rank, set by the host.
        await send(host, t="SET_PERMISSIONS", version=state["version"],
                   guestsControl=role == "guest_control", guestsAdd=role in ("host", "cohost", "guest_add"))
        state = await receive(host, "PERMISSIONS_CHANGED")
        if role == "cohost":
            await send(host, t="SET_ROLE", version=state["version"], memberId=actor_id, role="cohost")
            state = await receive(host, "ROLES_CHANGED")
        await receive(me, state["t"])

        def of(adder: str) -> list[str]:
            # A message that left the queue as it was names its entries by id only.
            known.update({e["entryId"]: e for e in state.get("queue", [])})
            return [i for i in state["queueIds"] if known[i]["addedBy"] == adder]

        host_id = state["hostId"]
        for command, row in MATRIX.items():
            allowed = row[ROLES.index(role)] == "Y"
            v = state["version"]
            frame = {
                "TRACK_DURATION": {"t": command, "entryId": state["entryId"], "durationSec": 300},
                "HOST_PLAY": {"t": command, "version": v},
                "HOST_SEEK": {"t": command, "version": v, "positionSec": 2},
                "HOST_PAUSE": {"t": command, "version": v},
                "QUEUE_ADD": {"t": command, "trackId": mine[1]},
                "QUEUE_MOVE": {"t": command, "version": v, "entryId": of(host_id)[-1], "toIndex": 0},
                "QUEUE_REMOVE": {"t": command, "version": v, "entryId": of(host_id)[0]},
                "QUEUE_REMOVE_OWN": {"t": "QUEUE_REMOVE", "version": v, "entryId": of(actor_id)[-1]},
                "SKIP": {"t": command, "version": v},
                "HOST_TRACK_SELECTED": {"t": command, "version": v, "trackId": mine[0]},
                "VOTE_SKIP": {"t": command, "entryId": state["entryId"]},
                "SET_PERMISSIONS": {"t": command, "version": v, "guestsControl": role == "guest_control"},
                "SET_ROLE": {"t": command, "version": v, "memberId": carol_id, "role": "cohost"},
                "HOST_HANDOFF": {"t": command, "version": v, "memberId": carol_id},
            }[command]
            await send(me, **frame)
            outcome = await answer(me, v)
            if allowed:
                assert outcome["t"] != "ERROR", (command, role, outcome)
                assert outcome["version"] == v + 1
                state = outcome
            else:
                assert (outcome["t"], outcome["code"]) == ("ERROR", "not_host"), (command, role, outcome)
                assert outcome["version"] == v  # nothing changed
        if role == "host":
            assert state["hostId"] == carol_id  # the hand-off went through last
        else:
            assert state["hostId"] == host_id
