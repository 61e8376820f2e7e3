"""The streamer: POSTs planned deliveries as GitLab's streaming worker does, and records each.

One request per event and destination, all concurrent (bounded by ``max_concurrency``), an
``timeout``-second total timeout, and no retry of any kind: a timeout, a connection error or a
non-2xx answer is recorded and forgotten, as GitLab forgets it.

With the ``batch_size`` knob, GitLab's newer batched delivery instead: a destination's events
as one JSON array per POST, sent again after a non-2xx (``streaming.redelivery_wait``). Each
event of a batch is recorded as its own delivery, with that event's element as its body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine, Sequence
from dataclasses import replace

import aiohttp

from auditstream.server.gitlab.circuit import Breaker
from auditstream.server.gitlab.core import GitLabCore
from auditstream.server.gitlab.deliveries import Deliveries, Delivery, Result
from auditstream.server.gitlab.events import AuditEvent
from auditstream.server.gitlab.streaming import (
    Knobs,
    Planned,
    Reason,
    batch_request,
    batches,
    plan,
    redelivery_wait,
)

log = logging.getLogger("auditstream.server.gitlab")


class Streamer:
    """Streams what ``core`` records to its destinations; knobs can change at any time."""

    def __init__(self, core: GitLabCore, deliveries: Deliveries, *, timeout: float,
                 max_concurrency: int, knobs: Knobs | None = None) -> None:
        self.core = core
        self.deliveries = deliveries
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self._knobs = knobs or Knobs()
        self._rng = random.Random(self._knobs.seed)  # noqa: S311 (test realism, not secrets)
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._breakers: dict[str, Breaker] = {}  # by destination gid

    @property
    def knobs(self) -> Knobs:
        return self._knobs

    @knobs.setter
    def knobs(self, knobs: Knobs) -> None:
        """New knobs, and a generator seeded afresh so a seeded run repeats exactly."""
        self._knobs = knobs
        self._rng = random.Random(knobs.seed)  # noqa: S311

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.max_concurrency)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout))
        self.core.on_events(self.stream)

    def stream(self, events: Sequence[AuditEvent]) -> None:
        """Plan the events' deliveries and start them."""
        planned = plan(events, list(self.core.store.all()), self.core.directory,
                       self._knobs, self._rng)
        if self._knobs.batch_size:
            for delivery in planned:
                if delivery.dropped:
                    self.deliveries.add(_record(self.deliveries.next_number(), delivery,
                                                Result.DROPPED, None, None, time.time(), 0.0))
            for batch in batches(planned, self._knobs.batch_size):
                self._start(self._send_batch(batch, self._knobs.redelivery_scale))
            return
        for delivery in planned:
            number = self.deliveries.next_number()
            skipped = Result.DROPPED if delivery.dropped else \
                Result.CIRCUIT_OPEN if self.circuit_open(delivery.destination.gid) else None
            if skipped is not None:
                self.deliveries.add(_record(number, delivery, skipped, None, None,
                                            time.time(), 0.0))
                continue
            self._start(self._send(number, delivery))

    def _start(self, sending: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(sending)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def circuit_open(self, destination_gid: str) -> bool:
        """Whether GitLab's circuit breaker skips the destination now (with the knob on)."""
        breaker = self._breakers.get(destination_gid)
        return self._knobs.circuit_breaker and breaker is not None and \
            breaker.is_open(time.monotonic())

    def _count(self, destination_gid: str, failed: bool) -> None:
        if not self._knobs.circuit_breaker:
            return
        breaker = self._breakers.get(destination_gid, Breaker())
        self._breakers[destination_gid] = breaker.after(time.monotonic(), failed,
                                                        self._knobs.circuit_time_scale)

    async def settle(self) -> None:
        """Wait until every delivery started so far has finished."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def close(self) -> None:
        """Let in-flight deliveries end (each is bounded by the timeout), then close."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settle(), self.timeout + 1)
        for task in list(self._in_flight):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    async def _send(self, number: int, delivery: Planned) -> None:
        started = time.time()
        clock = time.monotonic()
        result, status, error = await self._post(delivery.destination.url, delivery.headers,
                                                 delivery.body)
        record = _record(number, delivery, result, status, error, started,
                         time.monotonic() - clock)
        self.deliveries.add(record)
        self._count(delivery.destination.gid, result is not Result.DELIVERED)
        log.debug("delivery", extra={
            "number": number, "event_id": record.event_id, "destination": record.destination_id,
            "reason": record.reason, "result": result.value, "status": status})

    async def _send_batch(self, batch: tuple[Planned, ...], scale: float) -> None:
        """One batch, tried until a 2xx or until GitLab would give up."""
        headers, body = batch_request(batch)
        tries = 0
        while True:
            tries += 1
            started, clock = time.time(), time.monotonic()
            result, status, error = await self._post(batch[0].destination.url, headers, body)
            for delivery in batch:
                sent = replace(delivery, headers=headers, job_attempt=tries,
                               reason=delivery.reason if tries == 1 else Reason.REDELIVERY)
                self.deliveries.add(replace(
                    _record(self.deliveries.next_number(), sent, result, status, error,
                            started, time.monotonic() - clock), batch=len(batch)))
            self._count(batch[0].destination.gid, result is not Result.DELIVERED)
            wait = None if result is Result.DELIVERED else redelivery_wait(tries, scale)
            if wait is None:
                return
            await asyncio.sleep(wait)

    async def _post(self, url: str, headers: tuple[tuple[str, str], ...],
                    body: bytes) -> tuple[Result, int | None, str | None]:
        if self._session is None:
            raise RuntimeError("the streamer is not started")
        try:
            # A redirect is an answer like any other non-2xx: following it could take a
            # test's traffic off loopback, and GitLab blocks redirects to unsafe hosts anyway.
            async with self._session.post(url, data=body, headers=list(headers),
                                          allow_redirects=False) as response:
                await response.read()
                status = response.status
        except TimeoutError:
            return Result.TIMEOUT, None, f"no answer within {self.timeout} s"
        except (aiohttp.ClientError, OSError) as exc:
            return Result.CONNECTION_ERROR, None, str(exc) or type(exc).__name__
        return (Result.DELIVERED if 200 <= status < 300 else Result.REFUSED), status, None


def _record(number: int, delivery: Planned, result: Result, status: int | None,
            error: str | None, started: float, seconds: float) -> Delivery:
    return Delivery(
        number=number, event_id=delivery.event.key, event_type=delivery.event.event_type,
        destination_id=delivery.destination.gid,
        destination_name=delivery.destination.name, url=delivery.destination.url,
        headers=dict(delivery.headers), body=delivery.body, reason=delivery.reason.value,
        job_attempt=delivery.job_attempt, result=result, status=status, error=error,
        started_at=started, seconds=seconds)
