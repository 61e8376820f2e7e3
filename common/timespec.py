"""Points in time as operators write them on the command line: pure, no clock read here.

    2026-12-04T10:00:00Z, 2026-12-04T10:00+01:00, 2026-12-04   ISO 8601 (no zone: UTC)
    90s, 15m, 2h, 7d, 2w                                         that long before ``now``

Shared by the commands that take a TIME (``replay --since/--until``, ``backfill``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


class TimeSpecError(ValueError):
    """The text is neither an ISO 8601 time nor a duration; ``str`` says what was expected.
    Retrying cannot help: the input must change."""


def parse_time(text: str, now: float) -> float:
    """Epoch seconds of ``text``: an ISO 8601 date or time (UTC unless it names a zone), or a
    duration back from ``now`` (``2h``, ``7d``)."""
    spec = text.strip()
    duration = _DURATION.fullmatch(spec.lower())
    if duration is not None:
        return now - float(duration.group(1)) * _UNITS[duration.group(2)]
    try:
        when = datetime.fromisoformat(spec)
    except ValueError:
        raise TimeSpecError(
            f"{text!r} is not a time: give an ISO 8601 time (2026-12-04T10:00:00Z) or a "
            "duration back from now (90s, 15m, 2h, 7d, 2w)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def format_time(when: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the second (what ``parse_time`` reads back)."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
