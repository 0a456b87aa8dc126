"""Publish/subscribe between parts of a deployment: in-process by default, Redis for several instances.

    await host.bus.publish("party:ABC", {"type": "play", "at": 12.5})

    async with host.bus.subscribe("party:ABC") as messages:
        async for message in messages:      # dicts, in publish order
            await websocket.send_json(message)

Every subscriber has its own bounded inbox. A subscriber that reads slower than messages
arrive loses the OLDEST messages (counted in `messages.dropped`): publishers never wait
for it and memory stays bounded. Subscribers of state-carrying channels (a party's
position) see the newest state; one that must not miss anything checks `dropped`.

Messages are JSON objects; publishing anything else raises TypeError at the publisher.
Delivery is at most once: what is published while Redis is unreachable is lost, as with
any pub/sub. After Redis comes back every subscription resumes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, AsyncIterator

from mediahub.config import Settings, secret_value
from mediahub.errors import MediahubError

log = logging.getLogger("mediahub.bus")

SUBSCRIBER_QUEUE_SIZE = 1000
MAX_CHANNEL_LENGTH = 512
_CLOSED = object()


class BusUnavailable(MediahubError):
    """Redis cannot be reached to publish (after a few quick retries)."""

    status, code = 503, "bus_unavailable"


def encode_message(message: dict[str, Any]) -> str:
    """The wire form of a message; refuses what a browser could not parse back."""
    if not isinstance(message, dict):
        raise TypeError(f"bus messages are JSON objects (dicts), not {type(message).__name__}")
    try:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # NaN / Infinity, circular references
        raise TypeError(f"bus message is not valid JSON: {exc}") from exc


def check_channel(channel: str) -> str:
    if not isinstance(channel, str) or not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise ValueError(f"a bus channel is a non-empty string of at most {MAX_CHANNEL_LENGTH} "
                         f"characters, got {channel!r}")
    return channel


class Subscription:
    """One subscriber's bounded inbox, iterated with `async for`; ends when the bus closes."""

    def __init__(self, channel: str, maxsize: int = SUBSCRIBER_QUEUE_SIZE, raw: bool = False):
        self.channel = channel
        self.dropped = 0
        self._raw = raw
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=max(1, maxsize))
        self._closed = False

    def deliver(self, text: str) -> None:
        if self._closed:
            return
        self._make_room()
        self._queue.put_nowait(text)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._make_room()
            self._queue.put_nowait(_CLOSED)

    def _make_room(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                self._queue.put_nowait(_CLOSED)  # later calls end too
                raise StopAsyncIteration
            if self._raw:
                return item
            try:
                return json.loads(item)
            except ValueError:
                # Only a foreign publisher on our Redis prefix can send this.
                log.warning("dropping a message on %s that is not JSON", self.channel)


class Fanout:
    """The local subscribers of each channel."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> None:
        self._subscribers.setdefault(subscription.channel, set()).add(subscription)

    def remove(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.channel]

    def has(self, channel: str) -> bool:
        return channel in self._subscribers

    def channels(self) -> list[str]:
        return list(self._subscribers)

    def dispatch(self, channel: str, text: str) -> None:
        for subscription in tuple(self._subscribers.get(channel, ())):
            subscription.deliver(text)

    def close_all(self) -> None:
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.close()
        self._subscribers.clear()


class Bus:
    """What every bus offers; subclasses decide how a published message reaches subscribers."""

    def __init__(self) -> None:
        self._fanout = Fanout()
        self._closed = False

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._closed = True
        self._fanout.close_all()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, *, raw: bool = False,
                        maxsize: int = SUBSCRIBER_QUEUE_SIZE) -> AsyncIterator[Subscription]:
        """Messages published on `channel` from now on (`raw=True`: their JSON text)."""
        check_channel(channel)
        if self._closed:
            raise RuntimeError("the bus is closed")
        subscription = Subscription(channel, maxsize, raw)
        self._fanout.add(subscription)
        try:
            await self._channel_opened(channel)
            yield subscription
        finally:
            self._fanout.remove(subscription)
            subscription.close()
            if not self._fanout.has(channel):
                self._channel_closed(channel)

    async def _channel_opened(self, channel: str) -> None:
        pass

    def _channel_closed(self, channel: str) -> None:
        pass


class MemoryBus(Bus):
    """One process: publish hands the message to local subscribers without waiting."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        check_channel(channel)
        self._fanout.dispatch(channel, encode_message(message))


class RedisBus(Bus):
    """Several instances: Redis pub/sub on one connection, a reader task fans out locally."""

    RECONNECT_MIN = 0.1
    RECONNECT_MAX = 5.0
    PUBLISH_RETRY_PAUSES = (0.05, 0.25, 1.0)
    # How long subscribe() waits for Redis to confirm before letting the caller go on.
    CONFIRM_TIMEOUT = 5.0

    def __init__(self, redis_url: str, channel_prefix: str = "mediahub:",
                 client_name: str = "mediahub-bus"):
        super().__init__()
        self.redis_url = redis_url
        self.prefix = channel_prefix
        self.client_name = client_name  # shown by CLIENT LIST
        self.reconnects = 0
        self._client = None
        self._pubsub = None
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        # Channels Redis has been asked for on the current connection, and confirmations.
        self._server_channels: set[str] = set()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._unsubscribers: set[asyncio.Task] = set()

    async def start(self) -> None:
        import redis.asyncio as redis

        # socket_timeout: a Redis that stops answering (not refusing) must fail a publish,
        # not hang it; the subscriber's reads have their own, shorter, timeout.
        self._client = redis.from_url(self.redis_url, decode_responses=False,
                                      socket_connect_timeout=5, socket_timeout=5,
                                      socket_keepalive=True, health_check_interval=30,
                                      client_name=self.client_name)
        self._reader = asyncio.create_task(self._read_forever(), name="mediahub-bus-reader")

    async def close(self) -> None:
        await super().close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for task in list(self._unsubscribers):
            task.cancel()
        await self._drop_pubsub()
        if self._client is not None:
            await self._client.aclose()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        from redis.exceptions import ConnectionError, TimeoutError

        check_channel(channel)
        text = encode_message(message)
        if self._client is None:
            raise RuntimeError("the Redis bus is not started")
        for pause in (*self.PUBLISH_RETRY_PAUSES, None):
            try:
                await self._client.publish(self.prefix + channel, text)
                return
            except (ConnectionError, TimeoutError, OSError) as exc:
                # A pooled connection dies with a Redis restart; the next attempt reconnects.
                if pause is None:
                    log.warning("could not publish on %s: Redis unreachable (%s)", channel, exc)
                    raise BusUnavailable(f"cannot publish on {channel}: Redis unreachable "
                                         f"({exc})") from exc
                await asyncio.sleep(pause)

    async def _channel_opened(self, channel: str) -> None:
        await self._sync_channel(channel)
        event = self._confirmed.setdefault(channel, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), self.CONFIRM_TIMEOUT)
        except asyncio.TimeoutError:
            log.warning("Redis has not confirmed the subscription to %s yet; messages will "
                        "arrive once it is reachable", channel)

    def _channel_closed(self, channel: str) -> None:
        # Not awaited by the leaving subscriber: a cancelled WebSocket handler must not
        # hang on Redis. The lock keeps it ordered with a re-subscribe.
        if self._closed:
            return
        task = asyncio.create_task(self._sync_channel(channel))
        self._unsubscribers.add(task)
        task.add_done_callback(self._unsubscribers.discard)

    async def _sync_channel(self, channel: str) -> None:
        """Make Redis's view of `channel` match whether anyone here still listens to it."""
        from redis.exceptions import RedisError

        async with self._lock:
            pubsub = self._pubsub
            wanted = self._fanout.has(channel)
            if pubsub is None:
                if not wanted:
                    self._confirmed.pop(channel, None)
                return  # the reader subscribes to everything when it (re)connects
            try:
                if wanted and channel not in self._server_channels:
                    self._server_channels.add(channel)
                    self._confirmed.setdefault(channel, asyncio.Event()).clear()
                    await pubsub.subscribe(self.prefix + channel)
                elif not wanted and channel in self._server_channels:
                    self._server_channels.discard(channel)
                    await pubsub.unsubscribe(self.prefix + channel)
            except (RedisError, OSError) as exc:
                # The reader sees the same dead connection, reconnects and resubscribes.
                log.debug("bus subscription change for %s failed: %s", channel, exc)

    async def _connect(self) -> None:
        pubsub = self._client.pubsub()
        try:
            await pubsub.connect()
            async with self._lock:
                self._pubsub = pubsub
                channels = self._fanout.channels()
                self._server_channels = set(channels)
                self._confirmed = {c: self._confirmed.get(c) or asyncio.Event() for c in channels}
                if channels:
                    await pubsub.subscribe(*(self.prefix + c for c in channels))
        except BaseException:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._server_channels = set()
        for event in self._confirmed.values():
            event.clear()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _read_forever(self) -> None:
        from redis.exceptions import RedisError

        delay = self.RECONNECT_MIN
        lost = False
        while True:
            try:
                if self._pubsub is None:
                    await self._connect()
                    if lost:
                        self.reconnects += 1
                        log.info("Redis bus reconnected; %d channel(s) resubscribed",
                                 len(self._server_channels))
                    lost, delay = False, self.RECONNECT_MIN
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("Redis bus connection lost (%s); reconnecting in %.1fs", exc, delay)
                lost = True
                await self._drop_pubsub()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.RECONNECT_MAX)
                continue
            except Exception:  # a bug must not silently end every subscription
                log.exception("Redis bus reader failed; restarting it")
                await self._drop_pubsub()
                await asyncio.sleep(delay)
                continue
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        name = message.get("channel")
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        if not isinstance(name, str) or not name.startswith(self.prefix):
            return
        channel = name[len(self.prefix):]
        kind = message.get("type")
        if kind == "subscribe":
            event = self._confirmed.get(channel)
            if event is not None:
                event.set()
        elif kind == "unsubscribe":
            if channel not in self._server_channels:
                self._confirmed.pop(channel, None)  # unless it was re-subscribed meanwhile
        elif kind == "message":
            data = message.get("data")
            if isinstance(data, bytes):
                data = data.decode("utf-8", "replace")
            if isinstance(data, str):
                self._fanout.dispatch(channel, data)


def create_bus(settings: Settings) -> Bus:
    """The bus `settings.bus.backend` names (config check guarantees a URL for Redis)."""
    if settings.bus.backend == "redis":
        url = secret_value(settings.bus.redis_url)
        if not url:
            raise ValueError("bus.redis_url: required when bus.backend = 'redis'")
        return RedisBus(url, settings.bus.channel_prefix)
    return MemoryBus()
