"""The listener's journey through the collection in Chromium: browse, play, keep playing while
moving between pages, the queue, search, ♥, playlists and history — then the same listener on
a phone finds it all, the queue at the same track and position."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from mediahub import ffmpeg_path
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SECONDS = 5  # each generated track; half of it (2.5 s) is the scrobble point
WAIT_MS = 10_000  # a bound on waiting, not a speed claim

# Tags are outside input: shown as text, never run.
HOSTILE_TITLE = '<img src=x onerror="window.pwned=1">'
HOSTILE_ALBUM = "<script>window.pwned=2</script>"
# File names sort differently from disc/track order on purpose.
SONGS = [
    ("Beyoncé/Lemonade/a.mp3", dict(title="Sorry", artist="Beyoncé", album="Lemonade",
                                     track="1", disc="2/2", date="2016", genre="R&B")),
    ("Beyoncé/Lemonade/b.mp3", dict(title="Hold Up", artist="Beyoncé", album="Lemonade",
                                     track="2/2", disc="1/2", date="2016", genre="R&B")),
    ("Beyoncé/Lemonade/c.mp3", dict(title="Formation", artist="Beyoncé", album="Lemonade",
                                     track="1/2", disc="1/2", date="2016", genre="R&B")),
    ("Sigur Rós/Takk/1.mp3", dict(title="Glósóli", artist="Sigur Rós", album="Takk...",
                                   track="1", date="2005", genre="Post-Rock")),
    ("Sigur Rós/Takk/2.mp3", dict(title="Hoppípolla", artist="Sigur Rós", album="Takk...",
                                   track="2", date="2005", genre="Post-Rock")),
    ("Other/x.mp3", dict(title=HOSTILE_TITLE, artist="<b>Bold</b>", album=HOSTILE_ALBUM)),
]


def make_song(path, tags: dict, frequency: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={SECONDS}", "-c:a", "libmp3lame",
                    "-id3v2_version", "3", *metadata, str(path)], check=True)


@pytest.fixture(scope="module")
def music_server(tmp_path_factory):
    """A real `mediahub serve` over a scanned folder of five short tagged tracks."""
    root = tmp_path_factory.mktemp("music-browser")
    music = root / "music"
    for n, (relative, tags) in enumerate(SONGS):
        make_song(music / relative, tags, 300 + 60 * n)
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=320x320",
                    "-frames:v", "1", str(music / "Beyoncé" / "Lemonade" / "cover.jpg")], check=True)
    data = root / "data"
    config = root / "mediahub.toml"
    config.write_text(f'[server]\ndata_dir = "{data}"\n'
                      f'[plugins.music_library]\nfolders = ["{music}"]\nwatch = false\n')
    with ServerProcess(data, config=config) as server:
        register(server.url, "listener")
        wait_for_scan(server.url, len(SONGS))
        yield server.url


def register(url: str, username: str) -> None:
    request = urllib.request.Request(
        f"{url}/api/auth/register", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": username, "password": PASSWORD}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def wait_for_scan(url: str, tracks: int) -> None:
    """`mediahub serve` scans the folders at start, in the background: wait for the end."""
    request = urllib.request.Request(
        f"{url}/api/auth/login", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": "listener", "password": PASSWORD}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        token = json.load(response)["access_token"]
    deadline = time.monotonic() + 60
    while True:
        status = urllib.request.Request(f"{url}/api/music/status",
                                        headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(status, timeout=10) as response:
            body = json.load(response)
        if not body["scanning"] and body["tracks"] == tracks:
            return
        assert time.monotonic() < deadline, f"the scan did not finish: {body}"
        time.sleep(0.1)


def signed_in(context, url: str, username: str):
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    page.goto(url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
    return page, problems


def audio(page, expression: str):
    return page.evaluate(f"(a => {expression})(document.getElementById('player-audio'))")


def wait_playing_past(page, seconds: float) -> None:
    # A function, not an expression string: the page's CSP forbids the eval a string needs.
    page.wait_for_function("s => { const a = document.getElementById('player-audio');"
                           " return !a.paused && a.currentTime > s; }", arg=seconds, timeout=WAIT_MS)


def seek(page, seconds: float) -> None:
    """Drag the seek slider to `seconds` (Playwright cannot fill a range input)."""
    page.evaluate("""s => { const slider = document.getElementById('player-position');
        slider.value = String(s); slider.dispatchEvent(new Event('input', {bubbles: true}));
        slider.dispatchEvent(new Event('change', {bubbles: true})); }""", seconds)


def library(page) -> dict:
    return page.evaluate("fetch('/api/me/library').then(r => r.json())")


def wait_for_library(page, check, what: str) -> dict:
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        data = library(page)
        if check(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"library never had {what}: {json.dumps(data)[:2000]}")
        page.wait_for_timeout(100)


def test_browse_play_queue_search_and_resume_on_a_phone(browser, music_server):
    url = music_server
    laptop_context = browser.new_context(viewport={"width": 1200, "height": 800})
    phone_context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True,
                                        has_touch=True, device_scale_factor=2)
    try:
        laptop, laptop_problems = signed_in(laptop_context, url, "listener")

        # Browse: home → albums grid → an album, tracks in disc/track order.
        laptop.locator(".site-nav").get_by_role("link", name="Music").click()
        expect(laptop.get_by_role("list", name="Recently added")).to_contain_text("Lemonade")
        laptop.evaluate("window.sameDocument = 'yes'")
        laptop.locator(".music-nav").get_by_role("link", name="Albums").click()
        grid = laptop.get_by_role("list", name="Albums")
        grid.get_by_role("link", name=HOSTILE_ALBUM).click()
        expect(laptop.get_by_role("list", name=f"Tracks of {HOSTILE_ALBUM}")).to_contain_text(HOSTILE_TITLE)
        laptop.go_back()
        cover = grid.get_by_role("link", name="Lemonade").locator("img")
        expect(cover).to_have_attribute("src", re.compile(r"^/api/music/covers/"))
        laptop.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=cover.element_handle())
        grid.get_by_role("link", name="Lemonade").click()
        tracks = laptop.get_by_role("list", name="Tracks of Lemonade").locator(".track-title")
        expect(tracks).to_have_text(["Formation", "Hold Up", "Sorry"])
        expect(laptop.get_by_role("list", name="Tracks of Lemonade")).to_contain_text("Disc 2")

        # Play the album, then move around: the same document keeps playing. The counter
        # lives in this document only, so a page load would reset it.
        laptop.evaluate("""() => { window.heard = 0; let last = 0;
            document.getElementById('player-audio').addEventListener('timeupdate', e => {
                const step = e.target.currentTime - last; last = e.target.currentTime;
                if (step > 0 && step < 1.5) window.heard += step; }); }""")
        laptop.get_by_role("button", name="Play album").click()
        expect(laptop.locator("#player-title")).to_have_text("Formation")
        wait_playing_past(laptop, 0.3)
        heard = laptop.evaluate("window.heard")
        laptop.locator(".music-nav").get_by_role("link", name="Artists").click()
        laptop.get_by_role("list", name="Artists").get_by_role("link", name="Sigur Rós").click()
        expect(laptop.get_by_role("heading", name="Sigur Rós")).to_be_visible()
        laptop.get_by_role("link", name="Takk...").first.click()
        expect(laptop.get_by_role("list", name="Tracks of Takk...")).to_contain_text("Hoppípolla")
        assert "/music/albums/al-" in laptop.url
        laptop.wait_for_function("h => window.heard > h + 0.5", arg=heard, timeout=WAIT_MS)
        assert audio(laptop, "!a.paused")
        assert laptop.evaluate("window.sameDocument") == "yes", "a page load interrupted the music"
        laptop.go_back()  # the History API brings the artist back, still the same document
        expect(laptop.get_by_role("heading", name="Sigur Rós")).to_be_visible()
        laptop.go_forward()

        # The queue: play next, add to queue, reorder, remove.
        takk = laptop.get_by_role("list", name="Tracks of Takk...")
        takk.get_by_role("button", name="More for Glósóli").click()
        takk.get_by_role("button", name="Play next").click()
        takk.get_by_role("button", name="More for Hoppípolla").click()
        takk.get_by_role("button", name="Add to queue").click()
        expect(laptop.locator("#player-queue-count")).to_have_text("5")
        laptop.get_by_role("link", name="Queue").click()
        expect(laptop.get_by_role("list", name="Queue").locator(".track-title")).to_have_text(
            ["Formation", "Glósóli", "Hold Up", "Sorry", "Hoppípolla"])
        laptop.get_by_role("button", name="Move Hoppípolla up").click()
        laptop.get_by_role("button", name="Remove Hold Up from the queue").click()
        expect(laptop.get_by_role("list", name="Queue").locator(".track-title")).to_have_text(
            ["Formation", "Glósóli", "Hoppípolla", "Sorry"])
        laptop.get_by_role("button", name="Play Formation from the queue").click()
        expect(laptop.locator("#player-title")).to_have_text("Formation")
        laptop.get_by_role("button", name="Next", exact=True).click()
        expect(laptop.locator("#player-title")).to_have_text("Glósóli")
        expect(laptop.locator(".queue-row[aria-current=true] .track-title")).to_have_text("Glósóli")
        laptop.get_by_role("button", name="Previous", exact=True).click()
        expect(laptop.locator("#player-title")).to_have_text("Formation")

        # Repeat and shuffle are the listener's preferences, kept by library-sync.
        laptop.get_by_role("button", name="Repeat: off").click()
        expect(laptop.get_by_role("button", name="Repeat: all")).to_be_visible()
        laptop.get_by_role("button", name="Shuffle").click()
        expect(laptop.get_by_role("button", name="Shuffle")).to_have_attribute("aria-pressed", "true")
        laptop.get_by_role("button", name="Shuffle").click()
        wait_for_library(laptop, lambda d: d["preferences"].get("repeat") == "all"
                         and d["preferences"].get("shuffle") is False, "repeat all, no shuffle")

        # Search as you type, accents ignored; play a result.
        # Slower than the typing pause the page waits for: results arrive while typing.
        box = laptop.get_by_label("Search the collection")
        box.press_sequentially("beyonce", delay=180)
        expect(box).to_be_focused()
        expect(box).to_have_value("beyonce")
        expect(laptop.get_by_role("heading", name="Results for “beyonce”")).to_be_visible()
        found = laptop.get_by_role("list", name="Tracks found")
        expect(found.locator(".track-title")).to_have_count(3)
        for title in ("Formation", "Hold Up", "Sorry"):
            expect(found).to_contain_text(title)
        laptop.get_by_label("Search the collection").fill("sigur ros hopp")
        expect(found.locator(".track-title")).to_have_text(["Hoppípolla"])
        laptop.get_by_label("Search the collection").fill("sigur ros")
        expect(found.locator(".track-title")).to_have_count(2)
        found.get_by_role("button", name="Play Hoppípolla").click()
        expect(laptop.locator("#player-title")).to_have_text("Hoppípolla")
        queue_order = found.locator(".track-title").all_inner_texts()

        # Played past half its length: it is in the history (the scrobble rule).
        wait_playing_past(laptop, SECONDS / 2 + 0.2)
        wait_for_library(laptop, lambda d: any(h["videoId"].startswith("tr-")
                                               for h in d["history"]), "a play in the history")

        # Pause at a known point: that track and position is what the other device gets.
        seek(laptop, 3)
        laptop.get_by_role("button", name="Pause").click()

        # ♥ a track and an album; a playlist of collection tracks.
        laptop.get_by_label("Search the collection").fill("formation")
        found.get_by_role("button", name="Favorite Formation").click()
        expect(found.get_by_role("button", name="Favorite Formation")).to_have_attribute(
            "aria-pressed", "true")
        found.get_by_role("button", name="More for Formation").click()
        found.get_by_role("button", name="Add to playlist…").click()
        dialog = laptop.get_by_role("dialog", name="Add to playlist")
        dialog.get_by_label("New playlist").fill("Road trip")
        dialog.get_by_role("button", name="Create and add").click()
        expect(dialog).to_be_hidden()
        laptop.get_by_role("link", name="Lemonade").first.click()
        laptop.locator(".album-head").get_by_role("button", name="Favorite Lemonade").click()

        saved = wait_for_library(
            laptop, lambda d: [q["title"] for q in d["queue"]] == queue_order
            and d["queue_state"]["positionSec"] > 2.5, "the search results as the queue, paused at 3 s")
        assert saved["queue"][saved["queue_state"]["current"]]["title"] == "Hoppípolla"
        position = saved["queue_state"]["positionSec"]
        assert laptop.evaluate("window.sameDocument") == "yes"

        # The same listener on a phone.
        phone, phone_problems = signed_in(phone_context, url, "listener")
        phone.goto(url + "/music/favorites")
        liked = phone.get_by_role("list", name="Favorite tracks")
        expect(liked.locator(".track-title")).to_have_text(["Formation"])
        expect(liked.get_by_role("button", name="Favorite Formation")).to_have_attribute(
            "aria-pressed", "true")
        expect(phone.get_by_role("list", name="Favorite albums")).to_contain_text("Lemonade")
        # The queue at the same track and position, paused until the listener presses play.
        expect(phone.locator("#player-title")).to_have_text("Hoppípolla")
        phone.wait_for_function("p => Math.abs(window.mediahubMusic.player.position() - p) < 0.5",
                                arg=position)
        assert audio(phone, "a.paused")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        phone.get_by_role("link", name="Queue").click()
        expect(phone.get_by_role("list", name="Queue").locator(".track-title")).to_have_text(queue_order)
        phone.locator(".music-nav").get_by_role("link", name="History").click()
        expect(phone.get_by_role("list", name="Recently played")).to_contain_text("Hoppípolla")
        phone.locator(".music-nav").get_by_role("link", name="Playlists").click()
        phone.get_by_role("link", name="Road trip").click()
        expect(phone.get_by_role("list", name="Tracks of Road trip").locator(".track-title")) \
            .to_have_text(["Formation"])
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        bar = phone.locator("#player").bounding_box()
        assert bar["x"] >= 0 and bar["x"] + bar["width"] <= 375 and bar["y"] + bar["height"] <= 740

        phone.get_by_role("button", name="Remove Formation from Road trip").click()
        expect(phone.get_by_role("list", name="Tracks of Road trip")).to_have_count(0)

        # Data saver (a phone on mobile data): play resumes where the laptop paused, as an
        # Opus transcode started there; a seek starts a new one.
        phone.locator(".music-nav").get_by_role("link", name="Home").click()
        phone.get_by_label("Streaming quality").select_option("data-saver")
        phone.get_by_role("button", name="Play", exact=True).click()
        phone.wait_for_function("""p => { const player = window.mediahubMusic.player;
            return player.audio.currentSrc.includes('format=opus') && !player.audio.paused
                && player.time() > p + 0.3; }""", arg=int(position), timeout=WAIT_MS)
        seek(phone, 1)
        phone.wait_for_function("""() => { const p = window.mediahubMusic.player;
            return p.audio.currentSrc.includes('timeOffset=1') && !p.audio.paused
                && p.time() > 1.2 && p.time() < 3; }""", timeout=WAIT_MS)
        assert laptop.evaluate("window.pwned") is None and phone.evaluate("window.pwned") is None
        assert laptop_problems == [] and phone_problems == []
    finally:
        laptop_context.close()
        phone_context.close()


def test_an_upload_joins_its_uploaders_collection_until_they_share_it(browser, music_server, tmp_path):
    url = music_server
    register(url, "uploader")
    register(url, "friend")
    tone = tmp_path / "upload.mp3"
    make_song(tone, dict(title="Garage Demo", artist="The Uploader"), 500)
    uploader_context = browser.new_context(viewport={"width": 1000, "height": 800})
    friend_context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        uploader, uploader_problems = signed_in(uploader_context, url, "uploader")
        uploader.goto(url + "/tracks/upload")
        uploader.get_by_label("Audio file").set_input_files(str(tone))
        uploader.get_by_role("button", name="Upload").click()
        expect(uploader.get_by_role("status")).to_have_text("Ready — it is in your tracks.",
                                                           timeout=60_000)

        # Theirs alone: in their collection (search, player), marked "only you".
        uploader.goto(url + "/music/search?q=garage")
        found = uploader.get_by_role("list", name="Tracks found")
        expect(found.locator(".track-title")).to_have_text(["Garage Demoonly you"])
        found.get_by_role("button", name="Play Garage Demo").click()
        wait_playing_past(uploader, 0.3)
        friend, friend_problems = signed_in(friend_context, url, "friend")
        friend.goto(url + "/music/search?q=garage")
        expect(friend.get_by_role("heading", name="Results for “garage”")).to_be_visible()
        expect(friend.locator("#music-view")).to_contain_text("Nothing matches.")

        # Shared: everybody finds it with the same pages and can play it.
        found.get_by_role("button", name="More for Garage Demo").click()
        found.get_by_role("button", name="Share with everyone").click()
        expect(found.locator(".share-badge")).to_have_text("shared")
        friend.reload()
        friend_found = friend.get_by_role("list", name="Tracks found")
        expect(friend_found.locator(".track-title")).to_have_text(["Garage Demo"])
        friend_found.get_by_role("button", name="Play Garage Demo").click()
        wait_playing_past(friend, 0.3)
        assert friend.evaluate("document.documentElement.scrollWidth") <= 375
        assert uploader_problems == [] and friend_problems == []
    finally:
        uploader_context.close()
        friend_context.close()


def test_the_library_page_names_collection_tracks_and_sends_people_to_music(browser, music_server):
    """/library asks for no id: it links to Music's ♥ and ⋯, and a favorite or playlist song a
    device stored by id alone is shown with the collection's title and artist."""
    url = music_server
    register(url, "by-id")
    context = browser.new_context()
    try:
        page, problems = signed_in(context, url, "by-id")
        found = page.evaluate("fetch('/api/music/search?q=hoppipolla').then(r => r.json())")
        track = found["tracks"][0]["id"]
        page.evaluate("""id => fetch('/api/me/library').then(r => r.json()).then(lib =>
            mediahub.fetch('/api/me/library/sync', {method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({since: lib.version,
                favorites: [{videoId: id, addedAt: '2025-12-28T10:00:00Z'}],
                playlists: [{id: 'pl_ids', name: 'By id', songs: [{videoId: id}]}]})}))
            .then(r => { if (!r.ok) throw new Error('sync: ' + r.status); })""", track)
        page.goto(url + "/library")
        expect(page.locator("#favorites")).to_contain_text("Hoppípolla — Sigur Rós")
        expect(page.get_by_role("list", name="Songs of By id")).to_contain_text("Hoppípolla")
        expect(page.get_by_role("button", name="Remove Hoppípolla from favorites")).to_be_visible()
        assert page.get_by_label("Video id").count() == 0
        page.locator("#favorites-how").get_by_role("link", name="Music", exact=True).click()
        page.wait_for_url(url + "/music")
        assert problems == []
    finally:
        context.close()
