"""Accounts and sign-in for plugins and clients: the /api/auth routes and the app-wide hooks.

Plugins use `current_user()` and `@require_user`; templates get `viewer` and `csrf_token()`.
The pieces: passwords (hashing, rules, throttle), accounts (sign-up, guests, sign-in),
tokens (bearer, refresh, cookie sessions), viewer (who is asking), csrf.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, Response, jsonify, request
from quart_schema import document_request, document_response, security_scheme

from mediahub import passwords, tokens
from mediahub.accounts import change_password, create_guest, create_user, sign_in
from mediahub.csrf import ANONYMOUS_CSRF_COOKIE, csrf_refusal, csrf_token, new_anonymous_cookie
from mediahub.errors import BadRequest, Forbidden, Unauthorized
from mediahub.host import current_host
from mediahub.viewer import (SESSION_COOKIE, Viewer, cookie_secure, current_user,
                             current_viewer, end_web_session, require_user, start_web_session)

__all__ = ["api", "pages", "create_user", "create_guest", "sign_in", "current_user",
           "current_viewer", "require_user", "csrf_token", "start_web_session",
           "end_web_session", "Viewer"]

api = Blueprint("auth_api", __name__, url_prefix="/api/auth")
# Carries the app-wide request hooks (viewer, CSRF); the sign-in pages live in mediahub.pages.
pages = Blueprint("auth_pages", __name__)


def auth_settings():
    return current_host().settings.auth


@pages.before_app_request
async def identify_and_check_csrf():
    # Static files and the health check never need to know who asks (and the health
    # check must answer even when the database cannot).
    endpoint = request.endpoint or ""
    if endpoint in ("static", "pages.healthz") or endpoint.endswith(".static"):
        return None
    await current_viewer()
    return await csrf_refusal()


@pages.after_app_request
async def set_anonymous_csrf_cookie(response: Response) -> Response:
    cookie = new_anonymous_cookie()
    if cookie:
        response.set_cookie(ANONYMOUS_CSRF_COOKIE, cookie, httponly=True, samesite="Lax",
                            secure=cookie_secure(), max_age=auth_settings().session_ttl)
    return response


@pages.app_context_processor
async def auth_template_context() -> dict[str, Any]:
    return {"viewer": await current_user(), "csrf_token": csrf_token}


# -- /api/auth ----------------------------------------------------------------------------

_USERNAME_SCHEMA = {"minLength": passwords.USERNAME_MIN, "maxLength": passwords.USERNAME_MAX,
                    "pattern": passwords.USERNAME_PATTERN}


class Credentials(BaseModel):
    username: str = Field(json_schema_extra=_USERNAME_SCHEMA)
    password: str = Field(json_schema_extra={"minLength": passwords.PASSWORD_MIN,
                                             "maxLength": passwords.PASSWORD_MAX})


class Registration(Credentials):
    display_name: str | None = Field(None, max_length=passwords.DISPLAY_NAME_MAX)


class GuestRequest(BaseModel):
    display_name: str | None = Field(None, max_length=passwords.DISPLAY_NAME_MAX)


class RefreshRequest(BaseModel):
    refresh_token: str


class PasswordChange(BaseModel):
    current_password: str = Field(json_schema_extra={"maxLength": passwords.PASSWORD_MAX})
    new_password: str = Field(json_schema_extra={"minLength": passwords.PASSWORD_MIN,
                                                 "maxLength": passwords.PASSWORD_MAX})


class LogoutRequest(BaseModel):
    refresh_token: str | None = None


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    is_guest: bool
    is_admin: bool
    created_at: str | None


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    refresh_expires_in: int
    user: UserOut


async def json_body(model: type[BaseModel], *, optional: bool = False) -> BaseModel:
    """The JSON body as `model`; an absent body is allowed when `optional`."""
    raw = await request.get_data()
    if not raw.strip() and optional:
        return model()
    try:
        data = await request.get_json(force=True, silent=True)
    except (UnicodeDecodeError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_request")
    try:
        return model.model_validate(data)
    except ValueError as exc:
        errors = getattr(exc, "errors", lambda: [])()
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors)
        raise BadRequest(detail or "invalid request body", code="invalid_request") from None


class SignedOut(BaseModel):
    status: str


def optional_body(view):
    """The JSON body of this route may be left out (documented as not required)."""
    view.mediahub_optional_body = True
    return view


def token_response(pair: tokens.TokenPair, status: int = 200) -> Response:
    response = jsonify(pair.to_json())
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@api.post("/register")
@document_request(Registration)
@document_response(TokenPairOut, 201)
async def register() -> Response:
    """Create an account with a username and password, and sign it in."""
    body = await json_body(Registration)
    if not auth_settings().allow_signup:
        raise Forbidden("sign-ups are disabled on this server", code="signup_disabled")
    user = await create_user(body.username, body.password, display_name=body.display_name)
    return token_response(await tokens.issue_pair(user, auth_settings()), 201)


@api.post("/login")
@document_request(Credentials)
@document_response(TokenPairOut, 200)
async def login() -> Response:
    """Exchange a username and password for an access + refresh token pair."""
    body = await json_body(Credentials)
    user = await sign_in(body.username, body.password, request.remote_addr)
    return token_response(await tokens.issue_pair(user, auth_settings()))


@api.post("/guest")
@optional_body
@document_request(GuestRequest)
@document_response(TokenPairOut, 201)
async def guest() -> Response:
    """Create a guest account (no password) and sign it in; the body is optional."""
    body = await json_body(GuestRequest, optional=True)
    if not auth_settings().allow_guests:
        raise Forbidden("guest accounts are disabled on this server", code="guests_disabled")
    user = await create_guest(body.display_name)
    return token_response(await tokens.issue_pair(user, auth_settings()), 201)


@api.post("/token/refresh")
@document_request(RefreshRequest)
@document_response(TokenPairOut, 200)
async def refresh() -> Response:
    """Spend a refresh token for a new pair; reusing a spent one revokes its family."""
    body = await json_body(RefreshRequest)
    return token_response(await tokens.rotate_refresh_token(body.refresh_token, auth_settings()))


@api.get("/me")
@security_scheme([{"bearer": []}])
@document_response(UserOut, 200)
async def me() -> dict:
    """The signed-in user (bearer token or cookie session)."""
    user = await current_user()
    if user is None:
        raise Unauthorized("sign in first", headers={"WWW-Authenticate": "Bearer"})
    return tokens.user_json(user)


@api.post("/logout")
@security_scheme([{"bearer": []}])
@optional_body
@document_request(LogoutRequest)
@document_response(SignedOut, 200)
async def logout() -> Response:
    """Revoke the presented access token (its refresh token too), or end the cookie session."""
    body = await json_body(LogoutRequest, optional=True)
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    await tokens.revoke_tokens(secret if scheme.lower() == "bearer" else None, body.refresh_token)
    response = jsonify({"status": "signed_out"})
    if request.cookies.get(SESSION_COOKIE) and not header:
        await end_web_session(response)
    return response


@api.post("/password")
@security_scheme([{"bearer": []}])
@document_request(PasswordChange)
@document_response(TokenPairOut, 200)
async def password() -> Response:
    """Change the signed-in account's password (the current one is checked). Every token and
    browser session of the account is revoked; the answer is a fresh pair, and a browser
    that asked with its session cookie gets a fresh session too."""
    user = await current_user()
    if user is None:
        raise Unauthorized("sign in first", headers={"WWW-Authenticate": "Bearer"})
    body = await json_body(PasswordChange)
    await change_password(user, body.current_password, body.new_password, request.remote_addr)
    response = token_response(await tokens.issue_pair(user, auth_settings()))
    if request.cookies.get(SESSION_COOKIE) and not request.headers.get("Authorization"):
        await start_web_session(response, user)
    return response
