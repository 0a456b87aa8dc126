"""Hostile input: HTML and script in every text field a server page renders."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from markupsafe import escape

from tests.support.hostile_input import SCRIPT, World, error_of, nothing_stored

pytestmark = pytest.mark.asyncio(loop_scope="package")


# Payloads that break out of text, of a double- and a single-quoted attribute, and of a tag.
MARKUP = {
    "script tag": SCRIPT,
    "attribute breakout": '"><img src=x onerror=alert(1)>',
    "single-quote breakout": "'><svg onload=alert(1)>",
    "closing title": "</title><script>alert(1)</script>",
}


def assert_escaped(page: str, payload: str) -> None:
    """The payload is on the page, but only escaped (`&lt;script&gt;`): no tag of it parses."""
    assert str(escape(payload)) in page
    assert payload not in page
    for tag in ("<script>alert", "<img src=x", "<svg onload", "</title><script>"):
        if tag in payload:
            assert tag not in page


async def page_of(world: World, path: str, who: dict, status: int = 200) -> str:
    response = await world.client.get(path, headers=who)
    text = (await response.get_data()).decode()
    assert response.status_code == status, text[:300]
    assert response.mimetype == "text/html"
    return text


@pytest.mark.parametrize("payload", MARKUP)
async def test_thread_title_on_the_thread_pages(world, payload):
    markup = MARKUP[payload]
    response = await world.client.post("/api/v1/threads", headers=world.alice,
                                       json={"title": markup, "is_private": True})
    thread = await response.get_json()
    assert thread["title"] == markup  # stored as typed: escaping is the page's job
    for path in ("/threads", f"/threads/{thread['id']}"):
        assert_escaped(await page_of(world, path, world.alice), markup)


@pytest.mark.parametrize("payload", MARKUP)
async def test_party_name_on_the_party_page(world, payload):
    markup = MARKUP[payload]
    party = await (await world.client.post("/api/parties", headers=world.alice,
                                           json={"name": markup})).get_json()
    assert party["name"] == markup
    for who in (world.alice, world.bob, {}):  # the host, a guest, someone not signed in
        page = await page_of(world, f"/party/{party['code']}", who)
        assert_escaped(page, markup)


@pytest.mark.parametrize("payload", MARKUP)
async def test_display_name_in_the_page_header(world, payload):
    markup = MARKUP[payload][:64]
    response = await world.client.post("/api/auth/guest", json={"display_name": markup})
    token = (await response.get_json())["access_token"]
    who = {"Authorization": f"Bearer {token}"}
    for path in ("/", "/party", "/threads", "/library", "/tracks", "/temp-upload"):
        assert_escaped(await page_of(world, path, who), markup)


@pytest.mark.parametrize("code", ["<script>", "<b>X<b>", "\"><svg", "'-alert(1)-'"])
async def test_unknown_party_code_echoed_on_the_page(world, code):
    page = await page_of(world, f"/party/{quote(code, safe='')}", world.bob, 404)
    assert_escaped(page, code)  # "No party with code <code>"


@pytest.mark.parametrize("username", ["<script>x", "a\"onmouseover=alert(1)", "../../etc", "a b", "x" * 33])
async def test_usernames_with_markup_are_refused(world, username):
    async with nothing_stored(world):
        response = await world.client.post("/api/auth/register", json={
            "username": username, "password": "correct horse battery"})
        await error_of(response, 400, "invalid_account")


async def anonymous_form_token(world: World, client, path: str) -> str:
    page = (await (await client.get(path)).get_data()).decode()
    marker = 'name="csrf-token" content="'
    return page[page.index(marker) + len(marker):].split('"', 1)[0]


@pytest.mark.parametrize("form", ["/signup", "/login"])
@pytest.mark.parametrize("payload", MARKUP)
async def test_form_pages_echo_the_username_escaped(world, form, payload):
    # A refused sign-up or sign-in shows the form again with what was typed.
    client = world.app.test_client()
    token = await anonymous_form_token(world, client, form)
    response = await client.post(form, form={"username": MARKUP[payload], "password": "x",
                                             "csrf_token": token})
    page = (await response.get_data()).decode()
    assert response.status_code == {"/signup": 400, "/login": 401}[form], page[:300]
    assert response.mimetype == "text/html"
    assert_escaped(page, MARKUP[payload])


# Fields that pages draw with JavaScript from JSON (message text, track title and artist,
# member names, playlist names): the server never writes them into HTML, and the scripts
# that draw them use textContent: tests/browser/test_hostile_markup_browser.py proves that;
# here: the API hands them back as JSON, never as a page.
async def test_fields_drawn_by_scripts_are_served_as_json_only(world):
    thread_id = world.thread["id"]
    response = await world.client.post(f"/api/v1/threads/{thread_id}/messages", headers=world.alice,
                                       json={"text": SCRIPT})
    message = await response.get_json()
    assert message["text"] == SCRIPT
    listed = await world.client.get(f"/api/v1/threads/{thread_id}/messages", headers=world.bob)
    assert listed.mimetype == "application/json"
    assert SCRIPT in [m["text"] for m in (await listed.get_json())["messages"]]
    assert SCRIPT not in await page_of(world, f"/threads/{thread_id}", world.bob)
    init = await hls_init_titled(world, SCRIPT)
    detail = await world.client.get(f"/api/tracks/{init['track_id']}", headers=world.carol)
    track = await detail.get_json()
    assert detail.mimetype == "application/json" and track["title"] == SCRIPT
    assert track["artist_name"] == SCRIPT
    assert SCRIPT not in await page_of(world, "/tracks", world.carol)
    response = await world.client.put("/api/me/playlists", headers=world.carol, json={"playlists": [
        {"id": "pl_markup", "name": SCRIPT}]})
    assert response.mimetype == "application/json"
    assert [p["name"] for p in (await response.get_json())["playlists"]] == [SCRIPT]
    assert SCRIPT not in await page_of(world, "/library", world.carol)
    # Clean up what this test made, so the other cases' snapshots stay meaningful.
    await world.client.delete(f"/api/v1/messages/{message['id']}", headers=world.alice)
    await world.client.delete(f"/api/tracks/{init['track_id']}", headers=world.carol)


async def hls_init_titled(world: World, text: str) -> dict:
    response = await world.client.post("/tracks/upload/init", headers=world.carol, json={
        "title": text, "artist_name": text, "file_extension": "mp3", "file_size": 10})
    assert response.status_code == 200
    return await response.get_json()


async def test_page_scripts_never_parse_server_text_as_html():
    # innerHTML / outerHTML / insertAdjacentHTML / document.write only ever get constant strings.
    root = Path(__file__).resolve().parents[2]
    scripts = [p for p in [*root.glob("static/*.js"), *root.glob("plugins/*/static/*.js")]
               if not p.name.endswith(".min.js")]
    assert len(scripts) >= 5
    sink = re.compile(r"(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write")
    constant = re.compile(r"(innerHTML|outerHTML)\s*=\s*'[^'+`$]*'\s*;?\s*$")
    for script in scripts:
        for number, line in enumerate(script.read_text().splitlines(), 1):
            match = sink.search(line)
            if match:
                assert constant.search(line), f"{script.name}:{number}: {line.strip()}"
