"""Who a Subsonic request is: apiKey, u + p (clear or enc:hex), or u + t + s (token auth).

Tokens are checked against the user's app passwords only: the account password is stored
as an argon2 hash, so md5(password + salt) cannot be checked against it. Failures of
every mechanism count in the sign-in throttle (per username and address).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from quart import current_app, request

from mediahub import MediahubError, User, current_host, sign_in, sign_in_throttle

from mediahub_subsonic_api import app_passwords
from mediahub_subsonic_api.params import Params
from mediahub_subsonic_api.wire import SubsonicError, missing

APP_PASSWORDS_PATH = "/account/subsonic"
# A client sends its credentials with every cover and every stream; checking an account
# password is an argon2 hash (tens of ms, 64 MiB) — remember a success for a while.
SIGN_IN_CACHE_SECONDS = 300
SIGN_IN_CACHE_SIZE = 1000


def help_url() -> str:
    public = (current_host().settings.server.public_url or "").rstrip("/")
    return f"{public or request.host_url.rstrip('/')}{APP_PASSWORDS_PATH}"


def wrong_credentials(message: str = "wrong username or password") -> SubsonicError:
    return SubsonicError(SubsonicError.WRONG_CREDENTIALS, message)


def decode_password(raw: str) -> str:
    if not raw.startswith("enc:"):
        return raw
    try:
        return bytes.fromhex(raw[4:]).decode("utf-8")
    except ValueError:
        raise wrong_credentials("the enc: password is not hex-encoded UTF-8") from None


async def authenticate(params: Params) -> User:
    """The user these parameters sign in, or the SubsonicError saying why not."""
    api_key = params.str("apiKey")
    username = params.str("u")
    password = params.str("p")
    token, salt = params.str("t"), params.str("s")
    client = params.str("c")
    if api_key is not None:
        if username is not None or password is not None or token is not None:
            raise SubsonicError(SubsonicError.CONFLICTING_MECHANISMS,
                                "multiple conflicting authentication mechanisms provided "
                                "(apiKey goes without u, p and t)")
        return await _by_api_key(api_key, client)
    if not username:
        raise missing("u")
    if password is not None and token is not None:
        raise SubsonicError(SubsonicError.CONFLICTING_MECHANISMS,
                            "multiple conflicting authentication mechanisms provided (p and t)")
    if token is not None:
        if not salt:
            raise missing("s")
        return await _by_token(username, token, salt, client)
    if password is None:
        raise missing("p")
    return await _by_password(username, decode_password(password), client)


def _throttle_key(username: str):
    throttle = sign_in_throttle()
    return throttle, throttle.key(username, request.remote_addr)


def _check_not_blocked(username: str) -> None:
    throttle, key = _throttle_key(username)
    if throttle.retry_after(key) > 0:
        raise wrong_credentials("too many failed sign-ins; try again later")


async def _by_api_key(api_key: str, client: str | None) -> User:
    _check_not_blocked("\x00apikey")
    row = await app_passwords.by_api_key(api_key)
    if row is None or row.user.is_guest:
        throttle, key = _throttle_key("\x00apikey")
        throttle.record_failure(key)
        raise SubsonicError(SubsonicError.INVALID_API_KEY, "invalid API key", help_url())
    await app_passwords.note_use(row, client)
    return row.user


async def _user_named(username: str) -> User | None:
    return (await User.get_or_none(username=username)
            or await User.filter(username__iexact=username).first())


async def _by_token(username: str, token: str, salt: str, client: str | None) -> User:
    _check_not_blocked(username)
    user = await _user_named(username)
    candidates = await app_passwords.opened_for(user) if user and not user.is_guest else []
    match = app_passwords.matching_token(candidates, token, salt)
    if match is None:
        throttle, key = _throttle_key(username)
        throttle.record_failure(key)
        if not candidates:
            raise SubsonicError(SubsonicError.TOKEN_NOT_SUPPORTED,
                                "token authentication needs an app password: create one on "
                                "the account page and use it in this app", help_url())
        raise wrong_credentials()
    throttle, key = _throttle_key(username)
    throttle.record_success(key)
    await app_passwords.note_use(match.row, client)
    return user


async def _by_password(username: str, password: str, client: str | None) -> User:
    _check_not_blocked(username)
    user = await _user_named(username)
    if user is not None and not user.is_guest:
        match = app_passwords.matching_password(await app_passwords.opened_for(user), password)
        if match is not None:
            await app_passwords.note_use(match.row, client)
            return user
    cached = _cached_sign_in(username, password)
    if cached is not None:
        user_id, password_hash = cached
        found = await User.get_or_none(id=user_id)
        # Only while the account still has the password hash it was checked against: a
        # changed password (here or on another instance) ends the remembered success.
        if found is not None and found.password_hash == password_hash:
            return found
    try:
        user = await sign_in(username, password, request.remote_addr)
    except MediahubError:
        raise wrong_credentials() from None
    _remember_sign_in(username, password, str(user.id), user.password_hash)
    return user


def _cache() -> dict:
    return current_app.extensions.setdefault("mediahub_subsonic_api.sign_ins", {})


def _cache_key(username: str, password: str) -> str:
    material = f"{username.casefold()}\x00{password}".encode("utf-8")
    return hmac.new(current_host().secret_key, b"subsonic-sign-in:" + material,
                    hashlib.sha256).hexdigest()


def _cached_sign_in(username: str, password: str) -> tuple[str, str] | None:
    """(user id, the password hash it was checked against) of a recent success, or None."""
    entry = _cache().get(_cache_key(username, password))
    if entry is None or entry[2] < time.monotonic():
        return None
    return entry[0], entry[1]


def _remember_sign_in(username: str, password: str, user_id: str, password_hash: str) -> None:
    cache = _cache()
    now = time.monotonic()
    if len(cache) >= SIGN_IN_CACHE_SIZE:
        for key in [k for k, (*_, expiry) in cache.items() if expiry < now] or list(cache)[:100]:
            cache.pop(key, None)
    cache[_cache_key(username, password)] = (user_id, password_hash, now + SIGN_IN_CACHE_SECONDS)
