"""Who is asking: a bearer token or a cookie session, resolved once per request or WebSocket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import wraps
from typing import Any, Awaitable
from urllib.parse import quote, urlsplit

from quart import (Response, current_app, g, has_request_context, has_websocket_context,
                   redirect, request, websocket)

from mediahub import tokens
from mediahub.errors import Unauthorized
from mediahub.host import current_host
from mediahub.models import User, WebSession

SESSION_COOKIE = "mediahub_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass
class Viewer:
    user: User | None = None
    via: str | None = None  # "bearer" | "cookie" | None
    session: WebSession | None = None
    # Stable for one sign-in across token refreshes: "token:<family>" or "session:<id>".
    sign_in: str | None = None


async def resolve_viewer(authorization: str | None, session_cookie: str | None,
                         query_token: str | None = None) -> Viewer:
    """Bearer header first (and then only it), else the cookie session.

    A request that sends an Authorization header is judged by it alone: falling back to
    the cookie would let a bad header turn a cookie request into a CSRF-exempt one.
    """
    if authorization is not None:
        scheme, _, secret = authorization.partition(" ")
        token = await tokens.access_token(secret) if scheme.lower() == "bearer" else None
        return token_viewer(token)
    if query_token is not None:
        return token_viewer(await tokens.access_token(query_token))
    session = await tokens.web_session_for(session_cookie)
    if session is not None:
        return Viewer(session.user, "cookie", session, f"session:{session.id}")
    return Viewer()


def token_viewer(token) -> Viewer:
    if token is None:
        return Viewer(None, "bearer")
    return Viewer(token.user, "bearer", None, f"token:{token.family}")


async def current_viewer() -> Viewer:
    viewer = g.get("_mediahub_viewer")
    if viewer is None:
        if has_request_context():
            viewer = await resolve_viewer(request.headers.get("Authorization"),
                                          request.cookies.get(SESSION_COOKIE))
            request.mediahub_user = viewer.user
        elif has_websocket_context():
            # Browsers cannot set headers on a WebSocket: a token may come in the query.
            # Any site can open a WebSocket to us with the visitor's cookie attached (no
            # CORS, no SameSite for same-site subdomains): the cookie counts only when the
            # page that opened it is ours.
            cookie = websocket.cookies.get(SESSION_COOKIE)
            if not same_origin(websocket.headers.get("Origin"), websocket.headers.get("Host")):
                cookie = None
            viewer = await resolve_viewer(websocket.headers.get("Authorization"), cookie,
                                          websocket.args.get("access_token"))
            websocket.mediahub_user = viewer.user
        else:
            viewer = Viewer()
        g._mediahub_viewer = viewer
    return viewer


def same_origin(origin: str | None, host: str | None) -> bool:
    """Whether a browser's Origin header names this server (its Host, or the public URL)."""
    if origin is None:
        return True  # not a browser: nothing ambient to abuse
    netloc = urlsplit(origin).netloc.lower()
    public_url = current_host().settings.server.public_url or ""
    allowed = {(host or "").lower(), urlsplit(public_url).netloc.lower()} - {""}
    return netloc in allowed


async def current_user() -> User | None:
    """The signed-in user of this request or WebSocket, or None."""
    return (await current_viewer()).user


async def current_sign_in() -> str | None:
    """An id of the sign-in this request comes from, the same across token refreshes.

    One per login of a bearer client (its token family) or browser session; None when
    anonymous. A plugin can remember per device what it last told it, for clients that
    never say who they are (seed 002's library sync).
    """
    return (await current_viewer()).sign_in


def wants_html() -> bool:
    if not has_request_context() or request.path.startswith("/api/"):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def login_redirect() -> Response:
    target = request.full_path if request.query_string else request.path
    return redirect(f"/login?next={quote(target, safe='/')}")


# The WebSocket close code for "your sign-in was revoked" (4000-4999 are the application's,
# RFC 6455 7.4.2; 4401 reads as HTTP's 401, as graphql-ws uses it).
SIGNED_OUT_CLOSE_CODE = 4401


def require_user(view):
    """Only signed-in users (guests included): 401 JSON for APIs, /login for pages. A
    WebSocket is closed (4401, "signed out") as soon as its sign-in is revoked: a logout, a
    password change, a deleted account, on any instance."""
    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any):
        if await current_user() is None:
            if has_request_context() and request.method in SAFE_METHODS and wants_html():
                return login_redirect()
            raise Unauthorized("sign in first", headers={"WWW-Authenticate": "Bearer"})
        if has_websocket_context():
            return await run_until_signed_out(current_app.ensure_async(view)(*args, **kwargs))
        return await current_app.ensure_async(view)(*args, **kwargs)
    return wrapper


async def run_until_signed_out(handler: Awaitable[Any]) -> Any:
    """Run a WebSocket's handler until it ends, or until its sign-in is revoked: then the
    handler is cancelled (its own clean-up runs) and the socket closed with 4401."""
    viewer = await current_viewer()
    cache = getattr(current_host(), "signin_cache", None)
    if cache is None:
        return await handler
    task = asyncio.ensure_future(handler)  # a copy of this context: `websocket` still works
    revoked = False

    def on_revoked() -> None:
        nonlocal revoked
        revoked = True
        task.cancel()

    session = viewer.session
    family = viewer.sign_in.removeprefix("token:") if viewer.via == "bearer" else None
    stop_watching = cache.watch(viewer.user.id, on_revoked, family=family,
                                digest=session.session_hash if session is not None else None)
    try:
        return await task
    except asyncio.CancelledError:
        if not revoked or asyncio.current_task().cancelling():
            raise  # the connection itself went away
        await websocket.close(SIGNED_OUT_CLOSE_CODE, "signed out")
        return None
    finally:
        stop_watching()


# -- cookie sessions ----------------------------------------------------------------------


def session_ttl() -> int:
    return current_host().settings.auth.session_ttl


def cookie_secure() -> bool:
    public_url = current_host().settings.server.public_url or ""
    return request.scheme == "https" or public_url.startswith("https://")


async def start_web_session(response: Response, user: User) -> Response:
    """Sign the browser in: a fresh session id every time (no session fixation)."""
    await tokens.close_web_session(request.cookies.get(SESSION_COOKIE))
    cookie, _ = await tokens.open_web_session(user, session_ttl())
    response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="Lax",
                        secure=cookie_secure(), max_age=session_ttl())
    return response


async def end_web_session(response: Response) -> Response:
    await tokens.close_web_session(request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="Lax")
    return response
