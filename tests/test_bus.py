"""The bus: in-process fan-out, bounded inboxes for slow subscribers, Redis across instances and restarts."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from mediahub.bus import BusUnavailable, MemoryBus, RedisBus, create_bus
from mediahub.testing import make_settings

# Guards against a hang, never a speed claim: every wait below ends as soon as its event happens.
HANG_GUARD = 15


async def next_message(messages):
    return await asyncio.wait_for(messages.__anext__(), HANG_GUARD)


@pytest.fixture
async def memory_bus():
    bus = MemoryBus()
    await bus.start()
    yield bus
    await bus.close()


# -- in-process ----------------------------------------------------------------------------

async def test_memory_bus_fans_out_to_every_subscriber_of_the_channel_only(memory_bus):
    async with memory_bus.subscribe("party:ABC") as first, \
            memory_bus.subscribe("party:ABC") as second, \
            memory_bus.subscribe("party:XYZ") as other:
        await memory_bus.publish("party:ABC", {"type": "play", "at": 1.5})
        await memory_bus.publish("party:ABC", {"type": "pause"})
        await memory_bus.publish("party:XYZ", {"type": "marker"})

        for messages in (first, second):
            assert await next_message(messages) == {"type": "play", "at": 1.5}
            assert await next_message(messages) == {"type": "pause"}
        # The other channel's subscriber saw none of ABC's messages: its first is its own.
        assert await next_message(other) == {"type": "marker"}


async def test_subscribers_get_their_own_copy(memory_bus):
    async with memory_bus.subscribe("c") as first, memory_bus.subscribe("c") as second:
        await memory_bus.publish("c", {"items": [1]})
        mine = await next_message(first)
        mine["items"].append(2)
        assert await next_message(second) == {"items": [1]}


async def test_slow_subscriber_loses_oldest_messages_and_never_blocks_publishers(memory_bus):
    async with memory_bus.subscribe("busy", maxsize=10) as slow, \
            memory_bus.subscribe("busy", maxsize=2000) as fast:
        # 1,000 messages while the slow subscriber reads nothing: publishing completes.
        await asyncio.wait_for(
            asyncio.gather(*(memory_bus.publish("busy", {"n": n}) for n in range(1000))),
            HANG_GUARD)

        assert slow.dropped == 990
        assert [(await next_message(slow))["n"] for _ in range(10)] == list(range(990, 1000))
        assert fast.dropped == 0
        assert [(await next_message(fast))["n"] for _ in range(1000)] == list(range(1000))


async def test_raw_subscription_gets_the_json_text(memory_bus):
    async with memory_bus.subscribe("raw", raw=True) as messages:
        await memory_bus.publish("raw", {"a": "é"})
        assert await next_message(messages) == '{"a":"é"}'


async def test_leaving_the_context_stops_delivery_and_close_ends_iteration(memory_bus):
    async with memory_bus.subscribe("c") as messages:
        pass
    await memory_bus.publish("c", {"after": True})
    with pytest.raises(StopAsyncIteration):
        await next_message(messages)

    async with memory_bus.subscribe("c") as messages:
        reader = asyncio.create_task(anext_or_end(messages))
        await memory_bus.close()
        assert await asyncio.wait_for(reader, HANG_GUARD) == "ended"


async def anext_or_end(messages):
    async for message in messages:
        return message
    return "ended"


@pytest.mark.parametrize("message", [["not", "a", "dict"], {"x": float("nan")}, {"x": object()}])
async def test_publishing_non_json_is_refused_at_the_publisher(memory_bus, message):
    with pytest.raises(TypeError):
        await memory_bus.publish("c", message)


@pytest.mark.parametrize("channel", ["", None, "x" * 513])
async def test_bad_channel_names_are_refused(memory_bus, channel):
    with pytest.raises(ValueError):
        await memory_bus.publish(channel, {})
    with pytest.raises(ValueError):
        async with memory_bus.subscribe(channel):
            pass


def test_create_bus_follows_settings(tmp_path):
    assert isinstance(create_bus(make_settings(tmp_path)), MemoryBus)
    settings = make_settings(tmp_path, {"bus": {"backend": "redis", "redis_url": "redis://h:1/0",
                                                "channel_prefix": "p:"}})
    bus = create_bus(settings)
    assert isinstance(bus, RedisBus) and bus.prefix == "p:" and bus.redis_url == "redis://h:1/0"


async def test_memory_bus_behind_a_running_app(mediahub_app):
    bus = mediahub_app.extensions["mediahub"].bus
    async with bus.subscribe("app") as messages:
        await bus.publish("app", {"hello": "world"})
        assert await next_message(messages) == {"hello": "world"}


# -- Redis ---------------------------------------------------------------------------------

@pytest.fixture
async def redis_buses(redis_url, redis_namespace):  # noqa: F811
    """Two buses on one Redis, as two app instances would have."""
    name = f"mediahub-test-{uuid.uuid4().hex[:8]}"
    buses = [RedisBus(redis_url, redis_namespace, client_name=f"{name}-{n}") for n in "ab"]
    for bus in buses:
        await bus.start()
    yield buses
    for bus in buses:
        await bus.close()


@pytest.mark.redis
async def test_redis_bus_delivers_across_instances(redis_buses):
    instance_a, instance_b = redis_buses
    async with instance_b.subscribe("party:ABC") as on_b, instance_a.subscribe("party:ABC") as on_a:
        await instance_a.publish("party:ABC", {"type": "play", "at": 3})
        assert await next_message(on_b) == {"type": "play", "at": 3}
        assert await next_message(on_a) == {"type": "play", "at": 3}


@pytest.mark.redis
async def test_redis_bus_channels_are_isolated_by_prefix(redis_url, redis_namespace, redis_buses):  # noqa: F811
    instance_a, _ = redis_buses
    stranger = RedisBus(redis_url, redis_namespace + "other:")
    await stranger.start()
    try:
        async with stranger.subscribe("party:ABC") as theirs, stranger.subscribe("end") as end:
            await instance_a.publish("party:ABC", {"for": "us"})
            await stranger.publish("end", {"marker": True})
            assert await next_message(end) == {"marker": True}
            await stranger.publish("party:ABC", {"for": "them"})
            assert await next_message(theirs) == {"for": "them"}
    finally:
        await stranger.close()


@pytest.mark.redis
async def test_redis_bus_unsubscribes_when_the_last_local_subscriber_leaves(
        redis_buses, redis_client, redis_namespace):  # noqa: F811
    bus, _ = redis_buses
    channel = redis_namespace + "lonely"
    async with bus.subscribe("lonely"), bus.subscribe("lonely"):
        assert (await redis_client.pubsub_numsub(channel))[0][1] == 1
    for _ in range(HANG_GUARD * 20):
        if (await redis_client.pubsub_numsub(channel))[0][1] == 0:
            break
        await asyncio.sleep(0.05)
    assert (await redis_client.pubsub_numsub(channel))[0][1] == 0


@pytest.mark.redis
async def test_redis_bus_resubscribes_after_its_connection_is_killed(redis_buses, redis_client):  # noqa: F811
    publisher, subscriber = redis_buses
    async with subscriber.subscribe("party:ABC") as messages:
        await publisher.publish("party:ABC", {"n": "before"})
        assert await next_message(messages) == {"n": "before"}

        killed = 0
        for client in await redis_client.client_list():
            if client["name"] == subscriber.client_name and int(client.get("sub", 0)) > 0:
                killed += await redis_client.client_kill_filter(_id=client["id"])
        assert killed == 1

        # Messages published while it reconnects are lost (pub/sub); keep probing until
        # one gets through, then every later message must arrive in order.
        received = None
        for attempt in range(HANG_GUARD * 10):
            await publisher.publish("party:ABC", {"n": f"probe-{attempt}"})
            try:
                received = await asyncio.wait_for(messages.__anext__(), 0.1)
                break
            except asyncio.TimeoutError:
                continue
        assert received is not None and received["n"].startswith("probe-")
        assert subscriber.reconnects == 1
        await publisher.publish("party:ABC", {"n": "after"})
        while (message := await next_message(messages))["n"] != "after":
            assert message["n"].startswith("probe-")


@pytest.mark.redis
async def test_redis_bus_publish_survives_a_killed_publisher_connection(redis_buses, redis_client):  # noqa: F811
    publisher, subscriber = redis_buses
    async with subscriber.subscribe("c") as messages:
        await publisher.publish("c", {"n": 1})
        assert await next_message(messages) == {"n": 1}
        for client in await redis_client.client_list():
            if client["name"] == publisher.client_name and int(client.get("sub", 0)) == 0:
                await redis_client.client_kill_filter(_id=client["id"])
        await publisher.publish("c", {"n": 2})
        assert await next_message(messages) == {"n": 2}


@pytest.mark.redis
async def test_an_app_on_the_redis_bus_hears_another_instance(
        mediahub_app_factory, redis_url, redis_namespace):  # noqa: F811
    app = await mediahub_app_factory(overrides={"bus": {
        "backend": "redis", "redis_url": redis_url, "channel_prefix": redis_namespace}})
    app_bus = app.extensions["mediahub"].bus
    assert isinstance(app_bus, RedisBus)
    other_instance = RedisBus(redis_url, redis_namespace)
    await other_instance.start()
    try:
        async with app_bus.subscribe("party:ABC") as messages:
            await other_instance.publish("party:ABC", {"from": "instance A"})
            assert await next_message(messages) == {"from": "instance A"}
    finally:
        await other_instance.close()


async def test_redis_bus_publish_without_redis_raises_bus_unavailable():
    bus = RedisBus("redis://127.0.0.1:1/0")  # nothing listens on port 1
    bus.PUBLISH_RETRY_PAUSES = (0.01,)
    await bus.start()
    try:
        with pytest.raises(BusUnavailable) as caught:
            await bus.publish("c", {"n": 1})
        assert caught.value.status == 503
    finally:
        await bus.close()
