"""The thread page in Chromium: record from a (fake) microphone, send with progress, play and seek."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.support.browser import launch_chromium

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def media_browser():
    """Chromium whose microphone is Chromium's own fake device (a beeping tone)."""
    with launch_chromium(MEDIA_ARGS) as chromium:
        yield chromium


def register(url: str, username: str) -> None:
    request = urllib.request.Request(
        f"{url}/api/auth/register", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": username, "password": PASSWORD}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def test_record_send_play_and_seek_a_render(media_browser, live_server):
    register(live_server, "recorder")
    context = media_browser.new_context(viewport={"width": 390, "height": 800})
    context.grant_permissions(["microphone"], origin=live_server)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(live_server + "/login")
        page.get_by_label("Username").fill("recorder")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(live_server + "/")

        page.goto(live_server + "/threads")
        page.get_by_label("Title").fill("Jam session")
        page.get_by_role("button", name="Create thread").click()
        page.wait_for_url(live_server + "/threads/*")
        expect(page.get_by_role("heading", name="Jam session")).to_be_visible()

        page.get_by_role("button", name="Record").click()
        expect(page.locator("#record-status")).to_have_text("Recording…")
        page.wait_for_timeout(2500)  # let the fake microphone produce ~2.5 s of sound
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#record-status")).to_contain_text("Recorded")

        page.get_by_role("textbox", name="Message").fill("first take")
        page.get_by_role("button", name="Send").click()
        player = page.locator("#messages .render-player")
        expect(player).to_have_count(1)
        expect(page.locator("#record-status")).to_have_text("Sent")
        expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
        expect(page.locator("#messages")).to_contain_text("first take")
        expect(page.locator("#composer-error")).to_be_hidden()

        # The server measured the recording and drew its waveform.
        expect(player.locator(".time")).not_to_have_text("0:00 / 0:00")
        assert player.locator("canvas").evaluate("c => c.width") > 0

        player.get_by_role("button", name="Play").click()
        expect(player).to_have_attribute("data-state", "playing")
        player.get_by_role("button", name="Pause").click()
        expect(player).to_have_attribute("data-state", "paused")

        # Drag the seek bar's knob to about three quarters of the way.
        seek = player.get_by_role("slider", name="Seek")
        box = seek.bounding_box()
        page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
        page.wait_for_function(
            "el => parseFloat(el.dataset.position || '0') > 1.0", arg=player.element_handle())
        player.get_by_role("button", name="Play").click()
        expect(player).to_have_attribute("data-state", "playing")
    finally:
        context.close()
