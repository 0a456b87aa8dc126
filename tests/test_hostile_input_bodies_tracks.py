"""Hostile-input catalogue, issue 13 items 6 and 8: trickled bodies and party tracks fetched by strangers.

Part of the catalogue of tests/hostile_input/ (same rules: each case is one
parametrized test whose id says what is tried, and asserts the exact refusal and that
nothing was stored). One app of its own, with a small body pace ([server] body_grace 0.3 s,
body_min_rate 1 KiB/s, body_deadline 2 s) so a trickle is refused in well under a second;
the requests are driven through the ASGI interface a message at a time, as Hypercorn hands
a slow client's bytes over.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import pytest_asyncio

from mediahub.models import MediaObject
from mediahub.testing import guest, login, make_settings, running_app
from mediahub_listen_party.models import PartyTrack
from tests.support.multipart import form_headers, multipart, part, part_head
from tests.support.party import receive, send, wav_bytes

pytestmark = pytest.mark.asyncio(loop_scope="module")

GRACE, MIN_RATE, DEADLINE = 0.3, 1024, 2.0
KiB, MiB = 1024, 1024 * 1024


class World:
    app = None
    root: Path
    alice: dict
    track: dict       # alice's upload, playing in `party`
    member: dict      # joined `party`
    stranger: dict    # signed in, never joined
    elsewhere: dict   # a member of another live party

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and not p.name.startswith("mediahub.sqlite3"))

    async def snapshot(self):
        return (await MediaObject.all().count(), await PartyTrack.all().count(), self.files())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_bodies")
    settings = make_settings(root, {"server": {"body_grace": GRACE, "body_min_rate": MIN_RATE,
                                               "body_deadline": DEADLINE,
                                               "max_upload_bytes": UPLOAD_CAP}})
    async with running_app(settings) as app:
        w = World()
        w.app, w.root = app, root
        client = app.test_client()
        w.alice = await login(client, "alice")
        body, content_type = multipart([("audio", "x.wav", wav_bytes(0.5))])
        w.track = await (await client.post("/api/upload-track", data=body,
                                           headers={**w.alice, **content_type})).get_json()
        party = await (await client.post("/api/parties", json={"name": "p"}, headers=w.alice)).get_json()
        other = await (await client.post("/api/parties", json={"name": "o"}, headers=w.alice)).get_json()
        token = w.alice["Authorization"].split()[1]
        async with client.websocket(f"/ws/party/{party['code']}?access_token={token}") as socket:
            await receive(socket, "SNAPSHOT")
            await send(socket, t="HOST_TRACK_SELECTED", version=1, trackId=w.track["trackId"])
            await receive(socket, "TRACK_SELECTED")
        w.member = await guest(client, "Member")
        await client.post(f"/api/parties/{party['code']}/join", json={"display_name": "M"}, headers=w.member)
        w.elsewhere = await guest(client, "Elsewhere")
        await client.post(f"/api/parties/{other['code']}/join", json={"display_name": "E"},
                          headers=w.elsewhere)
        w.stranger = await guest(client, "Stranger")
        yield w


# -- item 6: bodies that never arrive --------------------------------------------------------


async def trickled(app, path: str, headers: dict, head: bytes, declared: int, *,
                   every: float, burst: bytes = b"") -> tuple[int, dict, dict, float]:
    """POST `path` declaring `declared` bytes; send `head` + `burst` at once, then a byte every
    `every` seconds until the app answers. Returns status, headers, JSON body, seconds taken."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 40000), "server": ("localhost", 80),
        "extensions": {},
        "headers": [(b"host", b"localhost"), (b"content-length", str(declared).encode())]
        + [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
    }
    first = [head + burst]
    answered = asyncio.Event()
    sent: list[dict] = []

    async def receive_message():
        if first:
            return {"type": "http.request", "body": first.pop(), "more_body": True}
        await asyncio.sleep(every)
        if answered.is_set():
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": b"\0", "more_body": True}

    async def send_message(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    started = time.monotonic()
    await asyncio.wait_for(app(scope, receive_message, send_message), 30)
    took = time.monotonic() - started
    start = next(m for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return (start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]},
            json.loads(data), took)


