"""The host's own pages: home, sign-in forms, health check, and the layout every page extends."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, Response, jsonify, redirect, render_template, request, websocket
from quart_schema import document_response
from tortoise import connections

from mediahub import accounts, auth, passwords
from mediahub.errors import MediahubError, NotFound
from mediahub.errors_http import render_error_page
from mediahub.host import current_host
from mediahub.openapi import html_page
from mediahub.security_headers import RESOURCE_POLICY, page_policy

log = logging.getLogger("mediahub.pages")

blueprint = Blueprint("pages", __name__)

HEALTH_TIMEOUT = 5.0
# Longer than any file name (or path) the filesystem takes: os.stat would raise
# ENAMETOOLONG, which Quart's static handler turns into a 500 instead of a 404.
MAX_FILE_NAME_BYTES = 255
MAX_STATIC_PATH_BYTES = 1024


def safe_next(target: object, default: str = "/") -> str:
    """A same-site path to go to after signing in; anything else (another site) -> default."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2048:
        return default
    # "//evil.example" and "/\\evil.example" are read by browsers as another host.
    if target.startswith(("//", "/\\")) or any(ord(ch) < 0x20 or ch == "\\" for ch in target):
        return default
    return target


def flatten_nav_items(results: list[Any]) -> list[dict[str, str]]:
    """Every plugin's list of links, in plugin order, keeping only well-formed ones."""
    items = []
    for result in results:
        for item in result if isinstance(result, (list, tuple)) else [result]:
            if not isinstance(item, dict):
                continue
            label, href = item.get("label"), item.get("href")
            if isinstance(label, str) and isinstance(href, str) and label and href:
                items.append({"label": label, "href": href})
    return items


@blueprint.app_context_processor
async def layout_context() -> dict[str, Any]:
    """What base.html needs on every render: the site menu and the host's settings."""
    await auth.current_user()  # sets request.mediahub_user for the nav hook
    results = await current_host().plugins.call_hook("register_nav_items", request=request)
    host_settings = current_host().settings
    return {
        "nav_items": flatten_nav_items(results),
        "allow_signup": host_settings.auth.allow_signup,
        "allow_guests": host_settings.auth.allow_guests,
    }


# No page, id or file has a NUL character in its name, and PostgreSQL even refuses to compare
# one (a lookup by such an id failed with a 500): a path holding one is a 404 up front.
@blueprint.before_app_request
async def refuse_nul_in_request_path() -> None:
    if "\x00" in request.path:
        raise NotFound("no such page")


@blueprint.before_app_websocket
async def refuse_nul_in_websocket_path() -> None:
    if "\x00" in websocket.path:
        raise NotFound("no such page")


@blueprint.before_app_request
async def refuse_impossible_static_paths() -> None:
    """Static file names no filesystem can hold are simply not found (every plugin's static too)."""
    endpoint = request.endpoint or ""
    if endpoint != "static" and not endpoint.endswith(".static"):
        return
    filename = str((request.view_args or {}).get("filename", ""))
    encoded = filename.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_STATIC_PATH_BYTES or any(
            len(part) > MAX_FILE_NAME_BYTES for part in encoded.split(b"/")):
        raise NotFound("no such file")


@blueprint.after_app_request
async def page_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Pages hold per-visitor CSRF tokens and must not be framed by another site.
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        policy = getattr(current_host(), "page_policy", None) or page_policy()
        response.headers.setdefault("Content-Security-Policy", policy)
    elif not is_static_file():
        # JSON, playlists, QR codes: opened on their own, they run and load nothing.
        response.headers.setdefault("Content-Security-Policy", RESOURCE_POLICY)
    return response


def is_static_file() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


async def render_form(template: str, status: int = 200, **context: Any) -> Response:
    body = await render_template(template, password_min=passwords.PASSWORD_MIN, **context)
    return Response(body, status=status, mimetype="text/html")


# -- health -------------------------------------------------------------------------------


