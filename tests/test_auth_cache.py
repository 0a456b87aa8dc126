"""The sign-in cache: a token or session is read once per TTL, and a revocation stops it at once, on every instance."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from mediahub import signin_cache, tokens
from mediahub.accounts import delete_user
from mediahub.models import AuthToken, User, WebSession
from mediahub.signin_cache import SignInCache
from mediahub.testing import login, make_settings, running_app
from tests.support.server_process import ServerProcess

PASSWORD = "correct horse battery"


def cache_of(app) -> SignInCache:
    return app.extensions["mediahub"].signin_cache


async def me(client, headers=None) -> int:
    return (await client.get("/api/auth/me", headers=headers)).status_code


def past_the_ttl(cache: SignInCache, monkeypatch) -> None:
    """Move the cache's clock past its TTL (what a wait of that long would do)."""
    later = time.monotonic() + cache.seconds + 1
    monkeypatch.setattr(cache, "clock", lambda: later)


async def sign_in_with_form(client, username="alice") -> None:
    html = await (await client.get("/login")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = await client.post("/login", form={"username": username, "password": PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 303


# -- one instance -------------------------------------------------------------------------


async def test_a_token_is_read_once_per_ttl_and_an_unannounced_change_counts_after_it(
        mediahub_app, monkeypatch):
    client = mediahub_app.test_client()
    cache = cache_of(mediahub_app)
    alice = await login(client)
    assert await me(client, alice) == 200
    hits = cache.hits
    assert await me(client, alice) == 200
    assert cache.hits == hits + 1
    # A change no code of ours announces (a row revoked by hand): the remembered token still
    # counts until the TTL has passed, then the database is asked again.
    await AuthToken.filter(kind="access").update(revoked=True)
    assert await me(client, alice) == 200
    past_the_ttl(cache, monkeypatch)
    assert await me(client, alice) == 401


async def test_logout_stops_a_remembered_token_at_once(mediahub_app):
    client = mediahub_app.test_client()
    alice = await login(client)
    other_device = await login(client)
    assert await me(client, alice) == 200 and await me(client, other_device) == 200
    assert (await client.post("/api/auth/logout", headers=alice)).status_code == 200
    assert await me(client, alice) == 401
    assert await me(client, other_device) == 200


async def test_a_reused_refresh_token_stops_the_remembered_tokens_of_its_family(mediahub_app):
    client = mediahub_app.test_client()
    await client.post("/api/auth/register", json={"username": "alice", "password": PASSWORD})
    first = await (await client.post("/api/auth/login", json={
        "username": "alice", "password": PASSWORD})).get_json()
    second = await (await client.post("/api/auth/token/refresh", json={
        "refresh_token": first["refresh_token"]})).get_json()
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert await me(client, headers) == 200
    replay = await client.post("/api/auth/token/refresh",
                               json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert await me(client, headers) == 401


async def test_signing_out_a_cookie_session_stops_it_at_once(mediahub_app):
    client = mediahub_app.test_client()
    await login(client)
    user = await User.get(username="alice")
    cookie, session = await tokens.open_web_session(user, 3600)
    # Sent by hand: a browser forgets the cookie when told to, a copied cookie does not.
    browser = {"Cookie": f"mediahub_session={cookie}"}
    assert await me(client, browser) == 200
    assert await me(client, browser) == 200  # remembered now
    response = await client.post("/logout", headers=browser,
                                 form={"csrf_token": session.csrf_token})
    assert response.status_code == 303
    assert await me(client, browser) == 401


async def test_a_deleted_user_is_signed_out_at_once_and_one_deleted_by_hand_within_the_ttl(
        mediahub_app, monkeypatch):
    client = mediahub_app.test_client()
    alice = await login(client, "alice")
    bob = await login(client, "bob")
    assert await me(client, alice) == 200 and await me(client, bob) == 200
    async with mediahub_app.app_context():
        assert await delete_user((await User.get(username="alice")).id)
    assert await me(client, alice) == 401
    assert await me(client, bob) == 200
    # Deleted without telling anyone (another tool on the database): gone after the TTL.
    await User.filter(username="bob").delete()
    past_the_ttl(cache_of(mediahub_app), monkeypatch)
    assert await me(client, bob) == 401


async def test_revoking_a_user_signs_out_every_token_and_session_of_theirs_only(mediahub_app):
    client = mediahub_app.test_client()
    alice = await login(client, "alice")
    bob = await login(client, "bob")
    await sign_in_with_form(client, "alice")
    assert await me(client) == 200 and await me(client, alice) == 200
    async with mediahub_app.app_context():
        await tokens.revoke_user((await User.get(username="alice")).id)
    assert await me(client, alice) == 401
    assert await me(client) == 401
    assert not await WebSession.exists()
    assert await me(client, bob) == 200


async def test_a_remembered_token_still_expires_on_time(mediahub_app, monkeypatch):
    client = mediahub_app.test_client()
    alice = await login(client)
    assert await me(client, alice) == 200
    token = await AuthToken.get(token_hash=tokens.digest(alice["Authorization"].split()[1]))
    cache = cache_of(mediahub_app)
    # The database's own check (expires_at > now) cannot be moved here: the cache's is.
    key = tokens.digest(alice["Authorization"].split()[1])
    assert cache.lookup(signin_cache.ACCESS, key) is not None
    monkeypatch.setattr(cache, "wall_clock", lambda: token.expires_at.timestamp() + 1)
    assert cache.lookup(signin_cache.ACCESS, key) is None


async def test_with_the_cache_off_every_request_reads_the_database(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"auth": {"sign_in_cache_seconds": 0}})
    client = app.test_client()
    alice = await login(client)
    assert await me(client, alice) == 200
    await AuthToken.filter(kind="access").update(revoked=True)
    assert await me(client, alice) == 401
    assert len(cache_of(app)) == 0


async def test_a_revocation_announced_on_the_bus_is_forgotten(mediahub_app):
    """What another instance's logout looks like to this one."""
    client = mediahub_app.test_client()
    alice = await login(client)
    assert await me(client, alice) == 200
    await AuthToken.filter(kind="access").update(revoked=True)
    user = await User.get(username="alice")
    host = mediahub_app.extensions["mediahub"]
    await host.bus.publish(signin_cache.CHANNEL, {"users": [str(user.id)]})
    for _ in range(100):  # the follower task runs on the same loop
        if not len(host.signin_cache):
            break
        await asyncio.sleep(0.01)
    assert await me(client, alice) == 401


async def test_a_row_read_while_a_revocation_happened_is_not_remembered(mediahub_app):
    client = mediahub_app.test_client()
    alice = await login(client)
    secret = alice["Authorization"].split()[1]
    cache = cache_of(mediahub_app)
    row = await AuthToken.get(token_hash=tokens.digest(secret)).select_related("user")
    generation = cache.generation  # a lookup starts its database read ...
    cache.forget(families=[row.family])  # ... a logout lands meanwhile ...
    cache.store(signin_cache.ACCESS, tokens.digest(secret), row, generation)  # ... then it ends
    assert len(cache) == 0


async def test_what_one_request_does_to_its_user_does_not_reach_the_next(mediahub_app):
    client = mediahub_app.test_client()
    alice = await login(client)
    secret = alice["Authorization"].split()[1]
    async with mediahub_app.app_context():
        first = await tokens.access_token(secret)
        first.user.display_name = "changed in one request"
        first.user.is_admin = True
        second = await tokens.access_token(secret)
        third = await tokens.access_token(secret)
    assert cache_of(mediahub_app).hits >= 2
    assert second.user.display_name == "alice" and not second.user.is_admin
    assert third.user is not second.user


async def test_the_cache_stays_bounded(mediahub_app):
    cache = SignInCache(5, size=3)
    cache.following = True
    user = await User.create(username="many")
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    for number in range(10):
        await AuthToken.create(token_hash=str(number), kind="access", family=str(number),
                               user=user, expires_at=expires)
        row = await AuthToken.get(token_hash=str(number)).select_related("user")
        cache.store(signin_cache.ACCESS, str(number), row, cache.generation)
    assert len(cache) == 3
    assert cache.lookup(signin_cache.ACCESS, "9") is not None
    assert cache.lookup(signin_cache.ACCESS, "0") is None


# -- several instances --------------------------------------------------------------------


@pytest.fixture
async def two_instances(tmp_path, postgres_url, redis_url, redis_namespace):
    """Two `mediahub serve` processes on one PostgreSQL database and the Redis bus, with a
    TTL long enough that only the bus can explain a refusal within a test; plus this test's
    own app on the same database and bus (a third instance, to revoke from)."""
    secret_key = secrets.token_hex(32)
    shared = {"server": {"secret_key": secret_key},
              "database": {"url": postgres_url},
              "bus": {"backend": "redis", "redis_url": redis_url,
                      "channel_prefix": redis_namespace},
              "auth": {"sign_in_cache_seconds": 60, "guests_per_address_per_minute": 0,
                       "failed_sign_ins_per_address_per_minute": 0}}
    config = tmp_path / "mediahub.toml"
    config.write_text("\n".join(
        f"[{section}]\n" + "\n".join(f"{key} = {json.dumps(value)}" for key, value in table.items())
        for section, table in shared.items()) + "\n")
    for name in "ab":
        (tmp_path / name / "data").mkdir(parents=True)
    a = ServerProcess(tmp_path / "a" / "data", config=config)
    b = ServerProcess(tmp_path / "b" / "data", config=config)
    with a:
        with b:
            async with running_app(make_settings(tmp_path / "c" / "data", shared)) as app:
                yield a, b, app


async def refused_soon(client: httpx.AsyncClient, url: str, **kwargs) -> bool:
    """Whether `url` answers 401 within a few seconds (a bus message is on its way)."""
    for _ in range(50):
        if (await client.get(url, **kwargs)).status_code == 401:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_logout_on_one_instance_stops_the_token_on_the_other(two_instances):
    a, b, _ = two_instances
    async with httpx.AsyncClient() as client:
        await client.post(f"{a.url}/api/auth/register",
                          json={"username": "alice", "password": PASSWORD})
        pair = (await client.post(f"{a.url}/api/auth/login",
                                  json={"username": "alice", "password": PASSWORD})).json()
        other = (await client.post(f"{b.url}/api/auth/login",
                                   json={"username": "alice", "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        other_headers = {"Authorization": f"Bearer {other['access_token']}"}
        for server in (a, b):  # remembered on both
            for _ in range(2):
                assert (await client.get(f"{server.url}/api/auth/me", headers=headers)).status_code == 200
        assert (await client.post(f"{a.url}/api/auth/logout", headers=headers)).status_code == 200
        assert (await client.get(f"{a.url}/api/auth/me", headers=headers)).status_code == 401
        assert await refused_soon(client, f"{b.url}/api/auth/me", headers=headers)
        for server in (a, b):
            assert (await client.get(f"{server.url}/api/auth/me",
                                     headers=other_headers)).status_code == 200


async def test_a_deleted_user_and_a_closed_session_stop_on_every_instance(two_instances):
    a, b, app = two_instances
    async with httpx.AsyncClient() as client:
        for name in ("alice", "bob"):
            await client.post(f"{a.url}/api/auth/register",
                              json={"username": name, "password": PASSWORD})
        alice = (await client.post(f"{a.url}/api/auth/login",
                                   json={"username": "alice", "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {alice['access_token']}"}
        async with app.app_context():
            bob = await User.get(username="bob")
            cookie, _ = await tokens.open_web_session(bob, 3600)
        cookies = {"Cookie": f"mediahub_session={cookie}"}
        for server in (a, b):
            for _ in range(2):
                assert (await client.get(f"{server.url}/api/auth/me", headers=headers)).status_code == 200
                assert (await client.get(f"{server.url}/api/auth/me", headers=cookies)).status_code == 200

        async with app.app_context():  # from the third instance
            await tokens.close_web_session(cookie)
            assert await delete_user(alice["user"]["id"])
        for server in (a, b):
            assert await refused_soon(client, f"{server.url}/api/auth/me", headers=headers)
            assert await refused_soon(client, f"{server.url}/api/auth/me", headers=cookies)


async def test_a_password_change_on_one_instance_closes_the_accounts_websockets_on_the_other(
        two_instances):
    """An open socket was signed in at its handshake; the revocation still reaches it."""
    from tests.support.websocket_client import Closed, WebSocketClient

    a, b, _ = two_instances
    async with httpx.AsyncClient() as client:
        for name in ("alice", "bob"):
            await client.post(f"{a.url}/api/auth/register",
                              json={"username": name, "password": PASSWORD})
        tokens_of = {name: (await client.post(f"{b.url}/api/auth/login", json={
            "username": name, "password": PASSWORD})).json()["access_token"] for name in ("alice", "bob")}
        sockets = {name: await WebSocketClient.connect(
            f"{b.url.replace('http', 'ws')}/ws/library?access_token={token}")
            for name, token in tokens_of.items()}
        try:
            for socket in sockets.values():
                assert json.loads(await socket.receive())["type"] == "ready"
            fresh = (await client.post(f"{a.url}/api/auth/login", json={
                "username": "alice", "password": PASSWORD})).json()["access_token"]
            changed = await client.post(f"{a.url}/api/auth/password",
                                        headers={"Authorization": f"Bearer {fresh}"},
                                        json={"current_password": PASSWORD,
                                              "new_password": "a brand new passphrase"})
            assert changed.status_code == 200
            with pytest.raises(Closed) as closed:
                await asyncio.wait_for(sockets["alice"].receive(), 10)
            assert closed.value.code == 4401
            # bob's socket on the same instance stays open (nothing to read, not closed).
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(sockets["bob"].receive(), 1.5)
            assert sockets["bob"].close_code is None
        finally:
            for socket in sockets.values():
                await socket.close()
