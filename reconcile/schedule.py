"""When continuous reconcile runs and over which window. No I/O here.

Each pass covers ``[done_until - overlap, now]``: the overlap catches events GitLab stored
with a ``created_at`` a little before they became listable (and clock skew). Without a state
(the first start) it looks back ``first_lookback``. It never looks back past the journal's
dedup window: an id forgotten by the journal would be appended a second time.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_EVERY_SECONDS = 600.0  # the "every N minutes (default 10)"
DEFAULT_OVERLAP_SECONDS = 300.0
# Kept clear of the dedup window's edge: a pass takes time, and ids expire meanwhile.
DEDUP_MARGIN_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Schedule:
    """A destination's opt-in: every ``every_seconds``, windows overlapping by
    ``overlap_seconds``."""

    every_seconds: float = DEFAULT_EVERY_SECONDS
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS


@dataclass(frozen=True, slots=True)
class Window:
    since: float
    until: float
    clipped: bool  # shortened to stay inside the dedup window


def next_window(schedule: Schedule, done_until: float | None, now: float,
                dedup_window_seconds: float) -> Window:
    """The next pass's range in epoch seconds."""
    wanted = (now - schedule.every_seconds - schedule.overlap_seconds if done_until is None
              else done_until - schedule.overlap_seconds)
    oldest = now - dedup_window_seconds + DEDUP_MARGIN_SECONDS
    since = max(wanted, oldest)
    return Window(since=min(since, now), until=now, clipped=since > wanted)
