"""The garbage-collection policy of `mediahub serve`: what lives long is frozen out of full collections.

CPython's full (generation 2) collection walks every tracked object that is not frozen, and
stops the event loop meanwhile. A WebSocket costs ~220 of them (Hypercorn's, wsproto's and
Quart's per-connection objects, five tasks and their coroutine chains, mediahub's member):
with 1,000 party guests a full collection took 123-196 ms of CPU, and every message waited
for it (docs/party-protocol.md). They come while sockets join and leave: CPython runs one
once the objects that survived its young collections reach a quarter of those that
survived the last full one (the "25 % rule" of its garbage collector design,
devguide.python.org/garbage_collector), so a party filling up runs one at every quarter of
growth, each longer than the one before.

The policy, as Instagram's prefork servers use `gc.freeze()` (the reason it was added to
Python, bpo-31558) but for a server that lives with its connections rather than forks:

- start-up: everything the app made before serving (modules, routes, models: ~105,000
  objects) is frozen once, after a collection;
- sockets: right after a full collection CPython ran by itself, if `burst` WebSockets or more
  opened since the last freeze, everything that survived it is frozen. Nothing new is
  walked or paused for (the collection just found every object still in use), and later
  full collections walk only what came after: 1,000 guests joining, the longest walked
  68,000 objects (33-51 ms of CPU) where it walked 209,000 (123-145 ms);
- the bound: a frozen object is never collected, so cycles a frozen socket leaves when it
  closes wait in the permanent generation (~40 objects a socket). Once as many frozen
  sockets have closed as are still open (and at least `burst`), and a second later (the
  rest of a wave of closings), everything is unfrozen, collected and frozen again: one
  full-size pause, when a party ends or its guests have turned over once, and what is held
  for dead sockets stays below what the live ones hold (the leak that freezing without
  collecting first causes: apache/airflow#60505).

Only `serve` installs it: a process that makes apps and drops them (the tests) must keep its
collector as CPython ships it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from quart import Quart, g

log = logging.getLogger("mediahub.gc")

BURST = 100  # sockets opened since the last freeze: fewer are not worth freezing for
# From the moment enough frozen sockets have closed: when a party ends its 1,000 sockets
# close within a second, and one collection after all of them costs one full-size pause,
# where one each time half of the rest had gone cost four in a row (462 ms in 0.6 s).
SETTLE_S = 1.0


class ConnectionFreezer:
    """Counts WebSockets by freeze epoch; freezes, or unfreezes, as the module says."""

    def __init__(self, burst: int = BURST, settle_s: float = SETTLE_S):
        self.burst, self.settle_s = burst, settle_s
        self.epoch = 0       # freezes so far: a socket opened in epoch e is frozen once epoch > e
        self.fresh = 0       # open sockets opened since the last freeze
        self.frozen = 0      # open sockets frozen
        self.released = 0    # closed since they were frozen: their cycles are still held
        self._refreezing = False

    def opened(self) -> int:
        """A socket opened; its epoch, to give back to `closed`."""
        self.fresh += 1
        return self.epoch

    def closed(self, epoch: int) -> None:
        if epoch == self.epoch:
            self.fresh -= 1
            return
        self.frozen -= 1
        self.released += 1
        if self.released >= max(self.burst, self.frozen) and not self._refreezing:
            # Not inside the teardown (the closing socket's objects are let go after it), and
            # once the rest of a wave of closings is over.
            self._refreezing = True
            asyncio.get_running_loop().call_later(self.settle_s, self.refreeze)

    def after_collection(self, phase: str, info: dict) -> None:
        """A `gc.callbacks` entry: freeze what a full collection left, once sockets piled up.
        gc.freeze() here only moves the collector's lists, which the collection has finished
        with (CPython calls "stop" callbacks after it)."""
        if (phase == "stop" and info["generation"] == 2 and self.fresh >= self.burst
                and not self._refreezing):
            self.freeze(f"survivors of a full collection, {self.fresh} new sockets")

    def freeze(self, why: str) -> None:
        """Everything tracked now moves to the permanent generation: call it only when a
        full collection has just run, so that no garbage is frozen with the rest."""
        before = gc.get_freeze_count()
        gc.freeze()
        self.epoch += 1
        self.frozen += self.fresh
        self.fresh = 0
        log.info("garbage collector: %d objects frozen (%s), %d in all",
                 gc.get_freeze_count() - before, why, gc.get_freeze_count())

    def refreeze(self) -> None:
        released, self.released = self.released, 0
        gc.unfreeze()
        try:
            gc.collect()
        finally:
            self._refreezing = False
        self.freeze(f"{released} frozen sockets closed: their garbage collected")


def install(app: Quart, burst: int = BURST, settle_s: float = SETTLE_S) -> ConnectionFreezer:
    """Apply the policy to `app` once it serves (start-up frozen after the app's own start,
    which registered first); the collector callback is removed when it stops."""
    freezer = ConnectionFreezer(burst, settle_s)
    app.extensions["gc_policy"] = freezer

    @app.before_serving
    async def freeze_start_up() -> None:
        gc.collect()
        freezer.freeze("start-up")
        gc.callbacks.append(freezer.after_collection)

    @app.after_serving
    async def stop_freezing() -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(freezer.after_collection)

    @app.before_websocket
    async def count_socket() -> None:
        g.gc_epoch = freezer.opened()

    @app.teardown_websocket
    async def uncount_socket(exc: BaseException | None) -> None:
        epoch = g.pop("gc_epoch", None)
        if epoch is not None:
            freezer.closed(epoch)

    return freezer
