"""One pipeline per sink: claim -> batch -> send -> confirm, each a named stage.

The read stage turns journal claims into windows of batches (``relay.window``) and hands
their batches to ``max_requests_in_flight`` send stages through a ``WorkQueue``; each sender
delivers one batch at a time (``relay.delivery``, acting on the sink's decisions);
confirmation (immediate, or through ``relay.acks`` with indexer acknowledgement) moves the
cursor (``relay.cursor``), in journal order whatever order batches finish in.

Several senders keep the sink busy while the relay encodes and compresses the next batch
(one request in flight left both sides idle half the time). Batches may then reach the sink
out of journal order (each batch is in order; Splunk orders by ``time``), as with Vector's
concurrent HEC sink. A failing sink still sees one request at a time (``flow.SendGate``).

Who owns what: ``WindowsInFlight`` the windows read and the room to read more;
``WorkQueue`` the batches waiting for a sender; ``BusySenders`` whether a sender has a batch
in hand (``stop`` waits for none); ``SendGate`` ordering while the sink fails; ``AckSlot``
the room among batches awaiting acknowledgement; ``CursorWriter`` the cursor's writes;
``PipelineStatus`` the state the relay reports.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from auditstream.journal import JournalError, StoredEvent
from auditstream.relay.acks import AckTracker
from auditstream.relay.batch import Batch
from auditstream.relay.config import AckSettings, BatchSettings, RetrySettings
from auditstream.relay.cursor import JOURNAL_RETRY_SECONDS, CursorWriter
from auditstream.relay.delivery import BatchDelivery
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.relay.flow import BusySenders, WorkQueue
from auditstream.relay.formats import OCSF
from auditstream.relay.metrics import RelayMetrics, SinkState
from auditstream.relay.pipeline_status import PipelineStatus
from auditstream.relay.sinks.base import Sink, SinkHealth
from auditstream.relay.sources import DeliverySource
from auditstream.relay.window import Window, WindowsInFlight, make_window

log = logging.getLogger("auditstream.relay")


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
        self._cursor_moved = cursor_moved  # the backlog gauge reads again (relay.backlog)
        self.status = PipelineStatus(sink.name, metrics)
        self._cursor = CursorWriter(journal, sink.name, cursor_moved)
        in_flight = metrics.in_flight.labels(sink.name)
        self._windows = WindowsInFlight(settings.windows_in_flight,
                                        cursor_to=self._cursor.move_to, counted=in_flight.set)
        self._work: WorkQueue[tuple[Window, Batch]] = WorkQueue()
        self._busy = BusySenders()
        self._stop_begun = False  # run() starts no stage once stop() began
        self._stages: dict[str, asyncio.Task[None]] = {}
        self._acks: AckTracker | None = None
        if sink.uses_acks:
            self._acks = AckTracker(
                sink, poll_seconds=settings.ack.poll_seconds,
                timeout_seconds=settings.ack.timeout_seconds,
                max_pending=settings.ack.max_pending,
                on_confirmed=lambda window, batch: self._delivery.acknowledged(window, batch),
                on_expired=lambda window, batch: self._work.put((window, batch)))
        self._delivery = BatchDelivery(
            sink, journal, retry=settings.retry, metrics=metrics, status=self.status,
            windows=self._windows, acks=self._acks,
            rng=rng or random.Random())  # noqa: S311 (jitter, not cryptography)
        senders = settings.max_requests_in_flight
        if sink.max_in_flight is not None:
            senders = min(senders, sink.max_in_flight)
        self._senders = [f"send{n}" for n in range(max(1, senders))]

    # -- what the relay reads and tells -------------------------------------------------------

    @property
    def state(self) -> SinkState:
        return self.status.state

    @property
    def pause_reason(self) -> str:
        return self.status.pause_reason

    @property
    def check(self) -> SinkHealth | None:
        return self.status.check

    @property
    def unusable(self) -> bool:
        """The last check found the sink unusable and nothing was delivered since."""
        return self.status.unusable

    def checked(self, health: SinkHealth, began: float) -> None:
        """A check of the sink begun at ``began`` (monotonic) found ``health``."""
        self.status.checked(health, began)

    # -- the stages ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until ``stop``; a failing stage (a bug) stops the others and is raised."""
        await self._journal.register_sink(self.name)
        if self._stop_begun:
            # stop() came while the sink was being registered (a Redis round trip): stages
            # started now would outlive it, and the relay's stop would wait on them.
            return
        self._cursor_moved()
        self.status.set(SinkState.RUNNING)
        self._stages = {"read": asyncio.create_task(self._read_stage()),
                        **{name: asyncio.create_task(self._send_stage())
                           for name in self._senders},
                        "cursor": asyncio.create_task(self._cursor.run())}
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
        """Stop reading, let every batch in hand finish (within the grace), save the cursor.
        A batch waiting to try a failing sink again does not wait: it is left unconfirmed,
        for the next start."""
        self._stop_begun = True
        self._delivery.stop_waiting()  # a failing sink's batch is not worth the grace
        await self._cancel("read", "acks")
        self._work.close()  # senders take no new batch
        await self._busy.wait_idle(grace_seconds)
        await self._cancel(*self._senders)
        if self._acks is not None:
            # One last look: whatever the indexer confirmed by now need not be sent again.
            await self._acks.poll_once()
        await self._finish_cursor(grace_seconds)
        self.status.set(SinkState.STOPPED)

    async def _cancel(self, *names: str) -> None:
        tasks = [self._stages[name] for name in names if name in self._stages]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read_stage(self) -> None:
        while True:
            await self._windows.wait_for_room()
            events = await self._claim()
            window = await self._make_window(events)
            self._add(window)

    def _add(self, window: Window) -> None:
        self._windows.add(window)
        for batch in window.batches:
            self._work.put((window, batch))

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
            # Stopping: the claimed events still join the windows in flight (unconfirmed), as
            # if the window had been made before the stop, so the cursor never passes them.
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
                await asyncio.sleep(JOURNAL_RETRY_SECONDS)
                continue
            if events:
                return events
            await self._journal.wait_for_append(self._settings.poll_seconds)

    async def _send_stage(self) -> None:
        async for window, batch in self._work:  # ends once stop() closed the queue
            with self._busy.busy():
                await self._delivery.deliver(window, batch)

    async def _finish_cursor(self, grace_seconds: float) -> None:
        """Let the cursor writer write every confirmation, then end. Cancelling it instead
        could cut off a write it had begun: stop() returned before the cursor was committed
        (a test reading the cursor right after stop failed now and then)."""
        self._cursor.close()
        stage = self._stages.get("cursor")
        if stage is None or stage.done():
            await self._cursor.run()  # it never ran (stopped before it began): write here
            return
        await asyncio.wait([stage], timeout=grace_seconds)
        await self._cancel("cursor")  # only still running when the journal would not write