class Health(BaseModel):
    status: str
    database: str


@blueprint.get("/healthz")
@document_response(Health, 200)
@document_response(Health, 503)
async def healthz() -> Response:
    """The server answers and its database runs queries."""
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"),
                               HEALTH_TIMEOUT)
        status, database = 200, "ok"
    except Exception as exc:  # any failure here means "not healthy", never a 500
        log.warning("health check: database unavailable: %r", exc)
        status, database = 503, "unavailable"
    body = {"status": "ok" if status == 200 else "unavailable", "database": database}
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


# -- home + sign-in pages -----------------------------------------------------------------


@blueprint.get("/")
@html_page
async def home() -> Response:
    return await render_form("home.html")


@blueprint.route("/login", methods=["GET", "POST"])
@html_page
async def login() -> Response:
    form = await request.form if request.method == "POST" else {}
    next_path = safe_next(form.get("next") or request.args.get("next"))
    if request.method == "GET":
        if await auth.current_user() is not None:
            return redirect(next_path)
        return await render_form("login.html", next=next_path)
    username = form.get("username", "")
    try:
        user = await auth.sign_in(username, form.get("password", ""), request.remote_addr)
    except MediahubError as exc:
        return await render_form("login.html", status=exc.status, next=next_path,
                                 username=username, error=exc.message)
    return await auth.start_web_session(redirect(next_path, 303), user)


@blueprint.route("/signup", methods=["GET", "POST"])
@html_page
async def signup() -> Response:
    form = await request.form if request.method == "POST" else {}
    next_path = safe_next(form.get("next") or request.args.get("next"))
    if not current_host().settings.auth.allow_signup:
        return await render_form("signup.html", status=403, next=next_path, closed=True)
    if request.method == "GET":
        return await render_form("signup.html", next=next_path)
    username = form.get("username", "")
    try:
        user = await auth.create_user(username, form.get("password", ""),
                                      display_name=form.get("display_name") or None)
    except MediahubError as exc:
        return await render_form("signup.html", status=exc.status, next=next_path,
                                 username=username, error=exc.message)
    return await auth.start_web_session(redirect(next_path, 303), user)


@blueprint.post("/guest")
@html_page
async def guest() -> Response:
    form = await request.form
    next_path = safe_next(form.get("next"))
    if not current_host().settings.auth.allow_guests:
        return await render_error_page(403, "Guests are not allowed",
                                       "This server does not accept guest visitors. "
                                       "Sign up or sign in instead.")
    try:
        user = await auth.create_guest(form.get("display_name") or None)
    except MediahubError as exc:
        return await render_error_page(exc.status, "Could not continue as guest", exc.message)
    return await auth.start_web_session(redirect(next_path, 303), user)


@blueprint.route("/logout", methods=["GET", "POST"])
@html_page
async def logout() -> Response:
    if request.method == "GET":
        if await auth.current_user() is None:
            return redirect("/")
        return await render_form("logout.html")
    return await auth.end_web_session(redirect("/", 303))


@blueprint.route("/account/password", methods=["GET", "POST"])
@html_page
async def change_password() -> Response:
    """Change one's own password; every other device and app is signed out."""
    user = await auth.current_user()
    if user is None:
        return redirect(f"/login?next={request.path}")
    if user.is_guest:
        return await render_form("password.html", status=403, guest=True)
    if request.method == "GET":
        return await render_form("password.html")
    form = await request.form
    new_password = form.get("new_password", "")
    if new_password != form.get("confirm_password", ""):
        return await render_form("password.html", status=400,
                                 error="the two new passwords are not the same")
    try:
        await accounts.change_password(user, form.get("current_password", ""), new_password,
                                       request.remote_addr)
    except MediahubError as exc:
        return await render_form("password.html", status=exc.status, error=exc.message)
    # This browser stays signed in with a fresh session; every other one was closed.
    return await auth.start_web_session(await render_form("password.html", changed=True), user)
