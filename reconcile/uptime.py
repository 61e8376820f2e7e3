"""When nothing listened: the gaps between the receiving processes' recorded uptime. No I/O.

Each receiving process records (started_at, seen_at) in the journal at start, every
``HEARTBEAT_SECONDS`` and at a clean stop; a crashed one's last heartbeat is where its gap
begins (so a gap may start up to one heartbeat early: it errs towards saying "not listening").
Stream-only events sent inside a gap are lost for good; stored ones come back by reconcile.
"""

from __future__ import annotations

from collections.abc import Iterable

HEARTBEAT_SECONDS = 30.0
# A process heard from within two heartbeats is taken to be listening still: without that,
# the time since a live receiver's last heartbeat would read as a gap.
LIVE_WITHIN_SECONDS = 2 * HEARTBEAT_SECONDS
MIN_GAP_SECONDS = 0.001  # even a fast restart loses what GitLab sent meanwhile


def assume_live(spans: Iterable[tuple[float, float, bool]],
                now: float) -> list[tuple[float, float]]:
    """Spans of processes heard from lately and not stopped, extended to ``now`` (one that
    died in the last two heartbeats reads as listening until now: the one way this errs the
    other way)."""
    return [(start, now if not stopped and now - end <= LIVE_WITHIN_SECONDS else end)
            for start, end, stopped in spans]


def gaps(spans: Iterable[tuple[float, float]], since: float,
         until: float) -> list[tuple[float, float]]:
    """The parts of ``[since, until]`` no span covers, in order."""
    found: list[tuple[float, float]] = []
    cursor = since
    for start, end in sorted(spans):
        if start - cursor >= MIN_GAP_SECONDS:
            found.append((cursor, min(start, until)))
        cursor = max(cursor, end)
        if cursor >= until:
            return found
    if until - cursor >= MIN_GAP_SECONDS:
        found.append((cursor, until))
    return found
