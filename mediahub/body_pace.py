"""The pace every request body must keep: a minimum average rate after a grace period, and an overall deadline.

A client that trickles a body (one byte every few seconds) would otherwise hold a socket, a
request task and, for uploads, a pending ledger row and a half-written object for as long as it
likes. `mediahub._compat.quart.BoundedBody` (the one reader of every request body) keeps the
clock and answers 408 when a rule below is broken; this module is only the arithmetic.

Time is counted only while the server is ready to read: while the body is paused because the
handler is busy (storage slow, a full buffer) the client is not to blame, and the clock stops.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BodyPace:
    #: bytes per second the body must average once `grace` seconds have passed (0: no minimum).
    #: The grace is an allowance: after t seconds, at least min_rate × (t − grace) bytes.
    min_rate: int = 1024
    grace: float = 30.0
    #: seconds the whole body may take, whatever its rate.
    deadline: float = 3600.0

    def due_in(self, received: int, waited: float) -> float:
        """Seconds of further waiting, with no more bytes, before a rule is broken (<= 0: broken)."""
        due = self.deadline - waited
        if self.min_rate:
            due = min(due, self.grace + received / self.min_rate - waited)
        return due

    def refusal(self, received: int, waited: float) -> str:
        """What the 408 says: which rule the body broke, with its numbers."""
        if waited >= self.deadline:
            return (f"the request body was not complete within {self.deadline:g} s "
                    f"({received} bytes received); send it again on a faster connection")
        return (f"the request body arrived too slowly: {received} bytes in {waited:.0f} s, "
                f"under the minimum of {self.min_rate} bytes/s after the first {self.grace:g} s")
