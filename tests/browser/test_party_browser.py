"""A listening party in real Chromium: a host and three guests (one with its clock 90 s off) play in sync.

Each page samples `audio.currentTime` with a timestamp (one sample per task, so Chromium's
per-task cached position is fresh) and the error against the party's position at the true
instant is computed here. The numbers are printed (run with -s to see them); the asserts
are the issue's bounds.
"""

from __future__ import annotations

import statistics
import subprocess
import time

import pytest

from mediahub.media import ffmpeg_path
from tests.support.browser import launch_chromium, sign_in_and_start_party
from tests.support.party_browser import (SAMPLER, SyncBar, TRACE, api, join_as_guest, new_phone_page, p95,
                                         traces, window_offsets)

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SHIFT_MS = 90_000  # one guest's clock runs 90 s ahead


# Samples [true time ms, error ms] in separate tasks; `shift` undoes a shifted clock.
SAMPLE = """
async ([count, gapMs, shift]) => {
  const out = [];
  for (let i = 0; i < count; i++) {
    await new Promise(r => setTimeout(r, gapMs));
    const t = performance.timeOrigin + performance.now();
    const pos = window.party.audio.currentTime;
    const s = window.party.state;
    const trueT = t - shift;
    const expected = s.playing ? s.positionSec + (trueT - s.serverTimestamp) / 1000 : s.positionSec;
    out.push([trueT, (pos - expected) * 1000]);
  }
  return out;
}
"""

# Resolves with the true time of the next `event` on the audio element.
WATCH = """
([event, shift]) => { window.__seen = null; window.party.audio.addEventListener(event, () => {
  window.__seen = performance.timeOrigin + performance.now() - shift; }, { once: true }); }
"""


@pytest.fixture(scope="module")
def party_browser():
    with launch_chromium(["--autoplay-policy=no-user-gesture-required"]) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    path = tmp_path_factory.mktemp("tone") / "tone.wav"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=180",
                    "-ac", "1", "-ar", "22050", str(path)], check=True)
    return path


SEEK_MEASURE_MS = 3_000


def wait_playing(page) -> None:
    page.wait_for_function("() => window.party.state.playing && !window.party.audio.paused"
                           " && window.party.audio.currentTime > 0")


def errors(page, shift_ms: int = 0, windows: int = 12, per_window: int = 5,
           gap_ms: int = 20) -> list[float]:
    """A guest's error against the party position, one value per ~100 ms window.

    One currentTime reading moves in audio-buffer steps (~10 ms); the median of a few
    readings 20 ms apart is that instant's position with a sub-millisecond noise floor.
    """
    raw = [e for _, e in page.evaluate(SAMPLE, [windows * per_window, gap_ms, shift_ms])]
    return [statistics.median(raw[i:i + per_window]) for i in range(0, len(raw), per_window)]


def inter_guest_offsets(samples: list[list[float]]) -> list[float]:
    offsets = []
    for k in range(min(len(s) for s in samples)):
        for i in range(len(samples)):
            for j in range(i + 1, len(samples)):
                offsets.append(abs(samples[i][k] - samples[j][k]))
    return offsets


