"""Hostile-input catalogue, issue 13 (bounded decoding): transcodes asked for while every place is taken.

Part of the catalogue of tests/hostile_input/: each case is one parametrized test
whose id says what is tried. With `[plugins.music_library.transcode] max_concurrent` places
all held, every way of asking for a transcode gets 503 `busy` with Retry-After after
`[server] decode_wait` — before any audio, with no ffmpeg started — and the original file
(no ffmpeg) is still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
import pytest_asyncio

from mediahub import decode_slot
from mediahub.testing import login, make_settings, running_app
from mediahub_music_library.streaming import TRANSCODE_POOL, running_transcodes
from tests.support.music_library import library_config, scan_now

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLACES = 2
DECODE_WAIT = 0.3


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def busy(collection, tmp_path_factory):
    overrides = library_config(collection, transcode={"max_concurrent": PLACES})
    overrides["server"] = {"decode_wait": DECODE_WAIT}
    settings = make_settings(tmp_path_factory.mktemp("busy_music") / "data", overrides)
    async with running_app(settings) as app:
        await scan_now(app)
        client = app.test_client()
        alice = await login(client, "alice")
        found = await (await client.get("/api/music/search?q=hold", headers=alice)).get_json()
        yield app, client, alice, found["tracks"][0]["streamUrl"]


ASKS = {
    "format=mp3": "format=mp3",
    "format=opus": "format=opus",
    "format=aac&maxBitRate=64": "format=aac&maxBitRate=64",
    "maxBitRate=32 only": "maxBitRate=32",
    "timeOffset=0.5": "timeOffset=0.5",
    "every parameter at once": "format=mp3&maxBitRate=320&timeOffset=0.1",
}


@pytest.mark.parametrize("ask", list(ASKS))
async def test_a_transcode_with_every_place_taken_is_503_busy(busy, ask):
    app, client, alice, url = busy
    async with app.app_context(), contextlib.AsyncExitStack() as places:
        for _ in range(PLACES):
            await places.enter_async_context(decode_slot(TRANSCODE_POOL, PLACES))
        started = time.monotonic()
        response = await client.get(f"{url}?{ASKS[ask]}", headers=alice)
        waited = time.monotonic() - started
        body = await response.get_json()
        assert response.status_code == 503 and body["error"]["code"] == "busy", body
        assert int(response.headers["Retry-After"]) >= 1
        assert waited >= DECODE_WAIT - 0.05
        assert running_transcodes() == 0
        # The original needs no ffmpeg: still served while the places are taken.
        original = await client.get(f"{url}?format=raw", headers=alice)
        assert original.status_code == 200
    # The places given back, the same request transcodes.
    response = await client.get(f"{url}?{ASKS[ask]}", headers=alice)
    assert response.status_code == 200 and len(await response.get_data()) > 100
    assert running_transcodes() == 0


async def test_a_transcode_answer_never_sent_gives_its_place_back(busy, monkeypatch):
    """The route takes the place before answering; if the answer's body never starts (the
    client left in between), a timer gives the place back instead of leaking it."""
    from mediahub_music_library import streaming

    app, *_ = busy
    monkeypatch.setattr(streaming, "UNCLAIMED_AFTER", 1.0)  # after the refusal below
    async with app.app_context():
        held = [await streaming.HeldSlot.take(PLACES) for _ in range(PLACES)]
        with pytest.raises(Exception) as refused:
            async with decode_slot(TRANSCODE_POOL, PLACES):
                pass
        assert getattr(refused.value, "code", None) == "busy"
        await asyncio.sleep(1.0)  # no body ever claimed them
        assert not any(slot.claim() for slot in held)  # too late: given back already
        async with contextlib.AsyncExitStack() as places:
            for _ in range(PLACES):
                await places.enter_async_context(decode_slot(TRANSCODE_POOL, PLACES))
