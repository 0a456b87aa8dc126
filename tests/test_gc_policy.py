"""mediahub.gc_policy: start-up and piled-up sockets frozen out of full collections, their garbage collected once they close."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from pathlib import Path

import pytest
from quart import Quart, websocket

from mediahub import gc_policy
from tests.support.server_process import ServerProcess

PLUGIN_DIRS = Path(__file__).parent / "plugins"


class Marker:
    """A socket's own object in a reference cycle: only the collector can free it."""


@pytest.fixture
def thawed():
    """The policy freezes this whole process: give the collector everything back after."""
    yield
    gc.unfreeze()


def socket_app(markers: list) -> Quart:
    app = Quart(__name__)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        marker = Marker()
        marker.cycle = marker
        markers.append(weakref.ref(marker))
        await websocket.send("in")
        await websocket.receive()

    return app


def walked(obj) -> bool:
    """Whether a collection would look at `obj` (gc.get_objects() leaves out frozen ones)."""
    return any(tracked is obj for tracked in gc.get_objects())


async def test_sockets_are_frozen_after_a_full_collection_and_collected_once_closed(thawed):
    markers: list[weakref.ref] = []
    app = socket_app(markers)
    freezer = gc_policy.install(app, burst=3, settle_s=0.05)
    async with app.test_app():
        assert freezer.epoch == 1 and gc.get_freeze_count() > 0  # start-up frozen
        async with contextlib.AsyncExitStack() as sockets:
            clients = [await sockets.enter_async_context(app.test_client().websocket("/ws"))
                       for _ in range(3)]
            assert [await client.receive() for client in clients] == ["in"] * 3
            assert freezer.fresh == 3

            gc.collect()  # the full collection CPython would run by itself
            assert (freezer.epoch, freezer.fresh, freezer.frozen) == (2, 0, 3)
            assert not walked(markers[0]())  # later collections no longer walk the sockets

            for client in clients:
                await client.send("bye")
            for _ in range(200):
                await asyncio.sleep(0.01)
                if freezer.epoch == 3:
                    break
        # All three frozen sockets closed: unfrozen, their cycles collected, frozen again.
        assert (freezer.frozen, freezer.released) == (0, 0)
        assert [marker() for marker in markers] == [None] * 3
    assert freezer.after_collection not in gc.callbacks


async def test_a_few_sockets_are_not_worth_a_freeze(thawed):
    markers: list[weakref.ref] = []
    app = socket_app(markers)
    freezer = gc_policy.install(app, burst=3, settle_s=0.05)
    async with app.test_app():
        async with app.test_client().websocket("/ws") as client:
            assert await client.receive() == "in"
            gc.collect()
            assert (freezer.epoch, freezer.fresh) == (1, 1)
            assert walked(markers[0]())
            await client.send("bye")
        for _ in range(100):
            await asyncio.sleep(0.01)
            if freezer.fresh == 0:
                break
        gc.collect()
        assert markers[0]() is None and freezer.epoch == 1


def test_serve_applies_the_policy(tmp_path):
    env = {"MEDIAHUB__PLUGINS__DIRS": f'["{PLUGIN_DIRS / "ws_echo_dir"}"]',
           "MEDIAHUB__SERVER__LOG_LEVEL": "info"}
    with ServerProcess(tmp_path / "data", env=env) as server:
        pass
    assert "objects frozen (start-up)" in server.output()
