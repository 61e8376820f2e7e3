"""The backend-neutral journal interface: the seam between receiver and relay."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence

from journal.model import (
    AppendOutcome,
    DeadLetter,
    IncomingEvent,
    JournalStats,
    PurgeResult,
    StoredEvent,
)


class Journal(abc.ABC):
    """A durable, deduplicating log with one cursor per sink.

    Every method may raise ``JournalUnavailable`` (try later) or ``JournalClosed``.
    """

    @abc.abstractmethod
    async def append(self, events: Sequence[IncomingEvent]) -> list[AppendOutcome]:
        """Store the events not seen before; durable on disk when this returns.

        Dedup and store are one atomic step: an id is never known without its event.
        """

    @abc.abstractmethod
    async def register_sink(self, sink: str) -> None:
        """Make ``sink`` known (cursor at the start) so retention waits for it."""

    @abc.abstractmethod
    async def read(self, sink: str, limit: int, after: int | None = None) -> list[StoredEvent]:
        """Up to ``limit`` events after the sink's cursor (or after ``seq == after``, for a
        relay that has sent past its cursor and awaits confirmation), in journal order."""

    @abc.abstractmethod
    async def ack(self, sink: str, upto: int) -> None:
        """Everything up to ``seq == upto`` reached ``sink``; the cursor never moves back."""

    @abc.abstractmethod
    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        """Record that ``sink`` can never accept ``event``, and why."""

    @abc.abstractmethod
    async def dead_letters(self, sink: str | None, limit: int) -> list[DeadLetter]:
        """The most recent dead letters, of one sink or of all."""

    @abc.abstractmethod
    async def tail(self, limit: int) -> list[StoredEvent]:
        """The last ``limit`` events still held, oldest first."""

    @abc.abstractmethod
    async def stats(self) -> JournalStats:
        """Counts of events, duplicates refused, sinks' cursors and backlog, dead letters."""

    @abc.abstractmethod
    async def purge(self, now: float) -> PurgeResult:
        """Drop bodies every sink has and older than the retention; forget ids past the window."""

    @abc.abstractmethod
    async def check_writable(self) -> None:
        """Raise ``JournalUnavailable`` unless a write can go through now (for /readyz)."""

    async def wait_for_append(self, at_most: float) -> None:
        """Return when new events may be there, at the latest after ``at_most`` seconds.

        Backends that can tell (an append in this process) return early; others just wait,
        which makes a relay in another process poll."""
        await asyncio.sleep(at_most)

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release the backend. Idempotent."""
