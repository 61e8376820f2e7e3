"""GitLab's circuit breaker for streaming destinations, as a pure value.

GitLab (17.x+) stops sending to a destination that keeps failing: 5 failures (a non-2xx
answer, a timeout, a connection error) within 5 minutes open the circuit, and for the next 15
minutes every event for that destination is skipped without a word, to the destination or in
any log a customer sees. Then it closes again and failures are counted afresh. ``time_scale``
shrinks both times for tests (0.001: 5 failures in 0.3 s, skipped for 0.9 s).
"""

from __future__ import annotations

from dataclasses import dataclass

FAILURES_TO_OPEN = 5
FAILURE_WINDOW_SECONDS = 300.0
OPEN_SECONDS = 900.0


@dataclass(frozen=True, slots=True)
class Breaker:
    """One destination's recent failures (monotonic times), and until when it is open."""

    failures: tuple[float, ...] = ()
    open_until: float | None = None

    def is_open(self, now: float) -> bool:
        return self.open_until is not None and now < self.open_until

    def after(self, now: float, failed: bool, time_scale: float) -> Breaker:
        """The breaker once a delivery ended (``failed`` or not) at ``now``."""
        # Closed again once the time is over: failures are counted afresh.
        current = Breaker() if self.open_until is not None and now >= self.open_until else self
        if not failed or current.is_open(now):
            return current
        window = FAILURE_WINDOW_SECONDS * time_scale
        failures = (*(t for t in current.failures if now - t <= window), now)
        if len(failures) >= FAILURES_TO_OPEN:
            return Breaker((), now + OPEN_SECONDS * time_scale)
        return Breaker(failures)
