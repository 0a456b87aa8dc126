"""The shared queue across instances: two `mediahub serve` sharing PostgreSQL and the Redis bus.

Queue changes, reactions and roles made on one instance reach members on the other; two
commands racing on two instances at the same version have one winner (the other gets
`stale_version`); a track boundary planned by both instances' rooms is committed once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid

import httpx
import pytest

from tests.support.databases import POSTGRES_ENV, REDIS_ENV, with_database
from tests.support.multipart import multipart
from tests.support.party import wav_bytes
from tests.support.websocket_client import WebSocketClient
from tests.support.scale_out import (create_database, delete_redis_keys, drop_database, run,
                                  start_all, stop_all)
from tests.support.server_process import ServerProcess

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct horse battery"
STATE_KINDS = {"SNAPSHOT", "TRACK_SELECTED", "PLAY", "PAUSE", "SEEK", "HOST_CHANGED",
               "QUEUE_CHANGED", "TRACK_ADVANCED", "SKIP_VOTES", "ROLES_CHANGED",
               "PERMISSIONS_CHANGED"}


def config(database_url: str, redis_url: str, prefix: str) -> str:
    """Both instances read this: one database, one bus, one secret (a token from A works on B)."""
    return f"""\
[server]
secret_key = {json.dumps(secrets.token_hex(32))}
log_level = "warning"

[database]
url = {json.dumps(database_url)}

[bus]
backend = "redis"
redis_url = {json.dumps(redis_url)}
channel_prefix = {json.dumps(prefix)}

