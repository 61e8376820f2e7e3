"""One pipeline per sink: claim -> batch -> send -> confirm, each a named stage.

``_read_stage`` turns journal claims into windows of batches (``relay.window``);
``max_requests_in_flight`` send stages each deliver one batch at a time, acting on
``relay.decision.decide``; confirmation (immediate, or through ``relay.acks`` with indexer
acknowledgement) moves the cursor, in journal order whatever order batches finish in.

Several senders keep the sink busy while the relay encodes and compresses the next batch
(one request in flight left both sides idle half the time). Batches may then reach the sink
out of journal order (each batch is in order; Splunk orders by ``time``), as with Vector's
concurrent HEC sink. A failing sink still sees one request at a time: a sender whose attempt
failed holds ``_failing`` until it succeeds, and the others wait for it before sending.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from auditstream.journal import JournalError, StoredEvent
from auditstream.relay.acks import AckTracker
from auditstream.relay.batch import Batch
from auditstream.relay.config import AckSettings, BatchSettings, RetrySettings
from auditstream.relay.decision import (
    DeadLetterEvent,
    Decision,
    Delivered,
    Pause,
    Retry,
    Split,
    backoff_delay,
)
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.relay.formats import OCSF
from auditstream.relay.metrics import RelayMetrics, SinkState
from auditstream.relay.sinks.base import Sink, SinkHealth
from auditstream.relay.sources import DeliverySource
from auditstream.relay.window import Window, WindowLedger, make_window

log = logging.getLogger("auditstream.relay")

_JOURNAL_RETRY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    envelope: EnvelopeSettings
    batch: BatchSettings
    retry: RetrySettings
    ack: AckSettings
    poll_seconds: float
    windows_in_flight: int
    max_requests_in_flight: int


class SinkPipeline:
    """Delivers everything after the sink's cursor, at least once; each batch in journal order,
    and the batches too when only one request may be in flight."""

    def __init__(self, sink: Sink, journal: DeliverySource, settings: PipelineSettings,
                 metrics: RelayMetrics, rng: random.Random | None = None,
                 cursor_moved: Callable[[], None] = lambda: None) -> None:
        self.sink = sink
        self.name = sink.name
        self._journal = journal
        self._settings = settings
        self._metrics = metrics
        self._cursor_moved = cursor_moved  # the backlog gauge reads again (relay.backlog)
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not cryptography)
        self._ledger = WindowLedger()
        self._work: asyncio.Queue[tuple[Window, Batch]] = asyncio.Queue()
        self._window_slots = asyncio.Semaphore(settings.windows_in_flight)
        # Cursor moves for _cursor_stage, in claim order; None (from stop) ends it.
        self._confirmations: asyncio.Queue[int | None] = asyncio.Queue()
        self._busy_senders = 0
        self._idle = asyncio.Event()  # clear while any sender has a batch in hand
        self._idle.set()
        self._stopping = False  # senders take no new batch once stop() began
        self._stop_begun = False  # run() starts no stage once stop() began
        self._failing = asyncio.Lock()  # held by a sender retrying a failing sink
        senders = settings.max_requests_in_flight
        if sink.max_in_flight is not None:
            senders = min(senders, sink.max_in_flight)
        self._senders = [f"send{n}" for n in range(max(1, senders))]
        self._stages: dict[str, asyncio.Task[None]] = {}
        self._acks: AckTracker | None = None
        if sink.uses_acks:
            self._acks = AckTracker(
                sink, poll_seconds=settings.ack.poll_seconds,
                timeout_seconds=settings.ack.timeout_seconds,
                max_pending=settings.ack.max_pending,
                on_confirmed=self._acknowledged,
                on_expired=lambda window, batch: self._work.put_nowait((window, batch)))
        self.state = SinkState.STARTING
        self.pause_reason = ""  # why the sink is PAUSED; empty in any other state
        # What the last check of the sink found (``Relay.check_sinks``); None once a delivery
        # went through after it.
        self.check: SinkHealth | None = None
        self._delivered_at = float("-inf")  # monotonic
        self._set_state(SinkState.STARTING)

    # -- the stages ----------------------------------------------------------------------------

    def checked(self, health: SinkHealth, began: float) -> None:
        """A check of the sink begun at ``began`` (monotonic) found ``health``; a delivery
        since it began says more than a failed check, and is kept."""
        if health.ok or self._delivered_at < began:
            self.check = health

    @property
    def unusable(self) -> bool:
        """The last check found the sink unusable and nothing was delivered since."""
        return self.check is not None and not self.check.ok

    async def run(self) -> None:
        """Run until ``stop``; a failing stage (a bug) stops the others and is raised."""
        await self._journal.register_sink(self.name)
        if self._stop_begun:
            # stop() came while the sink was being registered (a Redis round trip): stages
            # started now would outlive it, and the relay's stop would wait on them.
            return
        self._cursor_moved()
        self._set_state(SinkState.RUNNING)
        self._stages = {"read": asyncio.create_task(self._read_stage()),
                        **{name: asyncio.create_task(self._send_stage())
                           for name in self._senders},
                        "cursor": asyncio.create_task(self._cursor_stage())}
        if self._acks is not None:
            self._stages["acks"] = asyncio.create_task(self._acks.run())
        try:
            done, _ = await asyncio.wait(self._stages.values(),
                                         return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:
            await self._cancel(*self._stages)  # none of them may outlive the pipeline
            raise
        failed = [task for task in done if not task.cancelled() and task.exception()]
        if failed:
            await self._cancel(*self._stages)
            raise failed[0].exception()  # type: ignore[misc]

    async def stop(self, grace_seconds: float) -> None:
        """Stop reading, let every batch in hand finish (within the grace), save the cursor."""
        self._stop_begun = True
        await self._cancel("read", "acks")
        self._stopping = True
        if not self._idle.is_set():
            idle = asyncio.create_task(self._idle.wait())
            await asyncio.wait([idle], timeout=grace_seconds)
            idle.cancel()
        await self._cancel(*self._senders)
        if self._acks is not None:
            # One last look: whatever the indexer confirmed by now need not be sent again.
            await self._acks.poll_once()
        await self._finish_cursor(grace_seconds)
        self._set_state(SinkState.STOPPED)

    async def _cancel(self, *names: str) -> None:
        tasks = [self._stages[name] for name in names if name in self._stages]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read_stage(self) -> None:
        while True:
            await self._window_slots.acquire()
            events = await self._claim()
            window = await self._make_window(events)
            self._add(window)

    def _add(self, window: Window) -> None:
        self._ledger.add(window)
        self._metrics.in_flight.labels(self.name).set(self._ledger.events)
        for batch in window.batches:
            self._work.put_nowait((window, batch))

    async def _make_window(self, events: list[StoredEvent]) -> Window:
        envelope, batch = self._settings.envelope, self._settings.batch
        if envelope.format != OCSF:
            return make_window(events, envelope, batch)
        # OCSF in a thread: its ~20 us an event would hold the loop, and the senders with it,
        # for a whole window (relay>hec ocsf/raw 0.34-0.44 -> 0.52-0.60, bench.relay_bench).
        making = asyncio.ensure_future(asyncio.to_thread(make_window, events, envelope, batch))
        try:
            return await asyncio.shield(making)
        except asyncio.CancelledError:
            # Stopping: the claimed events still join the ledger (unconfirmed), as if the
            # window had been made before the stop, so the cursor never passes them.
            self._add(await making)
            raise

    async def _claim(self) -> list[StoredEvent]:
        batch = self._settings.batch
        while True:
            try:
                events = await self._journal.claim(self.name, batch.max_events)
                if events and len(events) < batch.max_events and batch.max_wait_seconds > 0:
                    # A short claim: give the batch its max wait to fill up, once.
                    await self._journal.wait_for_append(batch.max_wait_seconds)
                    events += await self._journal.claim(self.name,
                                                        batch.max_events - len(events))
            except JournalError as exc:
                log.warning("cannot read the journal: %s", exc, extra={"sink": self.name})
                await asyncio.sleep(_JOURNAL_RETRY_SECONDS)
                continue
            if events:
                return events
            await self._journal.wait_for_append(self._settings.poll_seconds)

    async def _send_stage(self) -> None:
        while not self._stopping:
            window, batch = await self._work.get()
            self._busy_senders += 1
            self._idle.clear()
            try:
                await self._deliver(window, batch)
            finally:
                self._busy_senders -= 1
                if self._busy_senders == 0:
                    self._idle.set()

    async def _cursor_stage(self) -> None:
        """Writes cursor moves one at a time, so a slow journal write never blocks sending;
        returns after a None (from ``stop``), once what was confirmed before it is written."""
        while True:
            confirmed = [await self._confirmations.get()]
            while not self._confirmations.empty():
                confirmed.append(self._confirmations.get_nowait())
            # Confirmations come in claim order; the latest acks every claim before it too.
            moves = [upto for upto in confirmed if upto is not None]
            if moves:
                await self._save_cursor(moves[-1])
            if None in confirmed:
                return

    async def _finish_cursor(self, grace_seconds: float) -> None:
        """Let the cursor stage write every confirmation, then end. Cancelling it instead
        could cut off a write it had begun: stop() returned before the cursor was committed
        (a test reading the cursor right after stop failed now and then)."""
        self._confirmations.put_nowait(None)
        stage = self._stages.get("cursor")
        if stage is None or stage.done():
            await self._cursor_stage()  # it never ran (stopped before it began): write here
            return
        await asyncio.wait([stage], timeout=grace_seconds)
        await self._cancel("cursor")  # only still running when the journal would not write

    async def _save_cursor(self, upto: int) -> None:
        await self._journal_retrying(lambda: self._journal.ack(self.name, upto))
        self._cursor_moved()

    # -- delivering one batch ------------------------------------------------------------------

    async def _deliver(self, window: Window, batch: Batch) -> None:
        """Send until every envelope is confirmed, awaiting its ack, or dead-lettered."""
        parts: list[Batch] = [batch]
        attempt = 0
        failing = False  # this sender holds self._failing
        try:
            while parts:
                part = parts.pop(0)
                if not failing and self._failing.locked():
                    await self._wait_while_failing()
                if self._acks is not None:
                    await self._acks.wait_for_room()
                decision = await self._attempt(part)
                if isinstance(decision, Delivered):
                    attempt = 0
                    if failing:
                        failing = False
                        self._failing.release()
                    self._delivered(window, part, decision)
                    continue
                if self._acks is not None:
                    self._acks.release_room()
                if isinstance(decision, Retry | Pause) and not failing:
                    # The sink is failing: from now on one request at a time, ours.
                    await self._failing.acquire()
                    failing = True
                parts[:0] = await self._act_on_failure(window, part, decision, attempt)
                attempt += 1
        finally:
            if failing:
                self._failing.release()
        self._release(window)  # the batch's own unit; parts awaiting acks hold their own

    async def _wait_while_failing(self) -> None:
        """Another sender is retrying a failing sink: send nothing more until it succeeds."""
        async with self._failing:
            pass

    async def _attempt(self, part: Batch) -> Decision:
        return await self.sink.send(part)  # the sink turned its own answer into a decision

    def _delivered(self, window: Window, part: Batch, decision: Delivered) -> None:
        # A request sent before another sender's attempt failed may still succeed: the sink
        # is running again only once that sender (holding _failing) succeeds too.
        if self.state is not SinkState.RUNNING and not self._failing.locked():
            log.info("sink delivers again", extra={"sink": self.name})
            self._set_state(SinkState.RUNNING)
        self._delivered_at = time.monotonic()
        if self.unusable:
            log.info("sink takes events: it was found unusable at its last check",
                     extra={"sink": self.name})
            self.check = None
        self._metrics.last_success.labels(self.name).set(time.time())
        if self._acks is not None and decision.ack_id is not None:
            window.outstanding += 1
            self._acks.add(decision.ack_id, window, part)
            self._metrics.pending_acks.labels(self.name).set(len(self._acks))
            return
        if self._acks is not None:
            self._acks.release_room()  # taken without an ackId: nothing to wait for
        self._metrics.delivered.labels(self.name).inc(len(part))

    def _acknowledged(self, window: Window, part: Batch) -> None:
        assert self._acks is not None
        self._metrics.delivered.labels(self.name).inc(len(part))
        self._metrics.pending_acks.labels(self.name).set(len(self._acks))
        self._release(window)

    async def _act_on_failure(self, window: Window, part: Batch, decision: Decision,
                              attempt: int) -> list[Batch]:
        """What to send next after a failed attempt; waits as the decision requires."""
        if isinstance(decision, Split):
            log.info("splitting a batch of %d: %s", len(part), decision.reason,
                     extra={"sink": self.name})
            return list(part.split())
        if isinstance(decision, DeadLetterEvent):
            return await self._dead_letter(window, part, decision)
        if isinstance(decision, Pause):
            await self._pause(decision)
            return [part]
        assert isinstance(decision, Retry)
        return [await self._retry(part, decision, attempt)]

    async def _retry(self, part: Batch, decision: Retry, attempt: int) -> Batch:
        self._metrics.retried.labels(self.name).inc()
        self._set_state(SinkState.RETRYING)
        rest = part
        if decision.accepted and self._acks is None:
            # Splunk took the envelopes before invalid-event-number: send only what follows.
            self._metrics.delivered.labels(self.name).inc(decision.accepted)
            rest = part.without_first(decision.accepted) or part
        delay = backoff_delay(attempt, decision.retry_after,
                              base=self._settings.retry.backoff_base_seconds,
                              cap=self._settings.retry.backoff_cap_seconds, rng=self._rng)
        log.warning("retrying in %.1f s: %s", delay, decision.reason,
                    extra={"sink": self.name, "attempt": attempt + 1, "events": len(rest)})
        await asyncio.sleep(delay)
        return rest

    async def _dead_letter(self, window: Window, part: Batch,
                           decision: DeadLetterEvent) -> list[Batch]:
        bad = part.envelopes[decision.position]
        event = window.events[bad.seq]
        await self._journal_retrying(lambda: self._journal.dead_letter(
            self.name, event, decision.reason))
        self._metrics.dead_lettered.labels(self.name).inc()
        log.error("dead letter: the sink will never accept this event: %s", decision.reason,
                  extra={"sink": self.name, "event_id": event.event_id, "seq": event.seq})
        if self._acks is None:
            self._metrics.delivered.labels(self.name).inc(decision.position)
            rest = part.without_first(decision.position + 1)
            return [rest] if rest else []
        # With acknowledgement a 400 gives no ackId for the accepted prefix: send it again.
        kept = part.envelopes[:decision.position] + part.envelopes[decision.position + 1:]
        return [Batch(kept)] if kept else []

    async def _pause(self, decision: Pause) -> None:
        if self.state is not SinkState.PAUSED or self.pause_reason != decision.reason:
            log.error("sink paused, nothing is dropped; fix its %s: %s", decision.setting,
                      decision.reason, extra={"sink": self.name})
        self.pause_reason = decision.reason
        self._set_state(SinkState.PAUSED)
        await asyncio.sleep(self._settings.retry.pause_retry_seconds)

    # -- confirmation and bookkeeping ----------------------------------------------------------

    def _release(self, window: Window) -> None:
        upto, moved = self._ledger.release(window)
        self._metrics.in_flight.labels(self.name).set(self._ledger.events)
        for _ in range(moved):
            self._window_slots.release()
        if upto is not None:
            self._confirmations.put_nowait(upto)

    async def _journal_retrying(self, write: Callable[[], Awaitable[None]]) -> None:
        """Journal writes of the relay must not be lost: retry until they go through."""
        while True:
            try:
                await write()
                return
            except JournalError as exc:
                log.warning("journal write failed, retrying: %s", exc, extra={"sink": self.name})
                await asyncio.sleep(_JOURNAL_RETRY_SECONDS)

    def _set_state(self, state: SinkState) -> None:
        self.state = state
        if state is not SinkState.PAUSED:
            self.pause_reason = ""
        self._metrics.set_state(self.name, state)
