"""The party WebSocket `/ws/party/<code>`: snapshot on (re)join, clock pings, host commands, fan-out by the bus."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from quart import Blueprint, current_app, websocket

from mediahub import (BusUnavailable, DirectSocket, NotFound, current_host, current_user,
                      require_user, text_frame)
from mediahub_listen_party import clock, party as parties, protocol
from mediahub_listen_party.models import Party
from mediahub_listen_party.protocol import ProtocolError

log = logging.getLogger("mediahub.listen_party")

blueprint = Blueprint("party_live", __name__)

POLICY_VIOLATION = 1008
# Bounded inbox per socket: a slow phone drops old messages, never holds the server. Every
# message carries the whole state, so the newest one is all a client needs.
INBOX = 64
# Messages a member's own task must see (it acts on them), never written directly.
ACTED_ON = ('"t":"HOST_CHANGED"', '"t":"PARTY_ENDED"')


@dataclass
class TokenBucket:
    """Per-socket flood control: `rate` messages per second sustained, `burst` at once."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    last_ms: float = 0.0

    def take(self, now_ms: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.last_ms = self.burst, now_ms
        self.tokens = min(self.burst, self.tokens + (now_ms - self.last_ms) / 1000.0 * self.rate)
        self.last_ms = now_ms
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Member:
    """One socket of a party on this instance: messages go straight to its socket when they
    can (`DirectSocket`), else through its bounded inbox, which its own task sends in order."""

    def __init__(self, ws, direct: DirectSocket | None):
        self.ws, self.direct = ws, direct
        self.inbox: deque[str] = deque()
        self.dropped = 0
        self.live = False   # its SNAPSHOT is out: later messages may take the direct path
        self.busy = False   # its task is sending one: a direct write now would overtake it
        self._wakeup = asyncio.Event()

    def deliver(self, text: str, frame: bytes | None) -> None:
        if (frame is not None and self.live and not self.busy and not self.inbox
                and self.direct is not None and self.direct.try_write(frame)):
            return
        if len(self.inbox) >= INBOX:
            self.inbox.popleft()
            self.dropped += 1
        self.inbox.append(text)
        self._wakeup.set()

    async def next(self) -> str:
        """The next inbox message; the member counts as busy until it asks again."""
        self.busy = False
        while not self.inbox:
            self._wakeup.clear()
            await self._wakeup.wait()
        self.busy = True
        return self.inbox.popleft()


class Room:
    """A party's sockets on this instance, fed by ONE bus subscription.

    One fan-out instead of a subscription (an inbox and a task wake-up) per guest: each
    message is framed once and written to every socket in one synchronous loop, so a party
    of 1,000 costs ~1,000 `send()` calls, not 1,000 trips through Quart and Hypercorn.
    """

    def __init__(self, code: str, app):
        self.code, self.app = code, app
        self.members: set[Member] = set()
        self.ready = asyncio.Event()  # subscribed (or ended): members may read the snapshot
        self.ended = False
        self.task: asyncio.Task | None = None
        self.version = 0
        self.boundary: asyncio.TimerHandle | None = None
        self.counting: asyncio.Task | None = None

    async def run(self, bus) -> None:
        try:
            async with bus.subscribe(parties.channel(self.code), raw=True) as messages:
                self.ready.set()
                async for text in messages:
                    frame = None if any(m in text for m in ACTED_ON) else text_frame(text)
                    for member in tuple(self.members):
                        member.deliver(text, frame)
                    if '"endsAt"' in text:  # a state message: when does its track end?
                        self.plan_boundary(json.loads(text))
        finally:
            self.ended = True
            self.ready.set()
            self.close()

    def plan_boundary(self, message: dict) -> None:
        """Commit the next track when the playing one ends. Every instance with members
        plans it (the first to commit wins); the browsers switch on their own at that
        instant, from the same `endsAt`, so the message only confirms what they did."""
        if message.get("version", 0) < self.version:
            return
        self.version = message["version"]
        if self.boundary is not None:
            self.boundary.cancel()
            self.boundary = None
        if message.get("endsAt") is not None:
            delay = max(0.0, message["endsAt"] / 1000.0 - time.time())
            self.boundary = asyncio.get_running_loop().call_later(delay, self.spawn, self.advance)

    def spawn(self, job) -> None:
        asyncio.create_task(job(), context=contextvars.Context())

    async def advance(self) -> None:
        try:
            async with self.app.app_context():
                await parties.advance_due(self.code)
        except Exception:
            log.exception("moving party %s to its next track failed", self.code)

    def count_listeners(self) -> None:
        """Tell everyone how many listen, at most once a second per instance (a party that
        fills with hundreds of guests must not cost a broadcast per join)."""
        if self.counting is None or self.counting.done():
            self.counting = asyncio.create_task(self._count(), context=contextvars.Context())

    async def _count(self) -> None:
        await asyncio.sleep(1.0)
        with contextlib.suppress(Exception):
            async with self.app.app_context():
                party = await parties.find_party(self.code)
                await current_host().bus.publish(parties.channel(self.code), {
                    "t": "LISTENERS", "count": await parties.online_count(party)})

    def close(self) -> None:
        if self.boundary is not None:
            self.boundary.cancel()


def enter_room(code: str, member: Member) -> Room:
    """The party's room on this instance (opened by its first member), with `member` in it."""
    rooms = current_app.extensions.setdefault("listen_party_rooms", {})
    room = rooms.get(code)
    if room is None or room.ended:
        room = rooms[code] = Room(code, current_app._get_current_object())
        # Its own context: the room must not see the first member's `websocket`.
        room.task = asyncio.create_task(room.run(current_host().bus), name=f"party-room-{code}",
                                        context=contextvars.Context())
    room.members.add(member)
    return room


def leave_room(room: Room, member: Member) -> None:
    room.members.discard(member)
    if not room.members:
        rooms = current_app.extensions.get("listen_party_rooms", {})
        if rooms.get(room.code) is room:
            del rooms[room.code]
        if room.task is not None:
            room.task.cancel()
        room.close()


class HostFeed:
    """Joins, leaves and sync reports, forwarded only while this socket's user is the host."""

    def __init__(self, code: str, user_id: str):
        self.code, self.user_id = code, user_id
        self.task: asyncio.Task | None = None

    async def follow(self, host_id: str) -> None:
        if host_id == self.user_id and self.task is None:
            self.task = asyncio.create_task(self._run())
        elif host_id != self.user_id:
            await self.stop()

    async def _run(self) -> None:
        async with current_host().bus.subscribe(parties.host_channel(self.code), raw=True,
                                               maxsize=1000) as reports:
            party = await parties.find_party(self.code)
            await websocket.send_json({"t": "MEMBERS", "members": await parties.members(party)})
            async for text in reports:
                await websocket.send(text)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None


@blueprint.websocket("/ws/party/<code>")
@require_user
async def party_socket(code: str) -> None:
    """See docs/party-protocol.md for every message."""
    user = await current_user()
    # Behind the same guessing limit as the join API: guest accounts are free to make.
    party = await parties.find_party_guarded(code, websocket.remote_addr, user)
    me = str(user.id)
    name = (await parties.join(party, user, user.display_name or user.username)).display_name
    conf = parties.settings()
    bus = current_host().bus
    await websocket.accept()
    ws = websocket._get_current_object()
    feed = HostFeed(party.code, me)
    member = Member(ws, DirectSocket.of(ws))
    room = enter_room(party.code, member)
    forwarder = None
    try:
        await room.ready.wait()
        if room.ended:
            raise RuntimeError(f"the bus subscription of party {party.code} ended")
        await parties.connected(party, user.id, +1)
        try:
            # Subscribed first, read second: a change in between arrives as a message with
            # a newer version, and clients ignore anything not newer than what they have.
            party = await parties.find_party(party.code)
            state = await parties.settle(party)  # a boundary passed with nobody here
            await websocket.send_json(protocol.state_message(
                "SNAPSHOT", state, you=me, code=party.code, serverNow=parties.now_ms(),
                listeners=await parties.online_count(party), reactions=list(protocol.REACTIONS)))
            room.count_listeners()
            member.live = True
            forwarder = asyncio.create_task(forward(member, feed))
            await feed.follow(state.host_id)
            await bus.publish(parties.host_channel(party.code),
                              {"t": "MEMBER_JOINED", "memberId": me, "name": name})
            await serve_client(party.code, me, name, conf, room)
        finally:
            await left(party, user, me, name)
    finally:
        leave_room(room, member)
        if forwarder is not None:
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forwarder
        await feed.stop()


async def serve_client(code: str, me: str, name: str, conf, room: Room) -> None:
    bucket = TokenBucket(conf.messages_per_second, conf.message_burst)
    # Reactions: a few at once, then one every `reaction_seconds`; the rest are dropped.
    reactions = TokenBucket(1.0 / conf.reaction_seconds, conf.reaction_burst)
    bus = current_host().bus
    while True:
        text = await websocket.receive()
        received = parties.now_ms()
        if not bucket.take(received):
            await websocket.close(POLICY_VIOLATION, "too many messages")
            return
        try:
            message = protocol.parse_frame(text)
        except ProtocolError as exc:
            await websocket.close(POLICY_VIOLATION, exc.code)
            return
        kind = message["t"]
        if kind == "PING":
            await websocket.send_json(protocol.pong(message, received, parties.now_ms()))
        elif kind == "SYNC_REPORT":
            with contextlib.suppress(BusUnavailable):  # a report lost in a Redis outage is harmless
                await bus.publish(parties.host_channel(code), {
                    "t": "MEMBER_SYNC", "memberId": me, "name": name,
                    "offsetMs": message["offsetMs"], "driftMs": message["driftMs"],
                    "rttMs": message["rttMs"],
                    "quality": clock.sync_quality(message["driftMs"], message["rttMs"])})
        elif kind == "REACT":
            if not reactions.take(received):
                await websocket.send_json({"t": "ERROR", "code": "too_many_reactions",
                                           "message": "one reaction at a time", "version": None})
                continue
            with contextlib.suppress(BusUnavailable):  # not stored: a lost one is gone
                await bus.publish(parties.channel(code), {"t": "REACTION", "emoji": message["emoji"],
                                                          "memberId": me, "name": name})
        else:
            try:
                await parties.run_command(code, me, message, name)
            except (ProtocolError, BusUnavailable) as exc:  # Redis down: stored, members not told
                party = await Party.get_or_none(code=code)
                await websocket.send_json({"t": "ERROR", "code": exc.code, "message": str(exc),
                                           "version": party.version if party else None})
            except NotFound:  # ended meanwhile (PARTY_ENDED is on its way)
                await websocket.close(1000, "party ended")
                return


async def forward(member: Member, feed: HostFeed) -> None:
    """Send what the room could not write directly, in order; act on role changes and the end."""
    while True:
        text = await member.next()
        # Messages are forwarded as published (no decode/encode per guest); only the rare
        # role changes and the end are looked at.
        if '"t":"HOST_CHANGED"' in text:
            await feed.follow(json.loads(text)["hostId"])
        await websocket.send(text)
        if '"t":"PARTY_ENDED"' in text:
            await websocket.close(1000, "party ended")
            return


async def left(party, user, me: str, name: str) -> None:
    with contextlib.suppress(Exception):
        await parties.connected(party, user.id, -1)
        rooms = current_app.extensions.get("listen_party_rooms", {})
        if party.code in rooms:
            rooms[party.code].count_listeners()
        await current_host().bus.publish(parties.host_channel(party.code),
                                         {"t": "MEMBER_LEFT", "memberId": me, "name": name})
        current = await parties.find_party(party.code)
        if parties.state_of(current).host_id == me and not await parties.host_online(party.id, me):
            start_grace_timer(party.code, me)


def start_grace_timer(code: str, host_id: str) -> None:
    """The host dropped: pause the party unless they are back within the grace period."""
    app = current_app._get_current_object()
    grace = parties.settings().host_grace_seconds

    async def wait_then_pause() -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            # Shutting down ends the wait (and does nothing): no task outlives the app.
            await asyncio.wait_for(app.shutdown_event.wait(), grace)
            return
        try:
            await parties.pause_if_host_gone(code, host_id)
        except Exception:
            log.exception("pausing party %s after its host left failed", code)

    app.add_background_task(wait_then_pause)
