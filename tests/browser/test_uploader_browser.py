"""The one uploader (static/uploader.js) in real Chromium, on the session upload page: progress,
the server's JSON error shown, the uploaded file played and deleted."""

from __future__ import annotations

import subprocess

import pytest

from mediahub.media import ffmpeg_path

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
    page.goto(live_server + "/temp-upload")
    assert page.evaluate("typeof window.mediahub.upload") == "function"
    page.get_by_label("Session id").fill("browser-session")

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
    assert any(s.startswith("Uploading song for session… ") for s in statuses), statuses
    assert statuses[-1] == "Uploaded: streaming from the session"

    page.get_by_role("button", name="Delete now").click()
    page.locator("#temp-upload-result").wait_for(state="hidden")
    assert page.locator("#temp-upload-status").inner_text() == "Deleted"
    assert page.evaluate(f"fetch({body['url']!r}).then(r => r.status)") == 404
