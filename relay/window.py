"""A window: the events of one journal read, cut into batches, confirmed as a whole.

A sink's cursor moves to a window's last event only when every batch of it, and of every
window before it, is confirmed (delivered, or acknowledged by the indexer, or dead-lettered).
After a crash the unconfirmed windows are sent again: the only duplicates we allow.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from auditstream.journal import StoredEvent
from auditstream.relay.batch import Batch, cut_batches
from auditstream.relay.config import BatchSettings
from auditstream.relay.envelope import EnvelopeSettings, encode


@dataclass(slots=True, eq=False)
class Window:
    """``outstanding`` counts what must still be confirmed: one unit per batch being sent,
    plus one per part of it awaiting the indexer's acknowledgement."""

    last_seq: int
    events: dict[int, StoredEvent]
    batches: list[Batch]
    outstanding: int = field(init=False)

    def __post_init__(self) -> None:
        self.outstanding = len(self.batches)

    @property
    def confirmed(self) -> bool:
        return self.outstanding == 0


def make_window(events: Sequence[StoredEvent], envelope: EnvelopeSettings,
                batch: BatchSettings) -> Window:
    envelopes = [encode(event, envelope) for event in events]
    return Window(last_seq=events[-1].seq, events={event.seq: event for event in events},
                  batches=cut_batches(envelopes, batch.max_events, batch.max_bytes))


class WindowLedger:
    """The windows in flight, oldest first; says how far the cursor may move."""

    def __init__(self) -> None:
        self._windows: deque[Window] = deque()
        self.events = 0  # in the windows in flight

    def add(self, window: Window) -> None:
        self._windows.append(window)
        self.events += len(window.events)

    def release(self, window: Window) -> tuple[int | None, int]:
        """One unit of ``window`` is confirmed: the new cursor (if it moves) and how many
        windows it moved over."""
        window.outstanding -= 1
        upto: int | None = None
        moved = 0
        while self._windows and self._windows[0].confirmed:
            done = self._windows.popleft()
            upto = done.last_seq
            self.events -= len(done.events)
            moved += 1
        return upto, moved

    def __len__(self) -> int:
        return len(self._windows)


class WindowsInFlight:
    """The windows read and not yet confirmed, and what they hold back.

    At most ``limit`` windows are in flight: reading waits for room (backpressure), and room
    comes back only as the cursor moves over confirmed windows, in claim order, whatever
    order their batches finished in. ``cursor_to`` gets each move; ``counted`` the events
    in flight after each change (a gauge)."""

    def __init__(self, limit: int, *, cursor_to: Callable[[int], None],
                 counted: Callable[[int], None]) -> None:
        self._ledger = WindowLedger()
        self._room = asyncio.Semaphore(limit)
        self._cursor_to = cursor_to
        self._counted = counted

    async def wait_for_room(self) -> None:
        """Before reading a window: given back by ``confirm`` once the cursor passes it."""
        await self._room.acquire()

    def add(self, window: Window) -> None:
        self._ledger.add(window)
        self._counted(self._ledger.events)

    def confirm(self, window: Window) -> None:
        """One unit of ``window`` is confirmed (delivered, acknowledged or dead-lettered)."""
        upto, moved = self._ledger.release(window)
        self._counted(self._ledger.events)
        for _ in range(moved):
            self._room.release()
        if upto is not None:
            self._cursor_to(upto)
