"""Accounts, bearer + refresh tokens, cookie sessions and CSRF, through the HTTP API a client sees."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from quart import Blueprint

from mediahub import hookimpl
from mediahub.auth import create_user, current_user, require_user
from mediahub.errors import BadRequest, Conflict
from mediahub.models import AuthToken, User, WebSession
from mediahub.passwords import FailureThrottle, password_problem, username_problem
from mediahub.tokens import purge_expired

PASSWORD = "correct horse battery"


def past() -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=1)


async def register(client, username="alice", password=PASSWORD, **extra):
    return await client.post("/api/auth/register",
                             json={"username": username, "password": password, **extra})


async def login(client, username="alice", password=PASSWORD):
    return await client.post("/api/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_error(body: dict) -> None:
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def page_csrf(html: str) -> str:
    match = (re.search(r'name="csrf_token" value="([^"]+)"', html)
             or re.search(r'name="csrf-token" content="([^"]+)"', html))
    assert match, "page has no CSRF field"
    return match.group(1)


# -- pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc", "Alice_01", "a.b-c", "x" * 32])
def test_acceptable_usernames(name):
    assert username_problem(name) is None


@pytest.mark.parametrize("name", ["ab", "x" * 33, "has space", "<b>", "émile", "a/b", "", None, 12])
def test_refused_usernames(name):
    assert username_problem(name)


def test_password_rules():
    assert password_problem("12345678") is None
    assert "at least 8" in password_problem("1234567")
    assert password_problem("x" * 2000)
    assert password_problem("abcdefgh\ud800")  # a lone surrogate cannot be hashed or stored


def test_throttle_blocks_after_repeated_failures_and_forgets_after_lockout():
    now = [1000.0]
    throttle = FailureThrottle(max_failures=3, window=60, lockout=300, clock=lambda: now[0])
    key = throttle.key("Alice", "10.0.0.1")
    for _ in range(2):
        throttle.record_failure(key)
    assert throttle.retry_after(key) == 0
    throttle.record_failure(key)
    assert throttle.retry_after(key) == 300
    assert throttle.retry_after(throttle.key("alice", "10.0.0.2")) == 0  # other IP
    assert throttle.retry_after(throttle.key("ALICE", "10.0.0.1")) == 300  # case-blind
    now[0] += 301
    assert throttle.retry_after(key) == 0


def test_throttle_failures_outside_the_window_do_not_add_up():
    now = [0.0]
    throttle = FailureThrottle(max_failures=3, window=60, lockout=300, clock=lambda: now[0])
    key = throttle.key("bob", "ip")
    for _ in range(5):
        throttle.record_failure(key)
        now[0] += 40
        throttle.record_failure(key)
        now[0] += 61
        assert throttle.retry_after(key) == 0


def test_throttle_memory_is_bounded():
    throttle = FailureThrottle(max_keys=100)
    for i in range(1000):
        throttle.record_failure(throttle.key(f"user{i}", "ip"))
    assert len(throttle._entries) <= 100


# -- register / login / me ----------------------------------------------------------------


async def test_register_then_login_then_me(mediahub_client):
    client = mediahub_client
    response = await register(client, display_name="Alice A.")
    assert response.status_code == 201
    body = await response.get_json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["username"] == "alice"
    assert body["user"]["display_name"] == "Alice A."
    assert body["user"]["is_guest"] is False
    # Only hashes are stored.
    assert not await AuthToken.filter(token_hash=body["access_token"]).exists()
    user = await User.get(username="alice")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash

    response = await login(client)
    assert response.status_code == 200
    tokens = await response.get_json()
    me = await client.get("/api/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    me_body = await me.get_json()
    assert me_body["id"] == body["user"]["id"]
    assert me_body["username"] == "alice"
    assert me_body["is_guest"] is False


async def test_login_ignores_username_case(mediahub_client):
    await register(mediahub_client, "Alice")
    assert (await login(mediahub_client, "aLiCe")).status_code == 200


async def test_me_without_or_with_bad_token_is_401(mediahub_client):
    response = await mediahub_client.get("/api/auth/me")
    assert response.status_code == 401
    assert_error(await response.get_json())
    for header in ("Bearer nope", "Bearer ", "Basic YWxpY2U6eA==", "Bearer " + "x" * 5000):
        response = await mediahub_client.get("/api/auth/me", headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_duplicate_username_is_409_whatever_the_case(mediahub_client):
    assert (await register(mediahub_client, "alice")).status_code == 201
    for name in ("alice", "ALICE"):
        response = await register(mediahub_client, name)
        assert response.status_code == 409
        body = await response.get_json()
        assert_error(body)
        assert body["error"]["code"] == "username_taken"
    assert await User.filter(username__iexact="alice").count() == 1


@pytest.mark.parametrize("payload", [
    {"username": "ab", "password": PASSWORD},
    {"username": "has space", "password": PASSWORD},
    {"username": "<script>", "password": PASSWORD},
    {"username": "x" * 33, "password": PASSWORD},
    {"username": "alice", "password": "short"},
    {"username": "alice", "password": "x" * 5000},
    {"username": "alice", "password": 12345678},
    {"username": None, "password": PASSWORD},
    {"username": "alice"},
    {"password": PASSWORD},
    {"username": "alice", "password": PASSWORD, "display_name": "a\x00b"},
    {"username": "alice", "password": PASSWORD, "display_name": 7},
    [],
    "alice",
])
async def test_bad_registration_is_400_with_the_error_shape(mediahub_client, payload):
    response = await mediahub_client.post("/api/auth/register", json=payload)
    assert response.status_code == 400
    assert_error(await response.get_json())
    assert await User.all().count() == 0


@pytest.mark.parametrize("body,content_type", [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"[" * 100000, "application/json"),
    (b"username=alice&password=correct+horse", "application/x-www-form-urlencoded"),
])
async def test_unparseable_bodies_are_400(mediahub_client, body, content_type):
    for path in ("/api/auth/register", "/api/auth/login", "/api/auth/token/refresh"):
        response = await mediahub_client.post(path, data=body,
                                              headers={"Content-Type": content_type})
        # A form post without a CSRF token may be stopped before the route sees it (403).
        assert response.status_code in ((400, 403) if "form" in content_type else (400,)), path
        assert_error(await response.get_json())


async def test_wrong_password_and_unknown_user_get_the_same_answer(mediahub_client):
    await register(mediahub_client)
    wrong = await login(mediahub_client, "alice", "wrong password")
    unknown = await login(mediahub_client, "nobody", "wrong password")
    assert wrong.status_code == unknown.status_code == 401
    assert await wrong.get_json() == await unknown.get_json()


async def test_repeated_failures_are_throttled_even_with_the_right_password(mediahub_client):
    await register(mediahub_client)
    for _ in range(5):
        assert (await login(mediahub_client, "alice", "wrong password")).status_code == 401
    response = await login(mediahub_client)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert_error(await response.get_json())
    # Another account from the same address is not affected.
    await register(mediahub_client, "bob")
    assert (await login(mediahub_client, "bob")).status_code == 200


async def test_login_rehashes_a_password_hashed_with_old_parameters(mediahub_client):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    old_hash = weak.hash(PASSWORD)
    await User.create(username="carol", password_hash=old_hash)
    assert (await login(mediahub_client, "carol")).status_code == 200
    new_hash = (await User.get(username="carol")).password_hash
    assert new_hash != old_hash
    assert not PasswordHasher().check_needs_rehash(new_hash)
    assert (await login(mediahub_client, "carol")).status_code == 200


async def test_signup_can_be_disabled(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"auth": {"allow_signup": False}})
    client = app.test_client()
    response = await register(client)
    assert response.status_code == 403
    assert_error(await response.get_json())
    assert (await client.get("/signup")).status_code == 403


# -- tokens -------------------------------------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(mediahub_client):
    client = mediahub_client
    first = await (await register(client)).get_json()

    response = await client.post("/api/auth/token/refresh",
                                 json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = await response.get_json()
    assert second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["user"]["username"] == "alice"
    assert (await client.get("/api/auth/me", headers=bearer(second["access_token"]))).status_code == 200

    # The spent refresh token shows up again: someone copied it. Everyone in the family is out.
    replay = await client.post("/api/auth/token/refresh",
                               json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert (await replay.get_json())["error"]["code"] == "refresh_token_reused"
    assert (await client.get("/api/auth/me", headers=bearer(second["access_token"]))).status_code == 401
    again = await client.post("/api/auth/token/refresh",
                              json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401

    # Another sign-in (another family) is untouched.
    other = await (await login(client)).get_json()
    assert (await client.get("/api/auth/me", headers=bearer(other["access_token"]))).status_code == 200


async def test_expired_access_token_is_refused(mediahub_client):
    body = await (await register(mediahub_client)).get_json()
    await AuthToken.filter(kind="access").update(expires_at=past())
    response = await mediahub_client.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert response.status_code == 401
    # The refresh token still gets a fresh access token.
    response = await mediahub_client.post("/api/auth/token/refresh",
                                          json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 200


async def test_expired_refresh_token_is_refused(mediahub_client):
    body = await (await register(mediahub_client)).get_json()
    await AuthToken.filter(kind="refresh").update(expires_at=past())
    response = await mediahub_client.post("/api/auth/token/refresh",
                                          json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401
    assert_error(await response.get_json())


async def test_access_token_lifetime_follows_the_setting(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"auth": {"access_token_ttl": 60}})
    body = await (await register(app.test_client())).get_json()
    assert body["expires_in"] == 60
    token = await AuthToken.get(kind="access")
    left = (token.expires_at - datetime.now(timezone.utc)).total_seconds()
    assert 0 < left <= 60


@pytest.mark.parametrize("payload", [{"refresh_token": "nope"}, {"refresh_token": ""},
                                     {"refresh_token": 5}, {}, {"refresh_token": "x" * 10000}])
async def test_bad_refresh_requests_are_refused(mediahub_client, payload):
    response = await mediahub_client.post("/api/auth/token/refresh", json=payload)
    assert response.status_code in (400, 401)
    assert_error(await response.get_json())


async def test_an_access_token_is_not_a_refresh_token(mediahub_client):
    body = await (await register(mediahub_client)).get_json()
    response = await mediahub_client.post("/api/auth/token/refresh",
                                          json={"refresh_token": body["access_token"]})
    assert response.status_code == 401
    response = await mediahub_client.get("/api/auth/me", headers=bearer(body["refresh_token"]))
    assert response.status_code == 401


async def test_logout_revokes_the_presented_tokens(mediahub_client):
    body = await (await register(mediahub_client)).get_json()
    other = await (await login(mediahub_client)).get_json()
    response = await mediahub_client.post("/api/auth/logout", headers=bearer(body["access_token"]))
    assert response.status_code == 200
    assert await response.get_json() == {"status": "signed_out"}
    assert (await mediahub_client.get("/api/auth/me", headers=bearer(body["access_token"]))).status_code == 401
    refresh = await mediahub_client.post("/api/auth/token/refresh",
                                         json={"refresh_token": body["refresh_token"]})
    assert refresh.status_code == 401
    # A sign-in on another device stays signed in.
    assert (await mediahub_client.get("/api/auth/me", headers=bearer(other["access_token"]))).status_code == 200


async def test_purge_removes_only_expired_credentials(mediahub_client):
    await register(mediahub_client)
    await AuthToken.filter(kind="access").update(expires_at=past())
    counts = await purge_expired(time.time())  # the sweep passes a Unix timestamp
    assert counts == {"auth_tokens": 1, "web_sessions": 0}
    assert await AuthToken.filter(kind="refresh").count() == 1


# -- guests -------------------------------------------------------------------------------


async def test_guest_account(mediahub_client):
    response = await mediahub_client.post("/api/auth/guest", json={"display_name": "  DJ   Night "})
    assert response.status_code == 201
    body = await response.get_json()
    assert body["user"]["is_guest"] is True
    assert body["user"]["display_name"] == "DJ Night"
    assert body["user"]["username"].startswith("guest-")
    me = await mediahub_client.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert (await me.get_json())["is_guest"] is True
    # A guest has no password: nothing signs in as it.
    for password in ("", PASSWORD):
        response = await login(mediahub_client, body["user"]["username"], password)
        assert response.status_code in (400, 401)


async def test_guest_without_a_body_or_name(mediahub_client):
    response = await mediahub_client.post("/api/auth/guest")
    assert response.status_code == 201
    assert (await response.get_json())["user"]["display_name"] == "Guest"
    response = await mediahub_client.post("/api/auth/guest", json={})
    assert response.status_code == 201


@pytest.mark.parametrize("payload", [{"display_name": "x" * 65}, {"display_name": ["a"]},
                                     {"display_name": "bad\u202ename"}, [1]])
async def test_bad_guest_names_are_400(mediahub_client, payload):
    response = await mediahub_client.post("/api/auth/guest", json=payload)
    assert response.status_code == 400
    assert_error(await response.get_json())


async def test_guests_can_be_disabled(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"auth": {"allow_guests": False}})
    response = await app.test_client().post("/api/auth/guest", json={})
    assert response.status_code == 403
    assert_error(await response.get_json())
    assert await User.all().count() == 0


# -- create_user (the CLI's `mediahub user create`) ---------------------------------------


async def test_create_user_for_the_cli(mediahub_app):
    admin = await create_user("root-admin", PASSWORD, admin=True)
    assert admin.is_admin and not admin.is_guest
    with pytest.raises(Conflict, match="taken"):
        await create_user("Root-Admin", PASSWORD)
    with pytest.raises(BadRequest, match="username"):
        await create_user("no", PASSWORD)
    with pytest.raises(BadRequest, match="password"):
        await create_user("someone", "short")
    client = mediahub_app.test_client()
    assert (await login(client, "root-admin")).status_code == 200


# -- changing a password ------------------------------------------------------------------


async def test_password_change_signs_the_account_out_everywhere_and_hands_out_a_fresh_pair(
        mediahub_app):
    phone, laptop = mediahub_app.test_client(), mediahub_app.test_client()
    await register(phone)
    old_phone = await (await login(phone)).get_json()
    await sign_in_with_form(laptop)
    response = await phone.post("/api/auth/password", headers=bearer(old_phone["access_token"]),
                                json={"current_password": PASSWORD,
                                      "new_password": "a brand new passphrase"})
    assert response.status_code == 200, await response.get_data(as_text=True)
    fresh = await response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    assert (await phone.get("/api/auth/me", headers=bearer(fresh["access_token"]))).status_code == 200
    # Everything issued before the change is refused at once, on this instance.
    assert (await phone.get("/api/auth/me", headers=bearer(old_phone["access_token"]))).status_code == 401
    assert (await phone.post("/api/auth/token/refresh",
                             json={"refresh_token": old_phone["refresh_token"]})).status_code == 401
    assert (await laptop.get("/api/auth/me")).status_code == 401
    assert (await login(phone)).status_code == 401
    assert (await login(phone, password="a brand new passphrase")).status_code == 200


async def test_password_change_needs_the_current_password_and_a_valid_new_one(mediahub_client):
    client = mediahub_client
    await register(client)
    token = (await (await login(client)).get_json())["access_token"]

    async def change(body):
        return await client.post("/api/auth/password", headers=bearer(token), json=body)

    wrong = await change({"current_password": "not it", "new_password": "a brand new passphrase"})
    assert wrong.status_code == 401
    assert_error(body := await wrong.get_json())
    assert body["error"]["message"] == "the current password is wrong"
    short = await change({"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 400 and (await short.get_json())["error"]["code"] == "invalid_password"
    missing = await change({"new_password": "a brand new passphrase"})
    assert missing.status_code == 400
    assert_error(await missing.get_json())
    anonymous = await client.post("/api/auth/password", json={
        "current_password": PASSWORD, "new_password": "a brand new passphrase"})
    assert anonymous.status_code == 401
    # None of the refusals changed anything, and the token still works.
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
    assert (await login(client)).status_code == 200


async def test_guessing_the_current_password_is_throttled_like_a_sign_in(mediahub_client):
    client = mediahub_client
    await register(client)
    token = (await (await login(client)).get_json())["access_token"]
    codes = []
    for _ in range(12):
        response = await client.post("/api/auth/password", headers=bearer(token), json={
            "current_password": "guess", "new_password": "a brand new passphrase"})
        codes.append(response.status_code)
    assert codes[0] == 401 and codes[-1] == 429, codes


async def test_a_guest_has_no_password_to_change(mediahub_client):
    guest = await (await mediahub_client.post("/api/auth/guest", json={})).get_json()
    response = await mediahub_client.post("/api/auth/password", headers=bearer(guest["access_token"]),
                                          json={"current_password": "", "new_password": "a brand new passphrase"})
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"] == "guest_account"


async def test_the_account_page_changes_the_password_and_keeps_this_browser_signed_in(mediahub_app):
    browser, other = mediahub_app.test_client(), mediahub_app.test_client()
    await register(browser)
    await sign_in_with_form(browser)
    await sign_in_with_form(other)
    page = await browser.get("/")
    assert 'href="/account/password"' in await page.get_data(as_text=True)
    form = await (await browser.get("/account/password")).get_data(as_text=True)
    assert 'name="current_password"' in form
    fields = {"csrf_token": page_csrf(form), "current_password": PASSWORD,
              "new_password": "a brand new passphrase"}
    mismatch = await browser.post("/account/password",
                                  form={**fields, "confirm_password": "something else"})
    assert mismatch.status_code == 400
    assert "not the same" in await mismatch.get_data(as_text=True)
    done = await browser.post("/account/password",
                              form={**fields, "confirm_password": "a brand new passphrase"})
    assert done.status_code == 200, await done.get_data(as_text=True)
    assert "Your password is changed" in await done.get_data(as_text=True)
    assert (await (await browser.get("/api/auth/me")).get_json())["username"] == "alice"
    assert (await other.get("/api/auth/me")).status_code == 401
    assert (await login(mediahub_app.test_client(), password="a brand new passphrase")).status_code == 200


async def test_the_account_page_sends_the_signed_out_to_sign_in(mediahub_client):
    response = await mediahub_client.get("/account/password")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/login?next=/account/password")


# -- helpers for plugins ------------------------------------------------------------------


class ProtectedPlugin:
    """A plugin with a protected API route and a protected page."""

    @hookimpl
    def register_routes(self, app):
        bp = Blueprint("protected", __name__)

        @bp.get("/api/protected/whoami")
        @require_user
        async def whoami():
            user = await current_user()
            return {"username": user.username}

        @bp.get("/protected/page")
        @require_user
        async def page():
            return "secret page"

        @bp.post("/api/protected/action")
        @require_user
        async def action():
            return {"done": True}

        return [bp]


async def test_require_user_for_api_and_pages(mediahub_app_factory):
    app = await mediahub_app_factory(plugins=[("protected", ProtectedPlugin())])
    client = app.test_client()
    response = await client.get("/api/protected/whoami")
    assert response.status_code == 401
    assert_error(await response.get_json())
    response = await client.get("/protected/page?tab=1", headers={"Accept": "text/html"})
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/login?next=/protected/page%3Ftab%3D1"

    body = await (await register(client)).get_json()
    response = await client.get("/api/protected/whoami", headers=bearer(body["access_token"]))
    assert (await response.get_json()) == {"username": "alice"}


# -- cookie sessions + CSRF ---------------------------------------------------------------


async def sign_in_with_form(client, username="alice", password=PASSWORD) -> None:
    token = page_csrf(await (await client.get("/")).get_data(as_text=True))
    response = await client.post("/login", form={"username": username, "password": password,
                                                 "csrf_token": token})
    assert response.status_code == 303, await response.get_data(as_text=True)


async def test_form_login_sets_an_httponly_lax_cookie_session(mediahub_client):
    await register(mediahub_client)
    token = page_csrf(await (await mediahub_client.get("/login")).get_data(as_text=True))
    response = await mediahub_client.post("/login", form={"username": "alice", "password": PASSWORD,
                                                          "csrf_token": token})
    assert response.status_code == 303
    cookie = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("mediahub_session=")]
    assert cookie and "HttpOnly" in cookie[0] and "SameSite=Lax" in cookie[0]
    value = cookie[0].split(";")[0].split("=", 1)[1]
    assert not await WebSession.filter(session_hash=value).exists()  # stored hashed
    me = await mediahub_client.get("/api/auth/me")
    assert (await me.get_json())["username"] == "alice"


async def test_cookie_post_without_or_with_a_wrong_csrf_token_is_refused(mediahub_client):
    client = mediahub_client
    await register(client)
    await sign_in_with_form(client)
    session = await WebSession.get()

    response = await client.post("/logout", form={})
    assert response.status_code == 403
    assert "expired" in await response.get_data(as_text=True)
    response = await client.post("/logout", form={"csrf_token": "wrong"})
    assert response.status_code == 403
    response = await client.post("/api/auth/logout", json={})
    assert response.status_code == 403
    body = await response.get_json()
    assert_error(body)
    assert body["error"]["code"] == "csrf_failed"
    assert await WebSession.filter(id=session.id).exists()  # nothing happened

    response = await client.post("/logout", form={"csrf_token": session.csrf_token})
    assert response.status_code == 303
    assert not await WebSession.filter(id=session.id).exists()
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_cookie_json_request_with_the_csrf_header_works(mediahub_client):
    await register(mediahub_client)
    await sign_in_with_form(mediahub_client)
    session = await WebSession.get()
    response = await mediahub_client.post("/api/auth/logout", json={},
                                          headers={"X-CSRF-Token": session.csrf_token})
    assert response.status_code == 200
    assert not await WebSession.exists()


async def test_bearer_requests_are_exempt_from_csrf(mediahub_client):
    body = await (await register(mediahub_client)).get_json()
    await sign_in_with_form(mediahub_client)  # the client also holds a session cookie now
    response = await mediahub_client.post("/api/auth/logout", headers=bearer(body["access_token"]))
    assert response.status_code == 200


async def test_a_bad_bearer_header_does_not_fall_back_to_the_cookie(mediahub_client):
    await register(mediahub_client)
    await sign_in_with_form(mediahub_client)
    response = await mediahub_client.get("/api/auth/me", headers=bearer("forged"))
    assert response.status_code == 401


async def test_anonymous_forms_need_their_csrf_token(mediahub_client):
    await register(mediahub_client)
    response = await mediahub_client.post("/login", form={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    response = await mediahub_client.post("/guest", form={"csrf_token": "forged"})
    assert response.status_code == 403
    assert not await WebSession.exists()
    assert await User.filter(is_guest=True).count() == 0


async def test_expired_cookie_session_is_signed_out(mediahub_client):
    await register(mediahub_client)
    await sign_in_with_form(mediahub_client)
    await WebSession.all().update(expires_at=past())
    assert (await mediahub_client.get("/api/auth/me")).status_code == 401
    html = await (await mediahub_client.get("/")).get_data(as_text=True)
    assert 'href="/login"' in html


async def test_login_replaces_the_previous_session(mediahub_client):
    await register(mediahub_client)
    await sign_in_with_form(mediahub_client)
    first = await WebSession.get()
    await sign_in_with_form(mediahub_client)
    assert not await WebSession.filter(id=first.id).exists()
    assert await WebSession.all().count() == 1


class SocketPlugin:
    """A WebSocket that tells who connected."""

    @hookimpl
    def register_routes(self, app):
        bp = Blueprint("socket_probe", __name__)

        @bp.websocket("/ws/whoami")
        async def whoami():
            from quart import websocket

            user = await current_user()
            await websocket.send(user.username if user else "anonymous")

        @bp.websocket("/ws/members-only")
        @require_user
        async def members_only():
            from quart import websocket

            await websocket.send("welcome")

        @bp.websocket("/ws/echo")
        @require_user
        async def echo():
            from quart import websocket

            try:
                while True:
                    await websocket.send(await websocket.receive())
            finally:
                self.handlers_ended += 1

        return [bp]

    handlers_ended = 0


async def test_websocket_viewer_from_query_token_or_same_origin_cookie(mediahub_app_factory):
    app = await mediahub_app_factory(plugins=[("socket", SocketPlugin())])
    client = app.test_client()
    body = await (await register(client)).get_json()

    async def who(path="/ws/whoami", headers=None):
        async with client.websocket(path, headers=headers) as socket:
            return await socket.receive()

    assert await who() == "anonymous"
    assert await who(f"/ws/whoami?access_token={body['access_token']}") == "alice"
    assert await who("/ws/whoami?access_token=forged") == "anonymous"
    await sign_in_with_form(client)
    assert await who(headers={"Origin": "http://localhost", "Host": "localhost"}) == "alice"
    # Another site's page opening the socket does not get the visitor's session.
    assert await who(headers={"Origin": "https://evil.example", "Host": "localhost"}) == "anonymous"


async def test_require_user_refuses_anonymous_websockets(mediahub_app_factory):
    from quart.testing import WebsocketResponseError

    app = await mediahub_app_factory(plugins=[("socket", SocketPlugin())])
    client = app.test_client()
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/ws/members-only") as socket:
            await socket.receive()
    assert refused.value.response.status_code == 401
    body = await (await register(client)).get_json()
    async with client.websocket(f"/ws/members-only?access_token={body['access_token']}") as socket:
        assert await socket.receive() == "welcome"


async def close_code(socket) -> int | str:
    """The code the server closed this test socket with (what it sent instead, if anything)."""
    from quart.testing.connections import WebsocketDisconnectError

    try:
        return await asyncio.wait_for(socket.receive(), 10)
    except WebsocketDisconnectError as closed:
        return closed.args[0]


async def test_a_websocket_is_closed_when_its_sign_in_is_revoked(mediahub_app_factory):
    plugin = SocketPlugin()
    app = await mediahub_app_factory(plugins=[("socket", plugin)])
    client, browser = app.test_client(), app.test_client()
    alice = await (await register(client)).get_json()
    bob = await (await register(client, "bob")).get_json()
    await sign_in_with_form(browser)
    same_site = {"Origin": "http://localhost", "Host": "localhost"}

    async with client.websocket(f"/ws/echo?access_token={alice['access_token']}") as phone, \
            client.websocket(f"/ws/echo?access_token={bob['access_token']}") as other, \
            browser.websocket("/ws/echo", headers=same_site) as laptop:
        for socket in (phone, other, laptop):
            await socket.send("hello")
            assert await socket.receive() == "hello"
        # alice signs her phone out: that socket is closed; her browser's and bob's go on.
        assert (await client.post("/api/auth/logout", headers=bearer(alice["access_token"]))
                ).status_code == 200
        assert await close_code(phone) == 4401
        for socket in (other, laptop):
            await socket.send("still here")
            assert await socket.receive() == "still here"
        # A password change revokes every sign-in of the account: the browser's socket too.
        fresh = await (await login(app.test_client())).get_json()
        changed = await app.test_client().post(
            "/api/auth/password", headers=bearer(fresh["access_token"]),
            json={"current_password": PASSWORD, "new_password": "a brand new passphrase"})
        assert changed.status_code == 200
        assert await close_code(laptop) == 4401
        await other.send("bob is unaffected")
        assert await other.receive() == "bob is unaffected"
    assert plugin.handlers_ended == 3  # each handler's own clean-up ran


MULTIPART = {"Content-Type": "multipart/form-data; boundary=x"}
MULTIPART_BODY = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'


async def test_multipart_posts_carry_the_token_in_header_or_query(mediahub_app_factory):
    # The body of a multipart post may be an upload its route streams: never read for CSRF.
    app = await mediahub_app_factory(plugins=[("protected", ProtectedPlugin())])
    client = app.test_client()
    await register(client)
    await sign_in_with_form(client)
    token = (await WebSession.get()).csrf_token
    post = client.post
    assert (await post("/api/protected/action", headers=MULTIPART, data=MULTIPART_BODY)).status_code == 403
    assert (await post(f"/api/protected/action?csrf_token={token}", headers=MULTIPART,
                       data=MULTIPART_BODY)).status_code == 200
    assert (await post("/api/protected/action", headers={**MULTIPART, "X-CSRF-Token": token},
                       data=MULTIPART_BODY)).status_code == 200


async def test_accounts_and_tokens_on_every_database(mediahub_app_factory, database_overrides):
    app = await mediahub_app_factory(overrides=database_overrides)
    client = app.test_client()
    first = await (await register(client, "Dana")).get_json()
    assert (await register(client, "dana")).status_code == 409
    assert (await login(client, "DANA")).status_code == 200
    second = await (await client.post("/api/auth/token/refresh",
                                      json={"refresh_token": first["refresh_token"]})).get_json()
    assert (await client.get("/api/auth/me", headers=bearer(second["access_token"]))).status_code == 200
    replay = await client.post("/api/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert (await client.get("/api/auth/me", headers=bearer(second["access_token"]))).status_code == 401
    await sign_in_with_form(client, "Dana")
    assert (await (await client.get("/api/auth/me")).get_json())["username"] == "Dana"
    await AuthToken.all().update(expires_at=past())
    # register + login + refresh each issued an access and a refresh token.
    assert (await purge_expired())["auth_tokens"] == 6
    assert not await AuthToken.exists()
