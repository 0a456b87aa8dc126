"""The upload page and the library player in Chromium: upload, watch it process, play it with hls.js."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.support.browser import launch_chromium
from tests.support.hls import make_tone

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def autoplay_browser():
    with launch_chromium(["--autoplay-policy=no-user-gesture-required"]) as chromium:
        yield chromium


def register(url: str, username: str) -> None:
    request = urllib.request.Request(
        f"{url}/api/auth/register", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": username, "password": PASSWORD}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def test_upload_process_and_play_a_track(autoplay_browser, live_server, tmp_path):
    register(live_server, "uploader")
    tone = make_tone(tmp_path / "browser-tone.mp3", 15, title="Browser Tone", artist="Chromium")
    context = autoplay_browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(live_server + "/login")
        page.get_by_label("Username").fill("uploader")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(live_server + "/")

        page.goto(live_server + "/tracks/upload")
        page.get_by_label("Audio file").set_input_files(str(tone))
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("status")).to_have_text("Ready — it is in your tracks.", timeout=90_000)
        assert page.locator("#upload-progress").evaluate("bar => bar.value") == 100
        assert page.locator("#processing-progress").evaluate("bar => bar.value") == 100
        expect(page.get_by_role("alert")).to_be_hidden()

        page.goto(live_server + "/tracks")
        row = page.locator("#tracks li", has_text="Browser Tone — Chromium")
        expect(row).to_contain_text("ready")
        row.get_by_role("button", name="Play").click()
        expect(page.locator("#now-playing")).to_have_text("Playing Browser Tone — Chromium")
        page.wait_for_function("() => document.getElementById('player').currentTime > 1.5", timeout=30_000)
        assert page.evaluate("document.getElementById('player').error") is None
    finally:
        context.close()
