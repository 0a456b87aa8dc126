"""Accounts: sign-up with the name rules, guests, and password sign-in behind a failure throttle."""

from __future__ import annotations

import secrets

from quart import current_app, has_request_context, has_websocket_context, request, websocket
from tortoise.exceptions import IntegrityError

from mediahub import address_limits, passwords
from mediahub.errors import BadRequest, Conflict, Forbidden, TooManyRequests, Unauthorized
from mediahub.models import User


def login_throttle() -> passwords.FailureThrottle:
    # One per app, so two apps in one process (tests) never share counts.
    return current_app.extensions.setdefault("mediahub.login_throttle",
                                              passwords.FailureThrottle())


async def create_user(username: str, password: str, *, admin: bool = False,
                      display_name: str | None = None) -> User:
    """A new account; BadRequest names the broken rule, Conflict a name already taken."""
    problem = passwords.username_problem(username) or passwords.password_problem(password)
    if problem:
        raise BadRequest(problem, code="invalid_account")
    try:
        display = passwords.clean_display_name(display_name, username)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_account") from None
    if await User.filter(username__iexact=username).exists():
        raise Conflict(f"username {username!r} is taken", code="username_taken")
    password_hash = await passwords.hash_password(password)
    try:
        return await User.create(username=username, display_name=display,
                                 password_hash=password_hash, is_admin=admin)
    except IntegrityError:  # lost a race with another sign-up of the same name
        raise Conflict(f"username {username!r} is taken", code="username_taken") from None


def client_address() -> str | None:
    if has_request_context():
        return request.remote_addr
    if has_websocket_context():
        return websocket.remote_addr
    return None


def auth_settings():
    return current_app.extensions["mediahub"].settings.auth


async def create_guest(display_name: str | None = None) -> User:
    """A guest account; at most `[auth] guests_per_address_per_minute` from one network."""
    try:
        display = passwords.clean_display_name(display_name, "Guest")
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_account") from None
    ip = client_address()
    await address_limits.check("guest", ip, auth_settings().guests_per_address_per_minute,
                               "too many guest accounts from your network; wait a minute")
    for _ in range(5):
        try:
            user = await User.create(username=f"guest-{secrets.token_hex(5)}",
                                     display_name=display, is_guest=True)
        except IntegrityError:
            continue
        await address_limits.record("guest", ip)
        return user
    raise Conflict("could not pick a guest name; try again")


async def sign_in(username: object, password: object, ip: str | None) -> User:
    """The account these credentials open; one message for every failure, by design."""
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("username and password are required", code="invalid_credentials")
    throttle = login_throttle()
    key = throttle.key(username, ip)
    wait = throttle.retry_after(key)
    if wait > 0:
        raise TooManyRequests("too many failed sign-ins; try again later",
                              headers={"Retry-After": str(int(wait) + 1)})
    # Across usernames too: one address trying many names is as suspicious as one name.
    await address_limits.check("sign-in-failure", ip,
                               auth_settings().failed_sign_ins_per_address_per_minute,
                               "too many failed sign-ins from your network; try again later")
    plausible = (passwords.username_problem(username) is None
                 and len(password) <= passwords.PASSWORD_MAX and passwords.is_encodable(password))
    if not plausible:
        # No such account can exist; still spend one hash so timing tells nothing, but
        # keep arbitrary strings out of the throttle's memory.
        await passwords.verify_password(None, "")
        await address_limits.record("sign-in-failure", ip)
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    user = await find_user(username)
    ok, new_hash = await passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None:
        throttle.record_failure(key)
        await address_limits.record("sign-in-failure", ip)
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    throttle.record_success(key)
    if new_hash:
        user.password_hash = new_hash
        await user.save(update_fields=["password_hash"])
    return user


async def find_user(username: str) -> User | None:
    # Names are unique ignoring case; the exact spelling wins if a race ever made two.
    return (await User.get_or_none(username=username)
            or await User.filter(username__iexact=username).first())


async def delete_user(user_id: object) -> bool:
    """Delete an account (its tokens and sessions go with it), signed out on every instance
    at once; False if there was no such account."""
    from mediahub.tokens import revoke_user

    await revoke_user(user_id)  # not left to the database's cascade: every backend alike
    return bool(await User.filter(id=user_id).delete())


async def set_password(user: User, new_password: str) -> None:
    """Give an account a new password and sign it out everywhere: every token, every browser
    session, on every instance (a running server that misses the bus message, or one a CLI
    command cannot reach, stops accepting them within `[auth] sign_in_cache_seconds`)."""
    from mediahub.tokens import revoke_user

    if user.is_guest:
        raise Forbidden("a guest account has no password; sign up for an account instead",
                        code="guest_account")
    problem = passwords.password_problem(new_password)
    if problem:
        raise BadRequest(problem, code="invalid_password")
    user.password_hash = await passwords.hash_password(new_password)
    await User.filter(id=user.id).update(password_hash=user.password_hash)
    await revoke_user(user.id)


async def change_password(user: User, current_password: object, new_password: object,
                          ip: str | None) -> None:
    """The signed-in user's own change: the current password is checked like a sign-in
    (the same throttles), so a stolen session alone cannot lock the owner out."""
    if user.is_guest:
        raise Forbidden("a guest account has no password; sign up for an account instead",
                        code="guest_account")
    if not isinstance(new_password, str):
        raise BadRequest("the new password is required", code="invalid_password")
    try:
        await sign_in(user.username, current_password, ip)
    except Unauthorized:
        raise Unauthorized("the current password is wrong", code="invalid_credentials") from None
    except BadRequest:
        raise BadRequest("the current password is required", code="invalid_credentials") from None
    await set_password(user, new_password)
