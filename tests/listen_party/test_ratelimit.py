"""Join-code guessing limit: misses per IP network and per account, shared through the database."""

from __future__ import annotations

import time

import pytest

from mediahub.testing import login, make_settings, running_app
from mediahub.address_limits import estimate, retry_after
from mediahub_listen_party import code_limit
from mediahub_listen_party.models import PartyCodeMiss

LIMIT = 3
LIMIT_OVERRIDES = {"plugins": {"listen_party": {"code_misses_per_minute": LIMIT}}}


@pytest.fixture(autouse=True)
def one_minute(monkeypatch):
    """Pin the limiter's clock 5 s into a minute: counts in a test never straddle two minutes
    (the sliding estimate would count a straddling miss as slightly less than one)."""
    start = (time.time() // 60) * 60 + 5
    monkeypatch.setattr(code_limit, "clock", lambda: start)
    return start


def at(ip: str) -> dict:
    """Request options for a client at `ip` (the test client's ASGI scope)."""
    return {"scope_base": {"client": (ip, 40000)}}


# -- the pure parts --------------------------------------------------------------------------


def test_a_client_is_its_ip_network_and_its_account():
    assert code_limit.client_keys("203.0.113.7", None) == ["ip:203.0.113.7"]
    # An IPv6 host usually owns a whole /64: rotating within it is the same client.
    assert code_limit.client_keys("2001:db8:1:2:aaaa::1", "u1") == ["ip:2001:db8:1:2::/64", "user:u1"]
    assert code_limit.client_keys("2001:db8:1:2:bbbb::9", None) == ["ip:2001:db8:1:2::/64"]
    assert code_limit.client_keys("::ffff:198.51.100.4", None) == ["ip:198.51.100.4"]
    assert code_limit.client_keys(None, None) == []


def test_the_sliding_window_estimate_and_its_retry_after():
    assert estimate(2, 10, elapsed=30) == 7  # half of last minute still in view
    assert estimate(2, 10, elapsed=60) == 2
    assert retry_after(2, 0, elapsed=10, limit=10) == 0
    wait = retry_after(4, 12, elapsed=15, limit=10)
    # Allowed after the wait, not much before it (a half-miss margin: ~2.5 s here).
    assert wait > 0 and estimate(4, 12, 15 + wait) < 10 <= estimate(4, 12, 15 + wait - 3)
    # Over the limit within this minute: wait for the minute to end and fade.
    wait = retry_after(12, 0, elapsed=20, limit=10)
    assert wait > 40 and estimate(0, 12, wait - 40) < 10


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
async def app(mediahub_app_factory):
    return await mediahub_app_factory(overrides=LIMIT_OVERRIDES)


async def start_party(client) -> str:
    host = await login(client, "hostess")
    created = await client.post("/api/parties", json={}, headers=host, **at("192.0.2.1"))
    return (await created.get_json())["code"]


async def test_guessing_codes_gets_429_on_every_lookup_and_others_still_join(app, one_minute):
    client = app.test_client()
    code = await start_party(client)
    guesser = at("198.51.100.9")
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
        response = await client.post(f"/api/parties/{guess}/join", json={"display_name": "x"}, **guesser)
        assert response.status_code == 404
    # Over the limit: even the right code answers 429, or the limit would still be an oracle.
    response = await client.post(f"/api/parties/{code}/join", json={"display_name": "x"}, **guesser)
    body = await response.get_json()
    assert response.status_code == 429 and body["error"]["code"] == "too_many_requests"
    assert 0 < int(response.headers["Retry-After"]) <= 120
    page = await client.get(f"/party/{code}", **guesser)
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert 'id="code-limited"' in (await page.get_data()).decode()
    assert int(page.headers["Retry-After"]) > 0
    # A guest elsewhere, within limits, joins with the right code.
    response = await client.post(f"/api/parties/{code}/join", json={"display_name": "Zoë"},
                                 **at("203.0.113.20"))
    assert response.status_code == 200, await response.get_json()
    # A minute or two later the guesser may try again.
    keys = code_limit.client_keys("198.51.100.9", None)
    async with app.app_context():
        with pytest.raises(Exception) as refused:
            await code_limit.check(keys, LIMIT)
        assert refused.value.status == 429
        await code_limit.check(keys, LIMIT, now=one_minute + 120)


async def test_a_signed_in_guesser_is_limited_across_addresses(app):
    client = app.test_client()
    code = await start_party(client)
    mallory = await login(client, "mallory")
    for number, guess in enumerate(("AAAAAA", "BBBBBB", "CCCCCC")):
        response = await client.get(f"/api/parties/{guess}", headers=mallory, **at(f"198.51.100.{number}"))
        assert response.status_code == 404
    response = await client.get(f"/api/parties/{code}", headers=mallory, **at("198.51.100.77"))
    assert response.status_code == 429
    # Right codes are never counted: a guest who keeps reloading the party page is fine.
    for _ in range(LIMIT + 2):
        assert (await client.get(f"/party/{code}", **at("203.0.113.5"))).status_code == 200


async def test_the_limit_covers_every_lookup_by_code(app):
    client = app.test_client()
    code = await start_party(client)
    user = await login(client, "dora")
    where = at("198.51.100.50")
    misses = [client.get("/party/AAAAAA", **where),
              client.post("/api/parties/BBBBBB/end", headers=user, **where),
              client.get("/api/parties/CCCCCC/library", headers=user, **where)]
    for request in misses:
        assert (await request).status_code == 404
    assert (await client.get(f"/api/parties/{code}/library", headers=user, **where)).status_code == 429


@pytest.mark.parametrize("database_overrides", ["sqlite", "postgres"], indirect=True)
async def test_counts_are_in_the_database_so_every_instance_shares_them(tmp_path, database_overrides,
                                                                       one_minute):
    """Two app lifetimes on one database stand for two instances (or a restart)."""
    settings = make_settings(tmp_path / "data", {**LIMIT_OVERRIDES, **database_overrides})
    guesser = at("198.51.100.200")
    async with running_app(settings) as first:
        client = first.test_client()
        for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
            assert (await client.get(f"/party/{guess}", **guesser)).status_code == 404
        assert await PartyCodeMiss.filter(key="ip:198.51.100.200").count() >= 1
    async with running_app(settings) as second:
        client = second.test_client()
        assert (await client.get("/party/DDDDDD", **guesser)).status_code == 429
        assert (await client.get("/party/DDDDDD", **at("198.51.100.201"))).status_code == 404
        # The sweep forgets minutes that no longer count.
        async with second.app_context():
            host = second.extensions["mediahub"]
            results = await host.call_hook("cleanup", now=one_minute + 180)
        assert any(r.get("code_misses_forgotten") == 2 for r in results)
        assert await PartyCodeMiss.all().count() == 0


async def test_the_party_socket_is_behind_the_same_limit(app):
    """Guest accounts are free, so the WebSocket must not be a way around the join limit."""
    from quart.testing import WebsocketResponseError

    client = app.test_client()
    code = await start_party(client)
    guesser = await login(client, "eve")
    token = guesser["Authorization"].split()[1]

    async def handshake(guess: str) -> int:
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket(f"/ws/party/{guess}?access_token={token}") as socket:
                await socket.receive()
        return refused.value.response.status_code

    assert [await handshake(guess) for guess in ("AAAAAA", "BBBBBB", "CCCCCC")] == [404] * LIMIT
    assert await handshake(code) == 429  # the right code too: no oracle for guessers
