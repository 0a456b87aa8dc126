"""The host searches the music collection from the party's track picker (source `collection`,
offered by the music-library plugin through listen-party's track-source hooks) and plays what it finds."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from mediahub import ffmpeg_path
from tests.support.browser import launch_chromium, sign_in_and_start_party
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SONGS = [("Sigur Rós/Takk/1.mp3", "Glósóli", "Sigur Rós"), ("Sigur Rós/Takk/2.mp3", "Hoppípolla", "Sigur Rós"),
         ("Other/3.mp3", "Hope There's Someone", "Antony"), ("Other/4.mp3", "Formation", "Beyoncé")]


def post(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, method="POST", headers=headers, data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def collection_server(tmp_path_factory):
    """`mediahub serve` over a scanned folder of four short tagged tracks, one account."""
    root = tmp_path_factory.mktemp("party-search")
    music = root / "music"
    for n, (relative, title, artist) in enumerate(SONGS):
        path = music / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", f"sine=frequency={300 + 80 * n}:duration=20",
                        "-c:a", "libmp3lame", "-metadata", f"title={title}", "-metadata", f"artist={artist}",
                        "-metadata", "album=Takk...", str(path)], check=True)
    config = root / "mediahub.toml"
    config.write_text(f'[server]\ndata_dir = "{root / "data"}"\n'
                      f'[plugins.music_library]\nfolders = ["{music}"]\nwatch = false\n')
    with ServerProcess(root / "data", config=config) as server:
        post(server.url + "/api/auth/register", {"username": "partydj", "password": PASSWORD})
        token = post(server.url + "/api/auth/login", {"username": "partydj", "password": PASSWORD})["access_token"]
        deadline = time.monotonic() + 60
        while True:  # serve scans at start, in the background
            request = urllib.request.Request(server.url + "/api/music/status",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=10) as response:
                status = json.load(response)
            if not status["scanning"] and status["tracks"] == len(SONGS):
                break
            assert time.monotonic() < deadline, f"the scan did not finish: {status}"
            time.sleep(0.1)
        yield server.url


@pytest.fixture(scope="module")
def party_browser():
    with launch_chromium(["--autoplay-policy=no-user-gesture-required"]) as chromium:
        yield chromium


def test_the_host_finds_a_collection_track_by_part_of_its_title_and_plays_it(party_browser, collection_server):
    url = collection_server
    context = party_browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    host = context.new_page()
    host.set_default_timeout(20_000)
    sign_in_and_start_party(host, url, "partydj", PASSWORD)
    host.wait_for_function("() => window.party && window.party.state && window.party.clock.offset !== null")
    entries = host.locator("#collection-list li[data-track-id]")
    entries.first.wait_for()
    assert entries.count() == len(SONGS)  # before typing: the collection's newest tracks

    search = host.get_by_label("Search from the music collection")
    search.fill("hoppi")  # part of the title, without its accent
    host.wait_for_function("() => document.querySelectorAll('#collection-list li[data-track-id]').length === 1")
    assert "Hoppípolla" in entries.first.inner_text()
    search.fill("zzz no such song")
    host.locator("#collection-list", has_text="Nothing matches").wait_for()
    search.fill("HOPE")
    host.wait_for_function("() => document.querySelectorAll('#collection-list li[data-track-id]').length === 1")
    assert "Hope There's Someone" in entries.first.inner_text()
    search.fill("hoppí")
    host.wait_for_function("() => document.querySelectorAll('#collection-list li[data-track-id]').length === 1"
                           " && document.querySelector('#collection-list').textContent.includes('Hoppípolla')")

    entries.first.get_by_role("button", name="Select").click()
    host.wait_for_function("() => (window.party.state.filename || '').includes('Hoppípolla')")
    assert "/sources/collection/" in host.evaluate("() => window.party.state.trackUrl")
    host.get_by_role("button", name="Play").click()
    host.wait_for_function("() => window.party.state.playing && !window.party.audio.paused"
                           " && window.party.audio.currentTime > 0.5")
    assert "Hoppípolla" in host.locator("#track-name").inner_text()
    context.close()
