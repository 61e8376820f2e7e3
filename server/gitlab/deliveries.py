"""Every delivery attempt the stand-in made and how it ended, kept for tests to inspect.

A test asserts on what was sent (URL, headers, body) and on what came of it: delivered
(2xx), refused (any other status, which GitLab ignores), timeout, connection error, or
dropped by a knob before it was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

DEFAULT_WAIT_SECONDS = 10.0


class Result(StrEnum):
    DELIVERED = "delivered"            # a 2xx answer
    REFUSED = "refused"                # any other answer: GitLab ignores it, no retry
    TIMEOUT = "timeout"                # no answer within the timeout
    CONNECTION_ERROR = "connection_error"
    DROPPED = "dropped"                # never sent (the drop knob)
    CIRCUIT_OPEN = "circuit_open"      # never sent: GitLab's circuit breaker skips it


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to POST one event to one destination.

    ``number`` is the order the attempt was started in (1, 2, ...); ``reason`` says why it
    was made (``event``, ``duplicate``, ``fresh_uuid``, ``job_retry``); ``headers`` are the
    ones the stand-in set (the destination's token included: this is a test tool); ``body``
    is exactly what was sent.
    """

    number: int
    event_id: str
    event_type: str
    destination_id: str
    destination_name: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    reason: str
    job_attempt: int
    result: Result
    status: int | None
    error: str | None
    started_at: float
    seconds: float
    batch: int = 1  # events in the POST that carried it (batched delivery: up to batch_size)

    @property
    def event(self) -> dict[str, Any]:
        """The body as JSON (GitLab sends JSON whatever the Content-Type says)."""
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed

    @property
    def sent(self) -> bool:
        return self.result not in (Result.DROPPED, Result.CIRCUIT_OPEN)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number, "event_id": self.event_id, "event_type": self.event_type,
            "destination_id": self.destination_id,
            "destination_name": self.destination_name, "url": self.url,
            "headers": dict(self.headers), "body": self.body.decode(),
            "reason": self.reason, "job_attempt": self.job_attempt,
            "result": self.result.value, "status": self.status, "error": self.error,
            "started_at": self.started_at, "seconds": self.seconds, "batch": self.batch,
        }


class Deliveries:
    """The record of delivery attempts, in the order they finished."""

    def __init__(self) -> None:
        self._records: list[Delivery] = []
        self._changed = asyncio.Event()
        self._numbers = 0

    def next_number(self) -> int:
        self._numbers += 1
        return self._numbers

    def add(self, delivery: Delivery) -> None:
        self._records.append(delivery)
        # Wake every waiter, then give later waiters a fresh event to wait on.
        self._changed.set()
        self._changed = asyncio.Event()

    def clear(self) -> None:
        """Forget the attempts so far (numbers go on counting)."""
        self._records.clear()

    @property
    def all(self) -> tuple[Delivery, ...]:
        return tuple(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def sent(self) -> list[Delivery]:
        """The attempts that were made (dropped ones left out), in the order started."""
        return sorted((d for d in self._records if d.sent), key=lambda d: d.number)

    def to(self, url_or_id: str) -> list[Delivery]:
        """Attempts to one destination (by URL or global ID), in the order started."""
        return sorted((d for d in self._records
                       if url_or_id in (d.url, d.destination_id)), key=lambda d: d.number)

    def of_event(self, event_id: str | int) -> list[Delivery]:
        return [d for d in self._records if d.event_id == str(event_id)]

    def results(self) -> Counter[Result]:
        return Counter(d.result for d in self._records)

    async def wait_for(self, count: int, *,
                       within: float = DEFAULT_WAIT_SECONDS) -> tuple[Delivery, ...]:
        """Wait until at least ``count`` attempts finished; TimeoutError says how many did."""
        deadline = time.monotonic() + within
        while len(self._records) < count:
            try:
                await asyncio.wait_for(self._changed.wait(),
                                       max(deadline - time.monotonic(), 0))
            except TimeoutError:
                if len(self._records) >= count:
                    break
                raise TimeoutError(f"waited {within} s for {count} deliveries, "
                                   f"{len(self._records)} finished") from None
        return self.all
