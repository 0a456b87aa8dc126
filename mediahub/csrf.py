"""CSRF protection for browser requests that carry the session cookie.

Any state-changing request (not GET/HEAD/OPTIONS) that a browser makes with the session
cookie must carry the session's CSRF token: in the `X-CSRF-Token` header (fetch, file
uploads: the body is never read for it), in a hidden `csrf_token` field of an urlencoded
HTML form, or, for a multipart form without JavaScript, in the `csrf_token` query parameter.
Anonymous HTML forms (login, sign-up, guest) carry a token tied to a separate cookie, so
another site cannot sign a visitor into an account it controls. Requests with an
`Authorization` header are exempt: browsers never attach one on their own.
"""

from __future__ import annotations

import hmac

from quart import Response, current_app, g, request

from mediahub import tokens
from mediahub.errors_http import error_response, render_error_page
from mediahub.host import current_host
from mediahub.viewer import SAFE_METHODS, current_viewer

ANONYMOUS_CSRF_COOKIE = "mediahub_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Signing out without a session changes nothing, so a stale logout form must still work.
ANONYMOUS_CSRF_EXEMPT = frozenset({"pages.logout"})


def token_in_body(view):
    """Mark a route whose credential travels in the form itself (a seed client's `token` field).

    A forged cross-site form cannot know that token, so a cookie-less post to such a route
    needs no CSRF token; with a cookie session the usual check still applies.
    """
    view.mediahub_token_in_body = True
    return view


def anonymous_exempt() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return request.endpoint in ANONYMOUS_CSRF_EXEMPT or getattr(view, "mediahub_token_in_body", False)


def anonymous_csrf_token(cookie_value: str) -> str:
    key = current_host().secret_key
    return hmac.new(key, b"anonymous-csrf:" + cookie_value.encode(), "sha256").hexdigest()


def csrf_token() -> str:
    """The token this viewer's forms must echo (templates call it for the hidden input)."""
    viewer = g.get("_mediahub_viewer")
    if viewer is not None and viewer.session is not None:
        return viewer.session.csrf_token
    cookie = request.cookies.get(ANONYMOUS_CSRF_COOKIE) or g.get("_mediahub_new_csrf_cookie")
    if not tokens.usable_secret(cookie):
        cookie = tokens.new_secret()
        g._mediahub_new_csrf_cookie = cookie
    return anonymous_csrf_token(cookie)


def is_form_post() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


async def supplied_csrf_token() -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    # Only urlencoded forms are read here: they are small, and a multipart body may be an
    # upload that its route must stream.
    if request.mimetype == "application/x-www-form-urlencoded":
        value = (await request.form).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    if request.mimetype == "multipart/form-data":
        return request.args.get(CSRF_FIELD)
    return None


async def csrf_refusal() -> Response | None:
    """None when the request may proceed, else the 403 to send instead."""
    if request.method in SAFE_METHODS:
        return None
    viewer = await current_viewer()
    if viewer.via == "bearer":
        return None
    if viewer.session is not None:
        expected = viewer.session.csrf_token
    elif is_form_post() and not anonymous_exempt():
        cookie = tokens.usable_secret(request.cookies.get(ANONYMOUS_CSRF_COOKIE))
        expected = anonymous_csrf_token(cookie) if cookie else None
    else:
        return None  # no ambient credential a forged request could borrow
    supplied = await supplied_csrf_token()
    if expected and supplied and hmac.compare_digest(expected.encode(), supplied.encode()):
        return None
    message = "missing or wrong CSRF token; reload the page and try again"
    if is_form_post() and not request.path.startswith("/api/"):
        return await render_error_page(403, "This form has expired", message)
    return error_response(403, "csrf_failed", message)


def new_anonymous_cookie() -> str | None:
    """The anonymous CSRF cookie minted while rendering this response, if any."""
    return g.get("_mediahub_new_csrf_cookie")
