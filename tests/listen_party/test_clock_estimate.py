"""The server-clock estimate (clock.estimate_offset): one fast ping outvotes slow ones, over a window."""

from __future__ import annotations

import pytest

from mediahub_listen_party import clock

TRUE_OFFSET = 37_500.0  # the server's clock is 37.5 s ahead of this device's


def sample(at: float, up: float, down: float, offset: float = TRUE_OFFSET) -> clock.ClockSample:
    """A ping sent at `at` (device ms) that took `up` ms to the server and `down` ms back."""
    t1 = at + up + offset
    return clock.ClockSample(t0=at, t1=t1, t2=t1 + 0.2, t3=at + up + 0.2 + down)


def test_one_fast_ping_outvotes_slow_ones():
    # Two pings stuck behind a busy main thread on the way back (t3 late: offset 15 ms low)
    # and one clean one. The median of the three fastest would be a slow one's answer.
    slow = [sample(0, 2, 32), sample(60, 2, 30)]
    fast = sample(120, 1, 1)
    estimate = clock.estimate_offset(slow + [fast])
    assert estimate.offset_ms == pytest.approx(TRUE_OFFSET, abs=0.5)
    assert estimate.rtt_ms == pytest.approx(fast.rtt)
    assert abs(sorted(s.offset for s in slow + [fast])[1] - TRUE_OFFSET) > 10  # what the median said


def test_comparably_fast_pings_vote_and_one_odd_one_cannot_move_the_estimate():
    # Three pings within RTT_SLACK_MS of each other: their median, not the single fastest.
    pings = [sample(0, 1.0, 1.2), sample(60, 1.1, 1.0), sample(120, 0.9, 2.9)]  # the last is 1 ms off
    estimate = clock.estimate_offset(pings)
    assert pings[2].rtt <= min(p.rtt for p in pings) + clock.RTT_SLACK_MS
    assert estimate.offset_ms == pytest.approx(sorted(p.offset for p in pings)[1])
    assert abs(estimate.offset_ms - TRUE_OFFSET) < 0.2


def test_the_estimate_forgets_samples_older_than_the_window():
    # A fast ping from long ago (the clock has since been changed by 40 ms) no longer counts.
    old = sample(0, 0.5, 0.5, offset=TRUE_OFFSET - 40)
    recent = [sample(1000 + 60 * i, 3, 3) for i in range(clock.WINDOW)]  # slower than old by > slack
    assert clock.estimate_offset([old] + recent[:-1]).offset_ms == pytest.approx(TRUE_OFFSET - 40, abs=0.5)
    assert clock.estimate_offset([old] + recent).offset_ms == pytest.approx(TRUE_OFFSET, abs=0.5)
    assert clock.estimate_offset([old] + recent).samples == clock.WINDOW + 1


def test_the_page_gets_the_window_and_slack():
    policy = clock.browser_policy()
    assert policy["window"] == clock.WINDOW and policy["rttSlackMs"] == clock.RTT_SLACK_MS
