"""party.js estimates the server clock as clock.py does (one fast ping outvotes slow ones), in Chromium."""

from __future__ import annotations

import json
import random
import urllib.request

import pytest

from mediahub_listen_party import clock
from tests.support.browser import sign_in_and_start_party

pytestmark = pytest.mark.browser


def ping(rng: random.Random, at: float, offset: float) -> clock.ClockSample:
    """A ping with a random path: mostly clean, sometimes queued on the way back (t3 late)."""
    up, down = 0.5 + 3 * rng.random(), 0.5 + 3 * rng.random()
    if rng.random() < 0.4:
        down += 20 + 200 * rng.random()
    t1 = at + up + offset
    return clock.ClockSample(at, t1, t1 + 0.2, at + up + 0.2 + down)


def test_party_page_estimates_the_clock_as_clock_py_does(page, live_server):
    request = urllib.request.Request(live_server + "/api/auth/register", method="POST",
                                     data=json.dumps({"username": "clock-host",
                                                      "password": "correct horse battery"}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    sign_in_and_start_party(page, live_server, "clock-host", "correct horse battery")
    page.wait_for_function("() => window.party && window.party.estimateOffset")

    rng = random.Random(16)
    cases = []
    for size in (1, 2, 3, 5, 10, clock.WINDOW, clock.WINDOW + 7):
        for _ in range(20):
            cases.append([ping(rng, 60 * i, 37_500.0) for i in range(size)])
    # The case that decides it: one clean ping among two queued ones.
    cases.append([clock.ClockSample(0, 37_502, 37_502.2, 34.2), clock.ClockSample(60, 37_562, 37_562.2, 92.2),
                  clock.ClockSample(120, 37_621, 37_621.2, 122.2)])
    answers = page.evaluate("""(cases) => cases.map((samples) => {
        const e = window.party.estimateOffset(samples); return [e.offset, e.rtt]; })""",
                            [[{"offset": s.offset, "rtt": s.rtt} for s in samples] for samples in cases])
    for samples, (offset, rtt) in zip(cases, answers, strict=True):
        expected = clock.estimate_offset(samples)
        assert (offset, rtt) == pytest.approx((expected.offset_ms, expected.rtt_ms)), samples
    assert answers[-1][0] == pytest.approx(37_500.0)  # the clean ping's answer, not the median's
