"""The account page for Subsonic apps: create, name, see the last use of, and revoke app passwords."""

from __future__ import annotations

from quart import Blueprint, redirect, render_template, request

from mediahub import BadRequest, Forbidden, current_host, current_user, html_page, require_user

from mediahub_subsonic_api import app_passwords
from mediahub_subsonic_api.credentials import APP_PASSWORDS_PATH

blueprint = Blueprint("subsonic_pages", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/account/subsonic/static")


def server_address() -> str:
    public = (current_host().settings.server.public_url or "").rstrip("/")
    return public or request.host_url.rstrip("/")


async def account_user():
    user = await current_user()
    if user.is_guest:
        raise Forbidden("guest accounts cannot connect apps; sign up for an account",
                        code="guest_not_allowed")
    return user


async def page(user, *, created=None, created_password=None, error=None, status=200):
    rows = await app_passwords.listed(user)
    body = await render_template("subsonic/app_passwords.html", rows=rows, created=created,
                                 created_password=created_password, error=error,
                                 server=server_address(), username=user.username,
                                 max_name=app_passwords.NAME_MAX)
    return body, status, {"Cache-Control": "no-store"}


@blueprint.get(APP_PASSWORDS_PATH)
@html_page
@require_user
async def app_passwords_page():
    """Your app passwords for Subsonic apps (DSub, Symfonium, Feishin, ...)."""
    return await page(await account_user())


@blueprint.post(APP_PASSWORDS_PATH)
@html_page
@require_user
async def create_app_password():
    """Create an app password; the page shows it once."""
    user = await account_user()
    form = await request.form
    try:
        row, password = await app_passwords.create(user, form.get("name"))
    except BadRequest as error:
        return await page(user, error=error.message, status=400)
    return await page(user, created=row, created_password=password)


@blueprint.post(f"{APP_PASSWORDS_PATH}/<int:password_id>/revoke")
@html_page
@require_user
async def revoke_app_password(password_id: int):
    """Revoke one of your app passwords: apps using it are signed out at their next request."""
    user = await account_user()
    await app_passwords.revoke(user, password_id)
    return redirect(APP_PASSWORDS_PATH, 303)
