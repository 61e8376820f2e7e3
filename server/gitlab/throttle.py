"""The REST rate-limit knob: N REST requests answer 429 (after the first ``let_through``), as
GitLab's throttles do.

GitLab answers a throttled request with 429, ``Retry-After`` (seconds) and ``RateLimit-*``
headers (``RateLimit-Limit``, ``-Observed``, ``-Remaining``, ``-Reset`` as epoch seconds,
``-ResetTime`` as an HTTP date). Tests set how many requests to refuse and how long to ask for.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

DEFAULT_RETRY_AFTER_SECONDS = 1
RATE_LIMIT = 600  # GitLab.com's authenticated API limit per minute, for the headers' look


@dataclass(slots=True)
class RestThrottle:
    """Mutable on purpose: tests turn it on and off while the stand-in runs."""

    refuse_next: int = 0
    let_through: int = 0  # requests answered normally before the refusals start
    retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS
    refused: int = 0  # how many 429s were answered

    def take(self) -> dict[str, str] | None:
        """The 429's headers if this request is refused, else None."""
        if self.refuse_next <= 0:
            return None
        if self.let_through > 0:
            self.let_through -= 1
            return None
        self.refuse_next -= 1
        self.refused += 1
        reset = time.time() + self.retry_after_seconds
        return {"Retry-After": str(self.retry_after_seconds),
                "RateLimit-Limit": str(RATE_LIMIT), "RateLimit-Observed": str(RATE_LIMIT + 1),
                "RateLimit-Remaining": "0", "RateLimit-Reset": str(int(reset)),
                "RateLimit-ResetTime": email.utils.formatdate(reset, usegmt=True)}
