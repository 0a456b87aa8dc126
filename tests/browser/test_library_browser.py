"""The /library page on two devices of one user: live changes, playlists, and deletions that stick."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
LIVE_WAIT_MS = 5_000  # a bound on waiting, not a speed claim: the server pushes at once


def register(url: str, username: str) -> None:
    request = urllib.request.Request(
        f"{url}/api/auth/register", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": username, "password": PASSWORD}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def signed_in_device(browser, url: str, username: str):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
    return context, page


def open_library(page, url: str) -> None:
    page.goto(url + "/library")
    expect(page.locator("#library-live")).to_have_text("live")
    expect(page.locator("#library-version")).not_to_have_attribute("data-version", "")


# The page asks for no ids: favorites and playlist songs are added where tracks are listed (the
# Music pages' ♥ and ⋯, other apps). These do what those do: a PUT of the section, one more item.
ADD_FAVORITE = """([id, title]) => fetch('/api/me/library').then(r => r.json()).then(lib =>
    mediahub.fetch('/api/me/favorites', {method: 'PUT', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({since: lib.version, favorites: [
        {videoId: id, title: title, addedAt: new Date().toISOString()}].concat(lib.favorites)})}))
    .then(r => { if (!r.ok) throw new Error('PUT favorites: ' + r.status); })"""
ADD_SONG = """([name, id, title]) => fetch('/api/me/library').then(r => r.json()).then(lib => {
    const list = lib.playlists.find(p => p.name === name);
    list.songs = (list.songs || []).concat([{videoId: id, title: title, addedAt: new Date().toISOString()}]);
    return mediahub.fetch('/api/me/playlists', {method: 'PUT', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({since: lib.version, playlists: lib.playlists})});
  }).then(r => { if (!r.ok) throw new Error('PUT playlists: ' + r.status); })"""


def add_favorite(page, video_id: str, title: str) -> None:
    page.evaluate(ADD_FAVORITE, [video_id, title])
    expect(page.locator("#favorites")).to_contain_text(title, timeout=LIVE_WAIT_MS)


def add_song(page, playlist: str, video_id: str, title: str) -> None:
    page.evaluate(ADD_SONG, [playlist, video_id, title])


def test_two_devices_share_changes_live_and_a_deletion_does_not_come_back(browser, live_server):
    register(live_server, "two-devices")
    laptop_context, laptop = signed_in_device(browser, live_server, "two-devices")
    phone_context, phone = signed_in_device(browser, live_server, "two-devices")
    try:
        open_library(laptop, live_server)
        open_library(phone, live_server)
        expect(laptop.get_by_role("link", name="Library")).to_be_visible()

        add_favorite(laptop, "song-a", "Song A")
        add_favorite(laptop, "song-b", "Song B")
        expect(phone.locator("#favorites")).to_contain_text("Song A", timeout=LIVE_WAIT_MS)
        expect(phone.locator("#favorites")).to_contain_text("Song B", timeout=LIVE_WAIT_MS)

        # A playlist made on the phone, filled and reordered on the laptop.
        phone.get_by_label("Playlist name").fill("Road trip")
        phone.get_by_role("button", name="Create playlist").click()
        expect(laptop.get_by_role("heading", name="Road trip")).to_be_visible(timeout=LIVE_WAIT_MS)
        for video_id, title in [("s1", "First"), ("s2", "Second")]:
            add_song(laptop, "Road trip", video_id, title)
            expect(laptop.get_by_role("list", name="Songs of Road trip")).to_contain_text(
                title, timeout=LIVE_WAIT_MS)
        laptop.get_by_role("button", name="Move Second up").click()
        phone_songs = phone.get_by_role("list", name="Songs of Road trip").get_by_role("listitem")
        expect(phone_songs).to_have_count(2, timeout=LIVE_WAIT_MS)
        expect(phone_songs.first).to_contain_text("Second", timeout=LIVE_WAIT_MS)
        phone.get_by_label("New name for Road trip").fill("Long drive")
        phone.get_by_role("button", name="Rename").click()
        expect(laptop.get_by_role("heading", name="Long drive")).to_be_visible(timeout=LIVE_WAIT_MS)
        laptop.get_by_role("button", name="Remove First from Long drive").click()
        expect(phone.get_by_role("list", name="Songs of Long drive").get_by_role("listitem")) \
            .to_have_count(1, timeout=LIVE_WAIT_MS)

        # The phone goes away still holding Song A; the laptop removes it meanwhile.
        phone.close()
        laptop.get_by_role("button", name="Remove Song A from favorites").click()
        expect(laptop.locator("#favorites")).not_to_contain_text("Song A")
        laptop_version = laptop.locator("#library-version").get_attribute("data-version")

        # Back on the phone: its stale copy is synced, and Song A stays deleted everywhere.
        phone = phone_context.new_page()
        phone.goto(live_server + "/library")
        expect(phone.locator("#library-version")).to_have_attribute("data-version", laptop_version)
        expect(phone.locator("#favorites")).to_contain_text("Song B")
        expect(phone.locator("#favorites")).not_to_contain_text("Song A")
        server_copy = laptop.evaluate("fetch('/api/me/library').then(r => r.json())")
        assert [f["videoId"] for f in server_copy["favorites"]] == ["song-b"]
        expect(laptop.locator("#favorites")).not_to_contain_text("Song A")
    finally:
        laptop_context.close()
        phone_context.close()


def test_library_page_fits_a_phone(browser, live_server):
    register(live_server, "phone-user")
    context, page = signed_in_device(browser, live_server, "phone-user")
    try:
        page.set_viewport_size({"width": 375, "height": 740})
        open_library(page, live_server)
        # Nothing on the page asks for an id; it says where things are added instead.
        assert page.get_by_label("Video id").count() == 0
        expect(page.locator("#favorites-how")).to_be_visible()
        add_favorite(page, "a-very-long-video-identifier-without-spaces-0123456789", "A song")
        expect(page.locator("#favorites")).to_contain_text("A song")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
