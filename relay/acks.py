"""Indexer acknowledgement: batches that the sink took but has not yet said are indexed.

One ``/ack`` request per interval asks about every pending id. True confirms the batch; an id
still false after the timeout is sent again (a duplicate at worst, never a loss). The number
of pending ids is capped: the sender waits for an ``AckSlot`` before sending, which holds
reading back (backpressure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from auditstream.relay.batch import Batch
from auditstream.relay.errors import RelayError
from auditstream.relay.sinks.base import Sink
from auditstream.relay.window import Window

log = logging.getLogger("auditstream.relay")


@dataclass(slots=True)
class PendingAck:
    window: Window
    batch: Batch
    sent_at: float


class AckSlot:
    """Room for one batch among those awaiting acknowledgement. Taken on entering (waiting
    while ``max_pending`` are pending); ``await_ack`` hands it to the batch's ackId, which
    gives it back once answered or expired; any other way out gives it back on leaving."""

    def __init__(self, room: asyncio.Semaphore, pending: dict[int, PendingAck]) -> None:
        self._room = room
        self._pending = pending
        self._handed_over = False

    async def __aenter__(self) -> AckSlot:
        await self._room.acquire()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if not self._handed_over:
            self._room.release()  # nothing got an ackId: nothing to wait for

    def await_ack(self, ack_id: int, window: Window, batch: Batch) -> None:
        """The sink took ``batch`` under ``ack_id``: it is pending until the indexer says."""
        self._pending[ack_id] = PendingAck(window, batch, time.monotonic())
        self._handed_over = True


class AckTracker:
    def __init__(self, sink: Sink, *, poll_seconds: float, timeout_seconds: float,
                 max_pending: int, on_confirmed: Callable[[Window, Batch], None],
                 on_expired: Callable[[Window, Batch], None]) -> None:
        self._sink = sink
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds
        self._on_confirmed = on_confirmed
        self._on_expired = on_expired
        self._pending: dict[int, PendingAck] = {}
        self._room = asyncio.Semaphore(max_pending)

    def __len__(self) -> int:
        return len(self._pending)

    def slot(self) -> AckSlot:
        """Room for one batch to await acknowledgement, taken before it is sent:
        ``async with tracker.slot() as slot``."""
        return AckSlot(self._room, self._pending)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            await self.poll_once()

    async def poll_once(self) -> None:
        if not self._pending:
            return
        ids = list(self._pending)
        try:
            answers = await self._sink.query_acks(ids)
        except RelayError as exc:
            log.warning("ack query failed: %s", exc, extra={"sink": self._sink.name})
            answers = {}
        now = time.monotonic()
        for ack_id in ids:
            pending = self._pending.get(ack_id)
            if pending is None:
                continue
            if answers.get(ack_id):
                self._finish(ack_id)
                self._on_confirmed(pending.window, pending.batch)
            elif now - pending.sent_at > self._timeout_seconds:
                log.warning("no acknowledgement in %.1f s: sending the batch again",
                            self._timeout_seconds,
                            extra={"sink": self._sink.name, "ack_id": ack_id,
                                   "events": len(pending.batch)})
                self._finish(ack_id)
                self._on_expired(pending.window, pending.batch)

    def _finish(self, ack_id: int) -> None:
        del self._pending[ack_id]
        self._room.release()
