"""Clock math: NTP-style offset estimation and the drift-correction policy, as pure functions.

The browser (static/party.js) runs the same rules with the numbers defined here: the party page
carries `browser_policy()` in a data attribute (one source), and a browser test checks that the
JS `correction`, `learnRateJump` and `quality` answer as the functions here do.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

# Of a burst of pings, the fastest round trips are the least disturbed by queueing: a
# sample's offset error is at most half its round trip. So the estimate comes from the
# lowest-RTT samples of the last WINDOW: the fastest, and of the next KEEP_FASTEST - 1
# those within RTT_SLACK_MS of it (their median resists one odd sample). A sample much
# slower than the fastest gets no vote: one clean ping outvotes any number of queued ones.
KEEP_FASTEST = 3
WINDOW = 30           # samples kept: the first burst (10) and four 15 s refreshes (5 each)
RTT_SLACK_MS = 4.0    # within this of the fastest round trip: error bound within 2 ms of it

# Drift policy (milliseconds of playback position against the party's position).
# Below this: nothing (sound travels 2.7 m in 8 ms). Smaller chased the clock estimate's
# own noise under load (a few ms when a new ping burst lands): each needless excursion
# costs a second of readings that wobble by +-5 ms. A correction aims at 0, not the edge.
DEADBAND_MS = 8
SEEK_MS = 250        # above this: a seek is cheaper than minutes of rate change
RATE_HORIZON_S = 1.0  # a rate excursion plans to absorb the drift within ~1 s
MAX_RATE_DELTA = 0.05  # at most 5 % faster/slower: inaudible with pitch preserved
# Right after a start (a track boundary, a join, a seek) and after each correction the
# error is read within ~0.1 s and is steady to a millisecond, not noise: it is absorbed
# at once (planned over LANDING_HORIZON_S, at up to LANDING_MAX_RATE_DELTA: 30 ms in
# 0.3 s at 10 %, pitch preserved) and read and corrected again, up to a few rounds, until
# it is inside LANDING_DEADBAND_MS. That is the dead band's hysteresis: the steady loop
# acts past DEADBAND_MS and its correction is then finished like a landing, so two
# listeners do not rest 12-14 ms apart on opposite sides of the 8 ms band. Not tighter: an
# excursion's own jump varies in ~3 ms steps (-17 to -24 ms, Chromium, measured), and each
# one dips the position by about that jump for ~0.1-0.2 s, more than a 4 ms error costs.
LANDING_HORIZON_S = 0.1
LANDING_MAX_RATE_DELTA = 0.10
LANDING_DEADBAND_MS = 5
# Chromium plays a rate within a few tenths of a percent of 1 as 1 (measured: 1.002 for
# 400 ms moved the position by nothing, neither tempo nor jump; 1.005 by both), so a
# correction that needs almost no tempo (a start that landed one jump ahead, as aimed)
# must still change the rate enough for its jump to happen.
MIN_RATE_DELTA = 0.01
# Changing playbackRate moves the position by itself: in Chromium every change costs
# about -20 ms (measured: the same for +-0.3 % and +-5 %, from 1.0 or not). A guest starts
# from that prior and learns its own jump from its excursions (`learn_rate_jump`).
RATE_JUMP_PRIOR_MS = -20.0
JUMP_LEARNING = 0.5   # weight of the newest observation in the learned jump
MAX_JUMP_MS = 60      # a larger "jump" is something else (a stall), not learned
GOOD_MS = 20
MEDIUM_MS = 80


def browser_policy() -> dict[str, float]:
    """The numbers party.js needs, in its own (camelCase) names: rendered into the party page."""
    return {"keepFastest": KEEP_FASTEST, "window": WINDOW, "rttSlackMs": RTT_SLACK_MS,
            "deadbandMs": DEADBAND_MS, "seekMs": SEEK_MS,
            "rateHorizonS": RATE_HORIZON_S, "landingHorizonS": LANDING_HORIZON_S, "maxRateDelta": MAX_RATE_DELTA,
            "landingMaxRateDelta": LANDING_MAX_RATE_DELTA, "landingDeadbandMs": LANDING_DEADBAND_MS,
            "minRateDelta": MIN_RATE_DELTA, "rateJumpPriorMs": RATE_JUMP_PRIOR_MS,
            "jumpLearning": JUMP_LEARNING, "maxJumpMs": MAX_JUMP_MS, "goodMs": GOOD_MS,
            "mediumMs": MEDIUM_MS}


@dataclass(frozen=True)
class ClockSample:
    """One ping: t0 client send, t1 server receive, t2 server send, t3 client receive (ms)."""

    t0: float
    t1: float
    t2: float
    t3: float

    @property
    def offset(self) -> float:
        """server clock - client clock, assuming the path is symmetric."""
        return ((self.t1 - self.t0) + (self.t2 - self.t3)) / 2.0

    @property
    def rtt(self) -> float:
        return max(0.0, (self.t3 - self.t0) - (self.t2 - self.t1))


@dataclass(frozen=True)
class ClockEstimate:
    offset_ms: float
    rtt_ms: float
    samples: int


def estimate_offset(samples: list[ClockSample], keep: int = KEEP_FASTEST,
                    window: int = WINDOW) -> ClockEstimate:
    """The offset from the lowest-RTT samples of the last `window` (oldest first): the median
    of the fastest and those of the next `keep` - 1 within RTT_SLACK_MS of its round trip."""
    if not samples:
        raise ValueError("at least one clock sample is needed")
    fastest = sorted(samples[-max(1, window):], key=lambda s: s.rtt)[:max(1, keep)]
    best = fastest[0].rtt
    voters = [s for s in fastest if s.rtt <= best + RTT_SLACK_MS]
    return ClockEstimate(offset_ms=statistics.median(s.offset for s in voters),
                         rtt_ms=best, samples=len(samples))


@dataclass(frozen=True)
class Correction:
    """`rate` held for `duration_ms`, then back to 1 (one excursion: each change costs a jump)."""

    action: str  # "none" | "rate" | "seek"
    rate: float = 1.0
    duration_ms: float = 0.0


def correction(drift_ms: float, jump_ms: float = RATE_JUMP_PRIOR_MS, landing: bool = False) -> Correction:
    """What to do about a guest `drift_ms` ahead (+) or behind (-) the party position,
    given that a rate change moves this guest's position by `jump_ms` on its own. `landing`:
    the error was read just after a start or a correction (steady, not noise): the landing
    dead band, horizon and top rate apply."""
    size = abs(drift_ms)
    if size < (LANDING_DEADBAND_MS if landing else DEADBAND_MS):
        return Correction("none")
    if size >= SEEK_MS:
        return Correction("seek")
    needed = -drift_ms - jump_ms  # what the excursion's tempo must add to the position
    horizon_s = LANDING_HORIZON_S if landing else RATE_HORIZON_S
    top = LANDING_MAX_RATE_DELTA if landing else MAX_RATE_DELTA
    delta = min(top, max(MIN_RATE_DELTA, abs(needed) / 1000.0 / horizon_s))
    rate = 1.0 + delta if needed > 0 else 1.0 - delta
    # The shortest excursion when the jump alone does (nearly) all the work.
    duration = max(100.0, abs(needed) / delta)
    return Correction("rate", rate, duration)


def excursion_effect_ms(rate: float, elapsed_ms: float) -> float:
    """How far playing at `rate` for `elapsed_ms` moves a guest against the party."""
    return (rate - 1.0) * elapsed_ms


def learn_rate_jump(learned_ms: float | None, drift_before: float, drift_after: float,
                    planned_ms: float) -> float | None:
    """The rate-change jump after one more excursion: what moved beyond the plan."""
    observed = drift_after - drift_before - planned_ms
    if abs(observed) > MAX_JUMP_MS:
        return learned_ms
    if learned_ms is None:
        return observed
    return learned_ms + JUMP_LEARNING * (observed - learned_ms)


def sync_quality(drift_ms: float, rtt_ms: float) -> str:
    """Good / Medium / Poor from the drift and the uncertainty of the clock estimate (rtt/2)."""
    error = abs(drift_ms) + rtt_ms / 2.0
    if error <= GOOD_MS:
        return "Good"
    if error <= MEDIUM_MS:
        return "Medium"
    return "Poor"
