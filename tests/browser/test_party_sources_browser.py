"""Party track sources in real Chromium: the host's own file (cloudinary-temp, progress bar) and a
library track (HLS through hls.js) play on a guest's page; seeking works on both."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import httpx
import pytest

from mediahub.media import ffmpeg_path
from tests.support.browser import launch_chromium, sign_in_and_start_party

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def party_browser():
    with launch_chromium(["--autoplay-policy=no-user-gesture-required"]) as chromium:
        yield chromium


def tone(path, seconds: int, codec: list[str]):
    subprocess.run([ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"sine=frequency=440:duration={seconds}", *codec, str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("party_sources")
    # ~3.5 MB: big enough for the upload to report progress.
    return {"wav": tone(folder / "device.wav", 40, ["-ac", "2", "-ar", "22050"]),
            "mp3": tone(folder / "library.mp3", 30, ["-c:a", "libmp3lame", "-b:a", "128k"])}


def post_json(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def library_track(url: str, token: str, path) -> str:
    """A ready hls-transcode track of the token's user, made through the seed's upload flow."""
    data = path.read_bytes()
    init = post_json(url + "/tracks/upload/init", {"title": "Library tone", "artist_name": "Osc",
                                                   "file_extension": "mp3", "file_size": len(data)}, token)
    upload = httpx.post(url + init["audio_upload_url"], data=init["audio_upload_fields"],
                        files={"file": ("library.mp3", data)}, timeout=30)
    assert upload.status_code == 204, upload.text
    post_json(url + "/tracks/upload/complete", {"track_id": init["track_id"]}, token)
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(600):  # bounded: a stuck job fails the test instead of hanging it
        status = httpx.get(f"{url}/tracks/upload/status/{init['track_id']}", headers=auth).json()
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert status["status"] == "completed", status
    return init["track_id"]


def new_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def playing_near(page, seconds: float) -> None:
    """The guest's audio plays at about the party's position (sync precision is another test's job)."""
    page.wait_for_function(
        """(s) => { const p = window.party, a = p.audio;
                    return p.state.playing && !a.paused && a.currentTime > s
                        && Math.abs(a.currentTime - p.targetAt(p.serverNow())) < 0.5; }""", arg=seconds)


# The guest's error against the party position (ms): median of readings 20 ms apart.
ERROR_MS = """
async () => { const out = [];
  for (let i = 0; i < 15; i++) { await new Promise(r => setTimeout(r, 20));
    const p = window.party; out.push((p.audio.currentTime - p.targetAt(p.serverNow())) * 1000); }
  out.sort((a, b) => a - b); return out[7]; }
"""


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=0-9"}),
                                    timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_host_file_and_library_track_play_on_a_guest_page(party_browser, live_server, files):
    url = live_server
    post_json(url + "/api/auth/register", {"username": "djhost", "password": PASSWORD})
    token = post_json(url + "/api/auth/login", {"username": "djhost", "password": PASSWORD})["access_token"]
    track_id = library_track(url, token, files["mp3"])

    host_context, host = new_page(party_browser)
    code = sign_in_and_start_party(host, url, "djhost", PASSWORD)
    host.wait_for_function("() => window.party && window.party.state && window.party.me")

    guest_context, guest = new_page(party_browser)
    guest.goto(f"{url}/party/{code}")
    guest.get_by_label("Your name").fill("Guest")
    guest.get_by_role("button", name="Join the party").click()
    guest.wait_for_function("() => window.party && window.party.state && window.party.clock.offset !== null")

    # 1. A file from the host's device goes up through cloudinary-temp with the progress bar.
    host.evaluate("""() => { window.__progress = []; const bar = document.getElementById('upload-progress');
        const record = () => { window.__progress.push(bar.value); requestAnimationFrame(record); };
        record(); }""")
    host.set_input_files("#track-file", str(files["wav"]))
    with host.expect_response("**/api/temp-upload/upload-temp") as uploaded:
        host.get_by_role("button", name="Upload & select").click()
    assert uploaded.value.status == 200
    temp = uploaded.value.json()
    host.wait_for_function("(id) => window.party.state.trackId === id", arg=temp["publicId"])
    # The progress bar showed the upload and is gone once it is done.
    host.wait_for_function("() => document.getElementById('upload-progress').hidden")
    progress = host.evaluate("() => window.__progress")
    assert progress[-1] == 100 and min(progress) < 100, progress

    # The track is known by its id, not by the upload's URL: the party signs a URL of its own
    # when it resolves the track (local disk: exp = int(now) + int(remaining life), which can
    # be a second later than the uploader's; 1 run in 6 here, and then the wait never ended).
    guest.wait_for_function("(id) => { const p = window.party; return p.state.trackId === id"
                            " && p.audio.dataset.url === p.state.trackUrl && p.audio.readyState >= 1; }",
                            arg=temp["publicId"])
    played_url = guest.evaluate("() => window.party.state.trackUrl")
    host.get_by_role("button", name="Play").click()
    playing_near(guest, 0.5)
    host.evaluate("() => { const s = document.getElementById('seek'); s.value = 20;"
                  " s.dispatchEvent(new Event('change')); }")
    guest.wait_for_function("() => window.party.state.positionSec === 20")
    playing_near(guest, 20)
    time.sleep(1)
    file_error = guest.evaluate(ERROR_MS)

    # 2. A library track: the guest plays its HLS master playlist (hls.js, vendored).
    host.locator(f'#library-list li[data-track-id="{track_id}"] button[data-action=select]').click()
    guest.wait_for_function("(id) => window.party.state.trackId === id && window.party.audio.readyState >= 1",
                            arg=track_id)
    assert guest.evaluate("() => window.party.state.trackUrl").endswith("/master.m3u8")
    # hls.js feeds the element through Media Source Extensions (a blob: URL).
    assert guest.evaluate("() => window.party.audio.src").startswith("blob:")
    # The previous track's temporary upload was deleted when the track changed.
    # (The hook runs after the members are told: poll, bounded.)
    statuses = [status_of(url + played_url)]
    while statuses[-1] != 404 and len(statuses) < 100:
        time.sleep(0.1)
        statuses.append(status_of(url + played_url))
    assert statuses[-1] == 404, statuses
    assert status_of(url + temp["url"]) == 404  # the uploader's own link too
    host.get_by_role("button", name="Play").click()
    playing_near(guest, 0.5)
    host.evaluate("() => { const s = document.getElementById('seek'); s.value = 15;"
                  " s.dispatchEvent(new Event('change')); }")
    guest.wait_for_function("() => window.party.state.positionSec === 15")
    playing_near(guest, 15)
    time.sleep(1)
    hls_error = guest.evaluate(ERROR_MS)
    # Printed, not asserted tighter than playing_near: precision is test_party_browser's job.
    print(f"\nguest error vs party 1 s after a seek: file {file_error:.1f} ms, HLS {hls_error:.1f} ms")

    guest_context.close()
    host_context.close()
