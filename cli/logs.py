"""Log lines for people and for log shippers: a message, then the fields as key=value."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from auditstream.common.printable import printable

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class FieldsFormatter(logging.Formatter):
    """``2026-11-29T21:46:27Z INFO auditstream.receiver request refused outcome=... path=...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s",
                         datefmt="%Y-%m-%dT%H:%M:%S%z")

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The message and every field are escaped (common/printable.py); a traceback that
        # format() appends afterwards keeps its lines.
        record.message = printable(record.message)
        line = super().formatMessage(record)
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if fields:
            line += " " + " ".join(f"{k}={printable(str(v))}" for k, v in fields.items())
        return line


class RepeatedLines(logging.Filter):
    """At most ``burst`` lines of one kind (logger, level, message) per ``window``
    seconds; the first line after a quiet spell says how many were left out (``suppressed=N``).

    A flood (forged requests, a broken peer, an accept loop out of descriptors) must not fill
    the disk or hide every other line: a security review saw 543 MB of one traceback in 110 s.
    """

    def __init__(self, burst: int = 10, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst, self.window, self._clock = burst, window, clock
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # start, count, dropped

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage()[:200])
        now = self._clock()
        state = self._seen.get(key)
        if state is None or now - state[0] >= self.window:
            if len(self._seen) > 10_000:  # many kinds: forget the old ones
                self._seen.clear()
            dropped = int(state[2]) if state is not None else 0
            self._seen[key] = [now, 1, 0]
            if dropped:
                record.suppressed = dropped
            return True
        if state[1] < self.burst:
            state[1] += 1
            return True
        state[2] += 1
        return False


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldsFormatter())
    handler.addFilter(RepeatedLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log would print one line per request at GitLab's rate; we count instead.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
