"""Delivering one batch: send it, and act on the sink's decision until all of it is confirmed.

The sink turns its own answer into a decision (``relay.decision``); this module only acts on
it: count a delivery (or hand it to the indexer's acknowledgement), retry after a backoff,
split, dead-letter one event, or pause. Nothing here reads a status or a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from auditstream.relay.acks import AckSlot, AckTracker
from auditstream.relay.batch import Batch
from auditstream.relay.config import RetrySettings
from auditstream.relay.cursor import write_retrying
from auditstream.relay.decision import (
    DeadLetterEvent,
    Decision,
    Delivered,
    Pause,
    Retry,
    Split,
    backoff_delay,
)
from auditstream.relay.flow import SendGate, SendTurn
from auditstream.relay.metrics import RelayMetrics, SinkState
from auditstream.relay.pipeline_status import PipelineStatus
from auditstream.relay.sinks.base import Sink
from auditstream.relay.sources import DeliverySource
from auditstream.relay.window import Window, WindowsInFlight

log = logging.getLogger("auditstream.relay")


class BatchDelivery:
    """What every sender of one sink's pipeline shares to deliver its batches."""

    def __init__(self, sink: Sink, journal: DeliverySource, *, retry: RetrySettings,
                 metrics: RelayMetrics, status: PipelineStatus, windows: WindowsInFlight,
                 acks: AckTracker | None, rng: random.Random) -> None:
        self._sink = sink
        self._name = sink.name
        self._journal = journal
        self._retry_settings = retry
        self._metrics = metrics
        self._status = status
        self._windows = windows
        self._acks = acks
        self._rng = rng
        self._gate = SendGate()
        self._stopping = asyncio.Event()

    def stop_waiting(self) -> None:
        """The pipeline stops: a sender waiting to try a failing sink again gives its batch
        up now, not at the end of the stop's grace. Nothing of it is in flight, and its
        window stays unconfirmed, so the journal keeps it for the next start. (Under
        ``auditstream run`` the receiver has stopped listening by then: every second spent
        waiting on a sink that is down is a second of GitLab's events refused.)"""
        self._stopping.set()

    async def deliver(self, window: Window, batch: Batch) -> None:
        """Send until every envelope is confirmed, awaiting its ack, or dead-lettered; or
        until the pipeline stops while the sink fails (``stop_waiting``)."""
        parts: list[Batch] = [batch]
        attempt = 0
        async with self._gate.turn() as turn:
            while parts:
                part = parts.pop(0)
                await turn.wait_for_failing_sender()
                decision = await self._attempt(window, part, turn)
                if isinstance(decision, Delivered):
                    attempt = 0
                    continue
                if isinstance(decision, Retry | Pause):
                    await turn.failed()  # the sink is failing: one request at a time, ours
                following = await self._act_on_failure(window, part, decision, attempt)
                if following is None:
                    return  # stopping: the window is left unconfirmed
                parts[:0] = following
                attempt += 1
        self._windows.confirm(window)  # the batch's own unit; parts awaiting acks hold theirs

    async def _attempt(self, window: Window, part: Batch, turn: SendTurn) -> Decision:
        if self._acks is None:
            decision = await self._sink.send(part)
            if isinstance(decision, Delivered):
                turn.succeeded()
                self._delivered(window, part, decision, None)
            return decision
        # Room among the batches awaiting acknowledgement, taken before sending: given back
        # on leaving unless the batch got an ackId (then its answer or expiry gives it back).
        async with self._acks.slot() as slot:
            decision = await self._sink.send(part)
            if isinstance(decision, Delivered):
                turn.succeeded()
                self._delivered(window, part, decision, slot)
        return decision

    def _delivered(self, window: Window, part: Batch, decision: Delivered,
                   slot: AckSlot | None) -> None:
        # A request sent before another sender's attempt failed may still succeed: the sink
        # is running again only once that sender (holding the gate) succeeds too.
        if self._status.state is not SinkState.RUNNING and not self._gate.failing:
            log.info("sink delivers again", extra={"sink": self._name})
            self._status.set(SinkState.RUNNING)
        self._status.delivered()
        if slot is not None and self._acks is not None and decision.ack_id is not None:
            window.outstanding += 1
            slot.await_ack(decision.ack_id, window, part)
            self._metrics.pending_acks.labels(self._name).set(len(self._acks))
            return
        self._metrics.delivered.labels(self._name).inc(len(part))

    def acknowledged(self, window: Window, part: Batch) -> None:
        """The indexer confirmed ``part`` (``AckTracker``'s ``on_confirmed``)."""
        assert self._acks is not None
        self._metrics.delivered.labels(self._name).inc(len(part))
        self._metrics.pending_acks.labels(self._name).set(len(self._acks))
        self._windows.confirm(window)

    async def _act_on_failure(self, window: Window, part: Batch, decision: Decision,
                              attempt: int) -> list[Batch] | None:
        """What to send next after a failed attempt, once waited as the decision requires;
        None when the pipeline stopped while waiting."""
        if isinstance(decision, Split):
            log.info("splitting a batch of %d: %s", len(part), decision.reason,
                     extra={"sink": self._name})
            return list(part.split())
        if isinstance(decision, DeadLetterEvent):
            return await self._dead_letter(window, part, decision)
        if isinstance(decision, Pause):
            return [part] if await self._pause(decision) else None
        assert isinstance(decision, Retry)
        rest = await self._retry(part, decision, attempt)
        return None if rest is None else [rest]

    async def _wait_to_try_again(self, seconds: float) -> bool:
        """Wait ``seconds`` before the next attempt; False, at once, when the pipeline
        stops meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return not self._stopping.is_set()

    async def _retry(self, part: Batch, decision: Retry, attempt: int) -> Batch | None:
        self._metrics.retried.labels(self._name).inc()
        self._status.set(SinkState.RETRYING)
        rest = part
        if decision.accepted and self._acks is None:
            # Splunk took the envelopes before invalid-event-number: send only what follows.
            self._metrics.delivered.labels(self._name).inc(decision.accepted)
            rest = part.without_first(decision.accepted) or part
        settings = self._retry_settings
        delay = backoff_delay(attempt, decision.retry_after, base=settings.backoff_base_seconds,
                              cap=settings.backoff_cap_seconds, rng=self._rng)
        log.warning("retrying in %.1f s: %s", delay, decision.reason,
                    extra={"sink": self._name, "attempt": attempt + 1, "events": len(rest)})
        return rest if await self._wait_to_try_again(delay) else None

    async def _dead_letter(self, window: Window, part: Batch,
                           decision: DeadLetterEvent) -> list[Batch]:
        bad = part.envelopes[decision.position]
        event = window.events[bad.seq]
        await write_retrying(lambda: self._journal.dead_letter(
            self._name, event, decision.reason), sink=self._name)
        self._metrics.dead_lettered.labels(self._name).inc()
        log.error("dead letter: the sink will never accept this event: %s", decision.reason,
                  extra={"sink": self._name, "event_id": event.event_id, "seq": event.seq})
        if self._acks is None:
            self._metrics.delivered.labels(self._name).inc(decision.position)
            rest = part.without_first(decision.position + 1)
            return [rest] if rest else []
        # With acknowledgement a 400 gives no ackId for the accepted prefix: send it again.
        kept = part.envelopes[:decision.position] + part.envelopes[decision.position + 1:]
        return [Batch(kept)] if kept else []

    async def _pause(self, decision: Pause) -> bool:
        """Wait the pause out: True to try again, False when the pipeline stopped."""
        status = self._status
        if status.state is not SinkState.PAUSED or status.pause_reason != decision.reason:
            log.error("sink paused, nothing is dropped; fix its %s: %s", decision.setting,
                      decision.reason, extra={"sink": self._name})
        status.set(SinkState.PAUSED, decision.reason)
        return await self._wait_to_try_again(self._retry_settings.pause_retry_seconds)
