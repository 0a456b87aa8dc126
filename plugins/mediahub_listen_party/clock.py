"""Clock math: NTP-style offset estimation and the drift-correction policy, as pure functions.

The browser (static/party.js) runs the same rules; tests here pin the numbers down.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

# Of a burst of pings, the fastest round trips are the least disturbed by queueing: their
# offset error is bounded by half their (small) asymmetry.
KEEP_FASTEST = 3

# Drift policy (milliseconds of playback position against the party's position).
DEADBAND_MS = 8      # below this: nothing (a rate change itself costs Chromium ~15 ms, see docs)
SEEK_MS = 250        # above this: a seek is cheaper than minutes of rate change
RATE_HORIZON_S = 1.0  # a rate change plans to absorb the drift within ~1 s
MAX_RATE_DELTA = 0.05  # at most 5 % faster/slower: inaudible with pitch preserved

GOOD_MS = 20
MEDIUM_MS = 80


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


def estimate_offset(samples: list[ClockSample], keep: int = KEEP_FASTEST) -> ClockEstimate:
    """The offset from the `keep` lowest-RTT samples (their median: one outlier cannot move it)."""
    if not samples:
        raise ValueError("at least one clock sample is needed")
    fastest = sorted(samples, key=lambda s: s.rtt)[:max(1, keep)]
    return ClockEstimate(offset_ms=statistics.median(s.offset for s in fastest),
                         rtt_ms=fastest[0].rtt, samples=len(samples))


@dataclass(frozen=True)
class Correction:
    action: str  # "none" | "rate" | "seek"
    rate: float = 1.0


def correction(drift_ms: float) -> Correction:
    """What to do about a guest `drift_ms` ahead (+) or behind (-) the party position."""
    size = abs(drift_ms)
    if size < DEADBAND_MS:
        return Correction("none")
    if size >= SEEK_MS:
        return Correction("seek")
    delta = min(MAX_RATE_DELTA, size / 1000.0 / RATE_HORIZON_S)
    # Ahead -> play slower; behind -> faster.
    return Correction("rate", 1.0 - delta if drift_ms > 0 else 1.0 + delta)


def sync_quality(drift_ms: float, rtt_ms: float) -> str:
    """Good / Medium / Poor from the drift and the uncertainty of the clock estimate (rtt/2)."""
    error = abs(drift_ms) + rtt_ms / 2.0
    if error <= GOOD_MS:
        return "Good"
    if error <= MEDIUM_MS:
        return "Medium"
    return "Poor"