# Under load this test used to fail (p95 69 / 265 ms in full-suite runs). The cause was
# the drift correction, not the audio clock (Chromium's currentTime tracks the wall clock
# within a millisecond with both cores busy): every playbackRate change moves Chromium's
# position by about -20 ms by itself, and the old policy changed the rate every half
# second, so clock-estimate noise under load set off a chain of jumps. Corrections are now
# single planned excursions that learn and allow for the jump (clock.py). Also fixed: the
# host's view of the shifted guest's offset may read -89999 ms.
def test_host_and_three_guests_play_in_sync(party_browser, live_server, tone):
    url = live_server
    sync = SyncBar()
    api(url, "/api/auth/register", {"username": "hostess", "password": PASSWORD})
    host_context, host = new_phone_page(party_browser)
    code = sign_in_and_start_party(host, url, "hostess", PASSWORD)
    host.wait_for_function("() => window.party && window.party.state")

    shifts = [0, 0, SHIFT_MS]
    guests = [join_as_guest(party_browser, url, code, f"Guest {i}", shift)
              for i, shift in enumerate(shifts)]
    pages = [page for _, page in guests]
    for page, shift in zip(pages, shifts):
        page.evaluate(TRACE, shift)
    offset = pages[2].evaluate("() => window.party.clock.offset")
    assert abs(offset + SHIFT_MS) < 50, f"the shifted guest estimated offset {offset} ms"

    # The host uploads a file from the device (progress bar) and selects it.
    host.set_input_files("#track-file", str(tone))
    host.get_by_role("button", name="Upload & select").click()
    host.wait_for_function("() => window.party.state.trackId")
    for page in pages:
        page.wait_for_function("() => window.party.state.trackId && window.party.audio.readyState >= 1")
    host.get_by_role("button", name="Play").click()
    for page in pages:
        wait_playing(page)
    time.sleep(10)

    samples = [errors(page, shift) for page, shift in zip(pages, shifts)]
    offsets = inter_guest_offsets(samples)
    absolute = [abs(e) for s in samples for e in s]
    print(f"\nafter 10 s: p95 inter-guest offset {p95(offsets):.2f} ms (max {max(offsets):.2f}), "
          f"p95 |error vs party| {p95(absolute):.2f} ms, "
          f"median per guest {[round(statistics.median(s), 2) for s in samples]}")
    sync.check("four listeners after 10 s", p95(offsets), lambda: traces(pages))

    # The host sees every guest's reported offset.
    try:
        # The shifted guest's offset is -90,000 ms give or take the estimate's error (a
        # millisecond or two under load: "offset -89999 ms" is right too).
        host.wait_for_function("""([shift]) => document.querySelectorAll('#guest-list li').length === 3
            && [...document.querySelector('#diagnostics-list').textContent.matchAll(/offset (-?\\d+) ms/g)]
               .some(m => Math.abs(Number(m[1]) + shift) < 50)""", arg=[SHIFT_MS])
    except Exception:
        raise AssertionError("the host's guest list: " + host.locator("#guest-list").inner_text()
                             + " diagnostics: " + host.locator("#diagnostics-list").text_content()
                             + "\nguests: " + str([page.evaluate(
                                 "() => [window.party.me, document.getElementById('sync-status')"
                                 ".textContent, window.party.lastDrift, window.party.clock.rtt]")
                                 for page in pages]) + "\n" + traces(pages)) from None

    # Pause reaches every guest within 250 ms.
    for page, shift in zip(pages, shifts):
        page.evaluate(WATCH, ["pause", shift])
    clicked = host.evaluate("() => { const t = performance.timeOrigin + performance.now();"
                            " document.getElementById('pause-button').click(); return t; }")
    for page in pages:
        page.wait_for_function("() => window.__seen !== null")
    pause_delays = [page.evaluate("() => window.__seen") - clicked for page in pages]
    print(f"pause reached guests after {[round(d, 1) for d in pause_delays]} ms")
    assert max(pause_delays) <= 250, traces(pages)

    # Seek (while playing) reaches every guest within 250 ms.
    host.get_by_role("button", name="Play").click()
    for page in pages:
        wait_playing(page)
    for page, shift in zip(pages, shifts):
        page.evaluate(WATCH, ["seeked", shift])
        page.evaluate(SAMPLER, shift)
    clicked = host.evaluate("() => { const t = performance.timeOrigin + performance.now();"
                            " const s = document.getElementById('seek'); s.value = 90;"
                            " s.dispatchEvent(new Event('change')); return t; }")
    for page in pages:
        page.wait_for_function("() => window.__seen !== null && window.party.state.positionSec === 90")
    seek_delays = [page.evaluate("() => window.__seen") - clicked for page in pages]
    print(f"seek reached guests after {[round(d, 1) for d in seek_delays]} ms")
    assert max(seek_delays) <= 250, traces(pages)
    # ...and every guest starts 90 s in on the seek's instant: the inter-guest offset over
    # the first 3 s after it, measured as at a track boundary.
    host.wait_for_function("() => window.party.state.positionSec === 90")
    seek_start = host.evaluate("() => window.party.state.serverTimestamp")  # the host's clock is true
    host.wait_for_function("(end) => performance.timeOrigin + performance.now() > end",
                           arg=seek_start + SEEK_MEASURE_MS + 200)
    for page in pages:
        page.evaluate("() => { window.__sampling = false; }")
    seek_offsets, seek_errors = window_offsets([page.evaluate("() => window.__samples") for page in pages],
                                               seek_start, 90.0, SEEK_MEASURE_MS)
    assert len(seek_offsets) >= 3 * 20, f"only {len(seek_offsets)} readings after the seek"
    print(f"after the seek: p95 inter-guest offset {p95(seek_offsets):.2f} ms (max {max(seek_offsets):.2f}),"
          f" p95 |error vs party| {p95(seek_errors):.2f} ms over the first 3 s")
    # Measured, not held to the 20 ms bar (issue 16's bar is for track boundaries; a seek's
    # start is a play() from paused, whose latency varies more): past 100 ms it is broken.
    assert p95(seek_offsets) <= 100, traces(pages)
    for page in pages:
        wait_playing(page)

    # A guest joining mid-track is within 20 ms after 3 s.
    late_context, late = join_as_guest(party_browser, url, code, "Late")
    late.evaluate(TRACE, 0)
    wait_playing(late)
    time.sleep(3)
    late_errors = [abs(e) for e in errors(late)]
    print(f"mid-track join after 3 s: p95 |error vs party| {p95(late_errors):.2f} ms")
    sync.check("mid-track join after 3 s", p95(late_errors), lambda: traces([late]))

    # A guest that reloads rejoins in sync.
    pages[1].reload()
    pages[1].wait_for_function("() => window.party && window.party.state && window.party.clock.offset !== null")
    pages[1].evaluate(TRACE, 0)
    wait_playing(pages[1])
    time.sleep(3)
    rejoined = [abs(e) for e in errors(pages[1])]
    print(f"reloaded guest after 3 s: p95 |error vs party| {p95(rejoined):.2f} ms")
    sync.check("reloaded guest after 3 s", p95(rejoined), lambda: traces([pages[1]]))

    for context, _ in guests:
        context.close()
    late_context.close()
    host_context.close()
    sync.settle()
