"""Page scripts written once, in real Chromium: the one uploader (static/uploader.js) on the
session upload page, and party.js's drift policy against clock.py (its numbers and functions)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import asdict

import pytest

from mediahub.media import ffmpeg_path
from mediahub_listen_party import clock
from tests.support.browser import sign_in_and_start_party

pytestmark = pytest.mark.browser


def test_session_upload_page_shows_progress_errors_and_the_upload(page, live_server, tmp_path):
    song = tmp_path / "song.wav"
    subprocess.run([ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=20", "-ac", "2", "-ar", "22050", str(song)], check=True)
    fake = tmp_path / "fake.wav"
    fake.write_text("<html>not audio</html>" * 50)

    page.goto(live_server + "/")
    page.get_by_role("button", name="Continue as guest").click()
    page.wait_for_url(live_server + "/")
    # The guest's own party: the page offers it by name and code (nobody types an id).
    party = page.evaluate("""() => mediahub.fetch('/api/parties', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name: 'Upload party'})})
        .then(r => r.json())""")
    page.goto(live_server + "/temp-upload")
    assert page.evaluate("typeof window.mediahub.upload") == "function"
    assert page.get_by_label("Session id").count() == 0
    chosen = page.get_by_label("Party", exact=True)
    assert chosen.input_value() == party["sessionId"]
    assert party["code"] in chosen.locator("option:checked").inner_text()

    # A file that is not audio: the server's JSON error message reaches the page.
    page.get_by_label("Audio file").set_input_files(str(fake))
    with page.expect_response("**/api/temp-upload/upload-temp") as refused:
        page.get_by_role("button", name="Upload").click()
    assert 400 <= refused.value.status < 500
    message = refused.value.json()["error"]["message"]
    error = page.locator("#temp-upload-error")
    error.wait_for(state="visible")
    assert error.inner_text() == message

    # A real song: the status line counts up while the bytes go, then the player gets the file.
    page.evaluate("""() => { window.__status = []; const line = document.getElementById('temp-upload-status');
        new MutationObserver(() => window.__status.push(line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true}); }""")
    page.get_by_label("Audio file").set_input_files(str(song))
    with page.expect_response("**/api/temp-upload/upload-temp") as uploaded:
        page.get_by_role("button", name="Upload").click()
    assert uploaded.value.status == 200
    body = uploaded.value.json()
    page.locator("#temp-upload-result").wait_for(state="visible")
    assert page.locator("#temp-upload-error").is_hidden()
    assert page.locator("#temp-upload-public-id").inner_text() == body["publicId"]
    assert page.locator("#temp-upload-progress").evaluate("bar => bar.value") == 100
    assert page.locator("#temp-upload-player").get_attribute("src") == body["url"]
    statuses = page.evaluate("() => window.__status")
    assert any(s.startswith("Uploading song for the party… ") for s in statuses), statuses
    assert statuses[-1] == "Uploaded: the party can play it now"

    page.get_by_role("button", name="Delete now").click()
    page.locator("#temp-upload-result").wait_for(state="hidden")
    assert page.locator("#temp-upload-status").inner_text() == "Deleted"
    assert page.evaluate(f"fetch({body['url']!r}).then(r => r.status)") == 404


def test_party_page_runs_the_drift_policy_of_clock_py(page, live_server):
    request = urllib.request.Request(live_server + "/api/auth/register", method="POST",
                                     data=json.dumps({"username": "policy-host",
                                                      "password": "correct horse battery"}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    sign_in_and_start_party(page, live_server, "policy-host", "correct horse battery")
    page.wait_for_function("() => window.party && window.party.policy")
    # The numbers reach the page from clock.py, not from a copy in party.js.
    assert page.evaluate("() => window.party.policy") == clock.browser_policy()

    drifts = [0, 2.9, 3, -5, -7.9, 8, -8, 12.5, -30, 60, -119, 200, 249.9, -250, 250, 1000, -5000]
    jumps = [clock.RATE_JUMP_PRIOR_MS, 0.0, -45.0, 15.0]
    cases = [(drift, jump, landing) for drift in drifts for jump in jumps for landing in (False, True)]
    answers = page.evaluate("""(cases) => cases.map(([drift, jump, landing]) => {
        const fix = window.party.correction(drift, jump, landing);
        return [fix.action, fix.rate, fix.durationMs]; })""", cases)
    for (drift, jump, landing), (action, rate, duration) in zip(cases, answers, strict=True):
        expected = asdict(clock.correction(drift, jump, landing))
        assert (action, rate, duration) == pytest.approx(
            (expected["action"], expected["rate"], expected["duration_ms"])), (drift, jump, landing)
    assert {answer[0] for answer in answers} == {"none", "rate", "seek"}

    learning = [(None, 0.0, -30.0, 10.0), (-20.0, 5.0, -10.0, 4.0), (-20.0, 0.0, 90.0, 0.0),
                (None, 10.0, 100.0, 0.0), (12.0, -3.0, -1.0, -6.0)]
    learned = page.evaluate("""(cases) => cases.map(([learned, before, after, planned]) =>
        window.party.learnRateJump(learned, before, after, planned))""", learning)
    assert learned == pytest.approx([clock.learn_rate_jump(*case) for case in learning])

    qualities = [(0, 0), (15, 10), (20, 1), (50, 40), (70, 30), (79, 2), (100, 0), (-85, 0)]
    shown = page.evaluate("""(cases) => cases.map(([drift, rtt]) =>
        window.party.quality(drift, rtt))""", qualities)
    assert shown == [clock.sync_quality(*case) for case in qualities]