[plugins.listen_party]
start_lead_ms = 100
message_burst = 40
"""


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    """(A, B): two serve processes, each with its own data_dir, on a fresh database and prefix."""
    postgres_server, redis_url = os.environ.get(POSTGRES_ENV), os.environ.get(REDIS_ENV)
    if not postgres_server or not redis_url:
        pytest.skip(f"two instances need {POSTGRES_ENV} and {REDIS_ENV}")
    root = tmp_path_factory.mktemp("party-instances")
    name = f"mediahub_test_{uuid.uuid4().hex[:12]}"
    prefix = f"mediahub-test:{uuid.uuid4().hex[:12]}:"
    path = root / "mediahub.toml"
    path.write_text(config(with_database(postgres_server, name), redis_url, prefix))
    run(create_database(postgres_server, name))
    a = ServerProcess(root / "a" / "data", config=path)
    b = ServerProcess(root / "b" / "data", config=path)
    for server in (a, b):
        server.log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        start_all([a, b])
        try:
            yield a, b
        finally:
            stop_all([a, b])
    finally:
        run(drop_database(postgres_server, name))
        run(delete_redis_keys(redis_url, prefix))


class Member:
    """One party socket that keeps every message it read: `next` takes the first unread one
    of a kind (read before or not), `settle` reads up to the answer of a PING."""

    def __init__(self, client: WebSocketClient, snapshot: dict):
        self.client, self.you = client, snapshot["you"]
        self.seen: list[dict] = [snapshot]
        self.read = 1  # seen[:read] were taken by `next`, or skipped by it
        self.pings = 0

    @classmethod
    async def connect(cls, server: ServerProcess, code: str, token: str) -> Member:
        url = server.url.replace("http://", "ws://", 1) + f"/ws/party/{code}?access_token={token}"
        client = await WebSocketClient.connect(url)
        return cls(client, await client.receive_json("SNAPSHOT"))

    async def next(self, kind: str, check=lambda message: True, timeout: float = 10.0) -> dict:
        """The first unread message of `kind` passing `check`."""
        async def find() -> dict:
            while True:
                while self.read < len(self.seen):
                    message = self.seen[self.read]
                    self.read += 1
                    if message["t"] == kind and check(message):
                        return message
                self.seen.append(await self.client.receive_json(None, timeout))
        return await asyncio.wait_for(find(), timeout)

    async def send(self, **message) -> None:
        await self.client.send_json(message)

    async def settle(self) -> None:
        """Read up to the answer to a PING: everything this socket was sent before it."""
        self.pings += 1
        await self.send(t="PING", t0=self.pings)
        while not (self.seen[-1]["t"] == "PONG" and self.seen[-1]["t0"] == self.pings):
            self.seen.append(await self.client.receive_json(None, 10))

    def errors(self, since: int = 0) -> list[dict]:
        return [m for m in self.seen[since:] if m["t"] == "ERROR"]

    def states(self) -> list[dict]:
        return [m for m in self.seen if m["t"] in STATE_KINDS]


async def register(http: httpx.AsyncClient, username: str) -> str:
    response = await http.post("/api/auth/register", json={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


async def upload(http: httpx.AsyncClient, token: str, name: str, seconds: float = 0.5) -> str:
    body, content_type = multipart([("audio", name, wav_bytes(seconds)), ("filename", None, name.encode())])
    response = await http.post("/api/upload-track", content=body,
                               headers={"Authorization": f"Bearer {token}", **content_type})
    assert response.status_code == 200, response.text
    return response.json()["trackId"]


async def join(http: httpx.AsyncClient, code: str, name: str) -> str:
    # A fresh client per visitor: a kept cookie would make the next join a cookie request.
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=20) as visitor:
        response = await visitor.post(f"/api/parties/{code}/join", json={"display_name": name})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


@pytest.fixture
async def party(instances):
    """The host on A with three tracks; Bob (with a track of his own) and Carol join through B."""
    a, b = instances
    async with httpx.AsyncClient(base_url=a.url, timeout=20) as on_a, \
            httpx.AsyncClient(base_url=b.url, timeout=20) as on_b:
        host = await register(on_a, f"dj-{uuid.uuid4().hex[:8]}")
        code = (await on_a.post("/api/parties", json={},
                                headers={"Authorization": f"Bearer {host}"})).json()["code"]
        tracks = [await upload(on_a, host, f"h{n}.wav") for n in range(3)]
        bob, carol = await join(on_b, code, "Bob"), await join(on_b, code, "Carol")
        bob_track = await upload(on_b, bob, "bob.wav")
    members = {"host": await Member.connect(a, code, host),
               "bob": await Member.connect(b, code, bob),
               "carol": await Member.connect(b, code, carol)}
    try:
        yield {"code": code, "tracks": tracks, "bob_track": bob_track, **members}
    finally:
        for member in members.values():
            await member.client.close()


def order(state: dict) -> list[str]:
    return [entry["trackId"] for entry in state["queue"]]


def entries(state: dict) -> list[str]:
    return list(state["queueIds"])  # every state message has them; the entries only queue frames


async def test_queue_changes_and_reactions_on_one_instance_reach_guests_on_the_other(party):
    host, bob, carol = party["host"], party["bob"], party["carol"]
    first, second, third = party["tracks"]
    mine = party["bob_track"]
    # Added on A: the first becomes the track, the others wait; both guests on B see it.
    await host.send(t="QUEUE_ADD", trackId=first)
    selected = await carol.next("TRACK_SELECTED")
    assert selected["trackId"] == first and selected["addedByName"].startswith("dj-")
    for track in (second, third):
        await host.send(t="QUEUE_ADD", trackId=track)
    for guest in (bob, carol):
        await guest.next("QUEUE_CHANGED", lambda m: order(m) == [second, third])
    # Added by a guest on B: the host on A sees it, with who added it.
    await bob.send(t="QUEUE_ADD", trackId=mine)
    added = await host.next("QUEUE_CHANGED", lambda m: len(m["queue"]) == 3)
    assert order(added) == [second, third, mine]
    assert added["queue"][-1]["addedBy"] == bob.you and added["queue"][-1]["addedByName"] == "Bob"
    # Reordered and removed on A: both guests on B follow.
    await host.send(t="QUEUE_MOVE", version=added["version"], entryId=added["queue"][-1]["entryId"],
                    toIndex=0)
    moved = await carol.next("QUEUE_CHANGED", lambda m: m["version"] == added["version"] + 1)
    assert order(moved) == [mine, second, third]
    await host.send(t="QUEUE_REMOVE", version=moved["version"], entryId=moved["queue"][1]["entryId"])
    for guest in (bob, carol):
        removed = await guest.next("QUEUE_CHANGED", lambda m: m["version"] == moved["version"] + 1)
        assert order(removed) == [mine, third]
    # Reactions both ways; they are not state (the SET_ROLE below is still at that version).
    await host.send(t="REACT", emoji="🔥")
    for guest in (bob, carol):
        reaction = await guest.next("REACTION")
        assert reaction == {"t": "REACTION", "emoji": "🔥", "memberId": host.you,
                            "name": reaction["name"]}
    await carol.send(t="REACT", emoji="🎉")
    assert (await host.next("REACTION", lambda m: m["memberId"] == carol.you))["emoji"] == "🎉"
    # A co-host made on A manages the queue from B.
    await host.send(t="SET_ROLE", version=removed["version"], memberId=bob.you, role="cohost")
    roles = await bob.next("ROLES_CHANGED")
    assert roles["cohosts"] == [bob.you] and roles["version"] == removed["version"] + 1
    await bob.send(t="QUEUE_MOVE", version=roles["version"], entryId=roles["queueIds"][1],
                   toIndex=0)
    reordered = await host.next("QUEUE_CHANGED", lambda m: m["version"] == roles["version"] + 1)
    assert order(reordered) == [third, mine]
    # A guest on B is refused what the switches do not allow, whichever instance checks.
    await carol.send(t="QUEUE_REMOVE", version=reordered["version"],
                     entryId=reordered["queue"][0]["entryId"])
    refused = await carol.next("ERROR")
    assert refused["code"] == "not_host" and refused["version"] == reordered["version"]


async def race(one: Member, other: Member, first: dict, second: dict) -> Member:
    """Send both commands at once; the winner (the loser got `stale_version`, the winner nothing)."""
    marks = len(one.seen), len(other.seen)
    await asyncio.gather(one.send(**first), other.send(**second))
    await asyncio.gather(one.settle(), other.settle())
    errors = one.errors(marks[0]), other.errors(marks[1])
    assert sorted(len(e) for e in errors) == [0, 1], errors
    assert (errors[0] or errors[1])[0]["code"] == "stale_version", errors
    return other if errors[0] else one


async def test_racing_commands_on_two_instances_have_exactly_one_winner(party):
    host, bob, carol = party["host"], party["bob"], party["carol"]
    for track in party["tracks"]:
        await host.send(t="QUEUE_ADD", trackId=track)
    await host.next("QUEUE_CHANGED", lambda m: len(m["queue"]) == 2)
    await bob.send(t="QUEUE_ADD", trackId=party["bob_track"])
    state = await carol.next("QUEUE_CHANGED", lambda m: len(m["queue"]) == 3)
    await host.send(t="SET_ROLE", version=state["version"], memberId=bob.you, role="cohost")
    state = await carol.next("ROLES_CHANGED")
    before = len(carol.seen)
    # Two reorders at the same version, from A and from B: one order wins, never a mix.
    for _ in range(3):
        version, ids = state["version"], entries(state)
        winner = await race(host, bob,
                            {"t": "QUEUE_MOVE", "version": version, "entryId": ids[-1], "toIndex": 0},
                            {"t": "QUEUE_MOVE", "version": version, "entryId": ids[0], "toIndex": 99})
        state = await carol.next("QUEUE_CHANGED", lambda m: m["version"] > version)
        assert state["version"] == version + 1
        assert entries(state) == ([ids[-1], *ids[:-1]] if winner is host else [*ids[1:], ids[0]])
    # Two co-hosts skipping the same track from A and B: one skip, not two.
    await host.send(t="HOST_PLAY", version=state["version"])
    state = await carol.next("PLAY")
    for _ in range(2):
        version, ids = state["version"], entries(state)
        await race(host, bob, {"t": "SKIP", "version": version}, {"t": "SKIP", "version": version})
        state = await carol.next("TRACK_ADVANCED", lambda m: m["version"] > version)
        # One step: the next entry plays and the one after it is still queued.
        assert state["version"] == version + 1
        assert state["entryId"] == ids[0] and entries(state) == ids[1:]
        on_a = await host.next("TRACK_ADVANCED", lambda m: m["version"] == version + 1)
        assert on_a["entryId"] == state["entryId"]
    # A free command (an addition) racing a versioned one always lands: it is applied again
    # to the winner's state. The versioned one wins, or is refused if the addition was first.
    version, ids = state["version"], entries(state)
    marks = len(host.seen), len(bob.seen)
    await asyncio.gather(bob.send(t="QUEUE_ADD", trackId=party["bob_track"]),
                         host.send(t="QUEUE_REMOVE", version=version, entryId=ids[0]))
    await asyncio.gather(host.settle(), bob.settle())
    assert not bob.errors(marks[1])
    refused = [e["code"] for e in host.errors(marks[0])]
    assert refused in ([], ["stale_version"])
    final = await carol.next("QUEUE_CHANGED", lambda m: m["version"] == version + 2 - len(refused))
    added = [e["entryId"] for e in final["queue"] if e["entryId"] not in ids]
    assert len(added) == 1 and final["queue"][-1]["addedBy"] == bob.you
    assert entries(final) == (ids if refused else ids[1:]) + added
    # Carol (on B) got every committed version once, in order: nothing was published twice.
    await carol.settle()
    versions = [m["version"] for m in carol.seen[before:] if m["t"] in STATE_KINDS]
    assert versions == list(range(versions[0], versions[0] + len(versions))), versions


async def test_a_track_boundary_planned_by_both_instances_is_committed_once(party):
    host, bob, carol = party["host"], party["bob"], party["carol"]
    for track in party["tracks"][:2]:
        await host.send(t="QUEUE_ADD", trackId=track)
    selected = await host.next("TRACK_SELECTED")
    # upload-track does not know lengths: the host's browser reports them as each plays.
    await host.send(t="TRACK_DURATION", entryId=selected["entryId"], durationSec=0.6)
    state = await carol.next("QUEUE_CHANGED", lambda m: m["durationSec"] and m["queue"])
    await host.send(t="HOST_PLAY", version=state["version"])
    play = await bob.next("PLAY")
    assert play["endsAt"] == play["serverTimestamp"] + 600
    # Both instances' rooms have members and plan the boundary; the first to commit wins.
    for member in (carol, host):
        advanced = await member.next("TRACK_ADVANCED", timeout=5)
        assert advanced["serverTimestamp"] == play["endsAt"] and advanced["positionSec"] == 0
        assert advanced["trackId"] == party["tracks"][1] and advanced["version"] == play["version"] + 1
    await asyncio.sleep(0.5)
    for member in (host, bob, carol):
        await member.settle()
        boundaries = [m for m in member.seen if m["t"] == "TRACK_ADVANCED"]
        assert len(boundaries) == 1, boundaries