def form_head(field: str, extra: bytes = b"") -> tuple[bytes, dict]:
    """The start of a form up to its file's first byte (`extra`: parts before the file)."""
    head = extra + part_head(field, "a.wav", content_type="audio/wav")
    return head, {"content-type": form_headers()["Content-Type"]}


# (route, how its body starts, who sends it, its cap): every kind of body a client can trickle.
UPLOAD_CAP, JSON_CAP = 8 * MiB, 1 * MiB
ROUTES = {
    "party upload-track (multipart)": ("/api/upload-track", lambda: form_head("audio"), "alice",
                                       UPLOAD_CAP),
    "renders upload (multipart)": ("/api/v1/upload/audio", lambda: form_head(
        "file", part("thread_id", "00000000-0000-0000-0000-000000000000")), "alice",
        UPLOAD_CAP),
    "sign-in (JSON)": ("/api/auth/login", lambda: (b'{"username": "alice", "password": "',
                                                   {"content-type": "application/json"}), None,
                       JSON_CAP),
    "new party (JSON)": ("/api/parties", lambda: (b'{"name": "', {"content-type": "application/json"}),
                         "alice", JSON_CAP),
}
PATTERNS = {
    # the reported attack, sped up: too slow on average once the grace is over
    "a byte every 0.1 s": dict(every=0.1, burst=0, rule="too slowly"),
    # far ahead of the rate (a fast start: 3/4 of the cap, past what an upload buffers
    # before storing), then stalled: the overall deadline
    "3/4 of the cap at once then a byte every 0.25 s": dict(
        every=0.25, burst=3, rule=f"not complete within {DEADLINE:g} s"),
}


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("route", list(ROUTES))
async def test_trickled_body_gets_408_and_stores_nothing(world, route, pattern):
    path, start, who, cap = ROUTES[route]
    case = PATTERNS[pattern]
    burst = wav_bytes(0.1)[:44] + bytes(cap * 3 // 4) if case["burst"] else b""
    head, headers = start()
    if who:
        headers = {**headers, **{k.lower(): v for k, v in getattr(world, who).items()}}
    before = await world.snapshot()
    status, response_headers, body, took = await trickled(
        world.app, path, headers, head, cap - 4 * KiB, every=case["every"], burst=burst)
    assert status == 408, body
    assert body["error"]["code"] == "request_timeout" and case["rule"] in body["error"]["message"]
    assert response_headers.get("connection") == "close"
    limit = DEADLINE if burst else GRACE
    assert took < limit + 1.5, took
    assert await world.snapshot() == before


# -- item 8: a party's track for whoever learns its id ---------------------------------------

ASKS = {
    "GET": ("GET", {}),
    "HEAD": ("HEAD", {}),
    "a Range": ("GET", {"Range": "bytes=0-99"}),
    "a suffix Range": ("GET", {"Range": "bytes=-10"}),
    "If-None-Match *": ("GET", {"If-None-Match": "*"}),
    "If-Range": ("GET", {"Range": "bytes=0-9", "If-Range": "\"x\""}),
}


@pytest.mark.parametrize("who", ["stranger", "elsewhere"])
@pytest.mark.parametrize("ask", list(ASKS))
async def test_a_party_track_is_a_404_for_accounts_outside_the_party(world, who, ask):
    method, extra = ASKS[ask]
    client = world.app.test_client()
    url = world.track["trackUrl"]
    response = await client.open(url, method=method, headers={**getattr(world, who), **extra})
    data = await response.get_data()
    assert response.status_code == 404, (response.status_code, data[:200])
    if method == "GET":
        assert json.loads(data)["error"]["code"] == "track_not_found"
    assert "Content-Range" not in response.headers
    # ...while its members get it, the same way.
    allowed = await client.open(url, method=method, headers={**world.member, **extra})
    assert allowed.status_code in (200, 206, 304, 412), allowed.status_code
