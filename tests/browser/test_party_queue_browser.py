"""A party queue in real Chromium (issue 16's proof): a host and three guests (one with its clock
37.5 s off) through two track boundaries, a guest adding a track, a guest refused when controls
are off, a co-host skipping, and the guests told when the party ends.

Every page records `audio.currentTime` with the true instant (one reading per task, every
~15 ms, from before the first boundary to past the second) while the party plays; the
inter-listener offset is computed here over the first 5 s of each new track, in 100 ms
windows (the median of each page's readings in a window), all pairs of the four listeners.
A page still on the old track counts as being at 0 of the new one (late, honestly). The
numbers are printed (run with -s) and held to tests.support.party_browser.SyncBar: the
issue's bar p95 <= 20 ms, missed still reported as an expected failure with its numbers.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mediahub.media import ffmpeg_path
from tests.support.browser import launch_chromium, sign_in_and_start_party
from tests.support.party_browser import (SAMPLER, SyncBar, TRACE, api, join_as_guest, new_phone_page, p95,
                                         traces, window_offsets)

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SHIFT_MS = 37_500  # one guest's clock runs 37.5 s behind

# The queue: a short first track (its end is the first boundary), a second as short (the
# second boundary), then two long enough for the co-host's skip to land inside them.
TONES = {"first": (330, 7), "second": (440, 7), "third": (550, 20), "fourth": (660, 20)}
MEASURE_MS = 5_000

# Media events of both players (the playing one and the spare), for the failure message:
# [true ms, element id, event, currentTime, readyState].
EVENTS = """
(shift) => {
  const log = window.__events = [];
  for (const name of ["play", "playing", "pause", "seeking", "seeked", "waiting", "stalled", "canplay"]) {
    document.addEventListener(name, (event) => { const a = event.target;
      log.push([Math.round(performance.timeOrigin + performance.now() - shift), a.id, name,
                +a.currentTime.toFixed(3), a.readyState]); }, true);
  }
}
"""


@pytest.fixture(scope="module")
def party_browser():
    with launch_chromium(["--autoplay-policy=no-user-gesture-required"]) as chromium:
        yield chromium


@pytest.fixture(scope="session")
def queue_tones(tmp_path_factory):
    """Short generated tones, made once per test session."""
    folder = tmp_path_factory.mktemp("queue-tones")
    paths = {}
    for name, (frequency, seconds) in TONES.items():
        paths[name] = folder / f"{name}.wav"
        subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                        f"sine=frequency={frequency}:duration={seconds}", "-ac", "1", "-ar", "22050",
                        str(paths[name])], check=True)
    return paths


def upload(page, path, button: str) -> None:
    page.set_input_files("#track-file", str(path))
    with page.expect_response("**/api/temp-upload/upload-temp") as uploaded:
        page.get_by_role("button", name=button).click()
    assert uploaded.value.status == 200, uploaded.value.text()
    page.wait_for_function("() => document.getElementById('upload-progress').hidden")


def track_start(page, filename: str) -> tuple[str, float]:
    """The URL and the server instant of position 0 of the track named `filename`."""
    page.wait_for_function("(f) => window.party.state.filename === f && window.party.state.playing",
                           arg=filename, timeout=30_000)
    return tuple(page.evaluate("() => { const s = window.party.state;"
                               " return [s.trackUrl, s.serverTimestamp - s.positionSec * 1000]; }"))


def boundary_offsets(samples: list[list], url: str, start_ms: float) -> tuple[list[float], list[float]]:
    """Inter-listener offsets (all pairs, per 100 ms window) and |error| over the first 5 s."""
    return window_offsets(samples, start_ms, 0.0, MEASURE_MS, url)


def test_a_queue_plays_in_sync_across_two_boundaries(party_browser, live_server, queue_tones):
    url = live_server
    api(url, "/api/auth/register", {"username": "queuehost", "password": PASSWORD})
    host_context, host = new_phone_page(party_browser)
    code = sign_in_and_start_party(host, url, "queuehost", PASSWORD)
    host.wait_for_function("() => window.party && window.party.state && window.party.me")
    host.get_by_label("Guests can add to the queue").check()
    host.wait_for_function("() => window.party.state.permissions.guestsAdd")

    shifts = [0, 0, 0, -SHIFT_MS]  # host, Guest 0, Guest 1, Guest 2 (37.5 s behind)
    guests = [join_as_guest(party_browser, url, code, f"Guest {i}", shift)
              for i, shift in enumerate(shifts[1:])]
    pages = [host] + [page for _, page in guests]
    pages[3].wait_for_function("() => window.party.clock.samples.length >= 10")  # the first burst
    estimate = pages[3].evaluate("() => window.party.clock.offset")
    assert abs(estimate - SHIFT_MS) < 50, f"the shifted guest estimated offset {estimate} ms"
    for page, shift in zip(pages, shifts):
        page.evaluate(TRACE, shift)
        page.evaluate(EVENTS, shift)

    # The host selects the first track; a guest adds the second (guests may add); the host
    # queues the other two.
    upload(host, queue_tones["first"], "Upload & select")
    host.wait_for_function("() => window.party.state.filename === 'first.wav'")
    adder = pages[1]
    assert adder.locator("#play-button").is_hidden()  # a guest: no playback controls
    upload(adder, queue_tones["second"], "Upload & queue")
    host.wait_for_function("() => (window.party.state.queue || []).length === 1")
    assert "added by Guest 0" in host.locator("#queue").inner_text()
    upload(host, queue_tones["third"], "Upload & queue")
    upload(host, queue_tones["fourth"], "Upload & queue")
    for page in pages:
        page.wait_for_function("() => window.party.state.queue.length === 3"
                               " && window.party.audio.readyState >= 1")
    assert [e["filename"] for e in pages[2].evaluate("() => window.party.state.queue")] == \
        ["second.wav", "third.wav", "fourth.wav"]

    # Controls are off: a guest's skip (sent anyway: the page only hides the button) is
    # refused by the server, and the page shows the refusal.
    refused = pages[2]
    refused.evaluate("() => window.party.send({ t: 'SKIP', version: window.party.state.version })")
    refused.wait_for_selector("#party-error:not([hidden])")
    assert "only the host (or a co-host) controls playback" in refused.locator("#party-error").inner_text()
    assert refused.evaluate("() => window.party.state.filename") == "first.wav"

    # The host makes Guest 1 a co-host.
    host.locator("#guest-list li", has_text="Guest 1").get_by_role("button", name="Make co-host").click()
    cohost = pages[2]
    cohost.wait_for_function("() => window.party.role === 'cohost'")

    for page, shift in zip(pages, shifts):
        page.evaluate(SAMPLER, shift)
    host.get_by_role("button", name="Play").click()
    results = {}
    for name in ("second.wav", "third.wav"):
        track_url, start_ms = track_start(host, name)
        host.wait_for_function("(end) => performance.timeOrigin + performance.now() > end",
                               arg=start_ms + MEASURE_MS + 200, timeout=30_000)
        results[name] = (track_url, start_ms)
    for page in pages:
        page.evaluate("() => { window.__sampling = false; }")
    samples = [page.evaluate("() => window.__samples") for page in pages]
    crossings = [page.evaluate("() => window.party.crossings") for page in pages]
    landings = [page.evaluate("() => window.party.landings") for page in pages]

    measured = {}
    for name, (track_url, start_ms) in results.items():
        offsets, absolute = boundary_offsets(samples, track_url, start_ms)
        assert len(offsets) >= 6 * 40, f"{name}: only {len(offsets)} readings"
        measured[name] = (p95(offsets), max(offsets), p95(absolute))
    print("\n" + "\n".join(f"boundary to {name}: p95 inter-listener offset {p:.2f} ms (max {m:.2f}),"
                           f" p95 |error vs party| {a:.2f} ms over the first 5 s"
                           for name, (p, m, a) in measured.items()))

    # The co-host skips the third track: everyone plays the fourth.
    cohost.get_by_role("button", name="Skip").click()
    for page in pages:
        page.wait_for_function("() => window.party.state.filename === 'fourth.wav'"
                               " && window.party.state.playing && !window.party.audio.paused"
                               " && window.party.audio.dataset.url === window.party.state.trackUrl")

    # The host ends the party: the guests' pages say so, nothing keeps playing.
    host.on("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="End party").click()
    for page in pages[1:]:
        page.wait_for_function("() => document.getElementById('sync-status').textContent"
                               " === 'The party has ended'")
        assert page.locator("#track-name").inner_text() == "The party has ended"
        assert page.evaluate("() => window.party.audio.paused")

    details = (f"crossings (aimed latency, how late the page got there): {crossings}\n"
               f"landings (error read after each start and correction): {landings}\n" + traces(pages)
               + "\nmedia events:\n"
               + "\n".join(str(page.evaluate("() => window.__events.slice(-40)")) for page in pages))
    # A start planned from the first Play and never re-aimed was 75-100 ms late: broken.
    sync = SyncBar()
    for name, (p, _, _) in measured.items():
        sync.check(f"boundary to {name}", p, lambda: details)

    for context, _ in guests:
        context.close()
    host_context.close()
    sync.settle()


def test_a_guest_that_missed_a_queue_frame_reconnects_for_the_queue(party_browser, live_server, queue_tones):
    """State messages name the queue by `queueIds`; its entries come in the queue frames. A
    guest whose QUEUE_CHANGED never arrived (a slow socket's inbox drops the oldest) sees an
    id it has no entry for in the next PLAY, and reconnects: the SNAPSHOT has the entries."""
    url = live_server
    api(url, "/api/auth/register", {"username": "framehost", "password": PASSWORD})
    host_context, host = new_phone_page(party_browser)
    code = sign_in_and_start_party(host, url, "framehost", PASSWORD)
    host.wait_for_function("() => window.party && window.party.state && window.party.me")
    upload(host, queue_tones["first"], "Upload & select")

    guest_context, guest = new_phone_page(party_browser)
    sockets, dropped = [], []

    def relay(ws) -> None:  # the guest's socket, with its first QUEUE_CHANGED lost
        server = ws.connect_to_server()
        sockets.append(ws)

        def from_server(text) -> None:
            if not dropped and json.loads(text).get("t") == "QUEUE_CHANGED":
                dropped.append(text)
                return
            ws.send(text)
        server.on_message(from_server)
        ws.on_message(lambda text: server.send(text))

    guest.route_web_socket("**/ws/party/**", relay)
    guest.goto(f"{url}/party/{code}")
    guest.get_by_label("Your name").fill("Late phone")
    guest.get_by_role("button", name="Join the party").click()
    guest.wait_for_function("() => window.party && window.party.state"
                            " && window.party.state.filename === 'first.wav'")

    upload(host, queue_tones["second"], "Upload & queue")
    host.wait_for_function("() => window.party.state.queue.length === 1")
    assert len(dropped) == 1
    assert guest.evaluate("() => window.party.state.queue.length") == 0  # never told
    host.get_by_role("button", name="Play").click()
    # The PLAY names an entry the guest has none for: it reconnects and has the queue.
    guest.wait_for_function("() => window.party.state.queue.length === 1"
                            " && window.party.state.queue[0].filename === 'second.wav'")
    assert len(sockets) == 2
    assert "second.wav" in guest.locator("#queue").inner_text()
    # The host's page, told everything, never reconnected: its PLAY kept the entries.
    assert host.evaluate("() => window.party.state.queue[0].filename") == "second.wav"
    guest_context.close()
    host_context.close()
