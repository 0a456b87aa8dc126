"""Markup typed into fields that pages draw with JavaScript is shown as text and never runs (issue 8).

The server pages escape what they render themselves (tests/hostile_input/); message
texts, track titles and artists, playlist and favorite names and party guests' names are
drawn in the browser from JSON. Here Chromium draws them, and nothing of the payload runs.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
# Runs if it is ever parsed as HTML: an <img> whose error handler counts the hits.
PAYLOAD = '<img src=x onerror="window.__pwned=(window.__pwned||0)+1">'


def api(url: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")


def assert_drawn_as_text(page, where: str) -> None:
    """The payload is visible as text inside `where`, and no part of it became an element."""
    expect(page.locator(where)).to_contain_text(PAYLOAD)
    assert page.locator(f'{where} img[src="x"]').count() == 0
    assert page.evaluate("window.__pwned") is None


def test_markup_in_script_drawn_fields_never_runs(page, live_server):
    url = live_server
    token = api(url, "POST", "/api/auth/register", {"username": "marked", "password": PASSWORD})["access_token"]
    thread = api(url, "POST", "/api/v1/threads", {"title": "plain", "is_private": True}, token)
    api(url, "POST", f"/api/v1/threads/{thread['id']}/messages", {"text": PAYLOAD}, token)
    api(url, "POST", "/tracks/upload/init", {"title": PAYLOAD, "artist_name": PAYLOAD,
                                             "file_extension": "mp3", "file_size": 10}, token)
    api(url, "PUT", "/api/me/playlists", {"playlists": [{"id": "pl_x", "name": PAYLOAD}]}, token)
    api(url, "PUT", "/api/me/favorites", {"favorites": [
        {"videoId": "v1", "title": PAYLOAD, "artist": PAYLOAD, "addedAt": "2025-01-01T00:00:00Z"}]}, token)
    party = api(url, "POST", "/api/parties", {"name": "plain"}, token)
    guest = api(url, "POST", "/api/auth/guest", {"display_name": "g"})["access_token"]
    api(url, "POST", f"/api/parties/{party['code']}/join", {"display_name": PAYLOAD}, guest)

    sign_in(page, url, "marked")
    page.goto(f"{url}/threads/{thread['id']}")
    assert_drawn_as_text(page, "#messages")
    page.goto(f"{url}/tracks")
    assert_drawn_as_text(page, "#tracks")
    page.goto(f"{url}/library")
    assert_drawn_as_text(page, "#playlists")
    assert_drawn_as_text(page, "#favorites")
    page.goto(f"{url}/party/{party['code']}")
    assert_drawn_as_text(page, "#guest-list")
