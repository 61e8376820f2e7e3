"""The backend-neutral journal interface: the seam between receiver and relay.

A relay *claims* events of a sink, delivers them, then *acks* its claims in the order it made
them. With one reader per sink (SQLite) a claim is simply "the next events after what this
reader already holds", and an ack moves the sink's cursor. With several readers of one sink
(Redis Streams, one consumer group per sink) a claim hands out events no other reader holds,
and events that a crashed reader held become claimable again; an ack confirms exactly what
this reader claimed. Either way an event stops being owed to a sink only after an ack.
``read`` is the side-effect-free view: what follows the sink's cursor (or a given ``seq``).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence

from auditstream.journal.deadletters import DeadLetterSelection
from auditstream.journal.model import (
    STREAM,
    AppendOutcome,
    DeadLetter,
    IncomingEvent,
    JournalStats,
    PurgeResult,
    SinkPosition,
    StoredEvent,
)

# How far back the default ``newest_received_at`` looks: a destination quiet for longer than
# this many events of the others counts as quiet since the receiver started.
NEWEST_SCAN_EVENTS = 10_000


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
    async def known(self, instance: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` (dedup keys, ``id:<id>``) are remembered within ``instance``:
        what an append of them would call a duplicate now. Changes nothing."""

    @abc.abstractmethod
    async def record_uptime(self, process: str, started_at: float, seen_at: float,
                            stopped: bool = False) -> None:
        """Note that receiving ``process`` has been listening from ``started_at`` to at least
        ``seen_at`` (called at start, now and then, and with ``stopped`` at a clean stop), so
        reconcile can tell when nothing listened."""

    @abc.abstractmethod
    async def uptime(self, since: float, until: float) -> list[tuple[float, float, bool]]:
        """The (started_at, seen_at, stopped) of every receiving process overlapping the
        range, by start."""

    @abc.abstractmethod
    async def reconcile_progress(self, destination: str) -> float | None:
        """Up to when (epoch seconds) continuous reconcile of ``destination`` has completed
        a pass, as any process on this journal recorded it; None before the first."""

    @abc.abstractmethod
    async def record_reconcile_progress(self, destination: str, until: float) -> None:
        """A pass of ``destination`` completed up to ``until``; the progress never moves
        back (another process may have got further meanwhile)."""

    @abc.abstractmethod
    async def take_reconcile_turn(self, destination: str, holder: str, seconds: float,
                                  now: float) -> bool:
        """Whether ``holder`` (a receiving process) runs the next pass of ``destination``:
        yes unless another holder took the turn less than its ``seconds`` ago. Taking it
        (or taking it again) makes it ``holder``'s for ``seconds`` from ``now``. Receivers
        sharing a journal thus reconcile a destination one at a time, not each of them."""

    @abc.abstractmethod
    async def register_sink(self, sink: str) -> None:
        """Make ``sink`` known (cursor at the start) so retention waits for it, and start this
        reader afresh on it: whatever it claimed and never acked is claimable again."""

    @abc.abstractmethod
    async def read(self, sink: str, limit: int, after: int | None = None) -> list[StoredEvent]:
        """Up to ``limit`` events after the sink's cursor (or after ``seq == after``), in
        journal order. Changes nothing: for inspection and replay."""

    @abc.abstractmethod
    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` events for this reader to deliver to ``sink``: ones no other reader
        of the sink holds, each claim in journal order. Empty when there is nothing to do."""

    @abc.abstractmethod
    async def ack(self, sink: str, upto: int) -> None:
        """This reader's claims of ``sink``, up to the one whose last event has
        ``seq == upto``, reached the sink. The cursor never moves back."""

    @abc.abstractmethod
    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        """Record that ``sink`` can never accept ``event``, and why."""

    @abc.abstractmethod
    async def dead_letters(self, sink: str | None, limit: int) -> list[DeadLetter]:
        """The most recent dead letters, of one sink or of all, oldest first, each with its
        ``id``, its retry request and the whole event."""

    @abc.abstractmethod
    async def retry_dead_letters(self, ids: Sequence[str], now: float) -> int:
        """Ask for these dead letters to be sent again: each is marked "retry requested"
        (at ``now``, unless it already was) until its sink's pipeline delivers it and
        removes it. Unknown ids are ignored; returns how many are marked."""

    @abc.abstractmethod
    async def dead_letters_to_retry(self, sink: str, limit: int) -> list[DeadLetter]:
        """Up to ``limit`` dead letters of ``sink`` marked "retry requested", oldest first:
        what the sink's pipeline sends again. Where several readers share a sink (Redis),
        each is handed to one reader at a time, as ``claim`` does: this reader holds what it
        is given while it keeps asking, and another gets it once this one stops asking."""

    @abc.abstractmethod
    async def remove_dead_letters(self, ids: Sequence[str]) -> int:
        """Forget these dead letters (dropped by an operator, or delivered on a retry).
        Unknown ids are ignored; returns how many were removed."""

    async def select_dead_letters(self, selection: DeadLetterSelection,
                                  limit: int) -> list[DeadLetter]:
        """The most recent ``limit`` dead letters ``selection`` names, oldest first."""
        letters = await self.dead_letters(selection.sink, limit)
        return [letter for letter in letters if selection.matches(letter)]

    @abc.abstractmethod
    async def tail(self, limit: int) -> list[StoredEvent]:
        """The last ``limit`` events still held, oldest first."""

    @abc.abstractmethod
    async def stats(self) -> JournalStats:
        """Counts of events, duplicates refused, sinks' cursors and backlog, dead letters."""

    async def positions(self) -> tuple[SinkPosition, ...]:
        """Each sink's cursor and backlog, as ``stats`` gives them; backends with a cheaper
        read than the whole of ``stats`` say so here (the relay reads this every second)."""
        return (await self.stats()).sinks

    @abc.abstractmethod
    async def purge(self, now: float) -> PurgeResult:
        """Drop bodies every sink has and older than the retention; forget ids, and the
        receivers' uptime records, past the dedup window."""

    @abc.abstractmethod
    async def check_writable(self) -> None:
        """Raise ``JournalUnavailable`` unless a write can go through now (for /readyz)."""

    async def newest_received_at(self) -> dict[str, float]:
        """Each destination's newest ``received_at`` among the streamed events still held
        (for a restarted receiver's silence alarms; backfilled ones say nothing about the
        stream). This default looks at the last ``NEWEST_SCAN_EVENTS`` events; backends that
        can ask directly do."""
        newest: dict[str, float] = {}
        for event in await self.tail(NEWEST_SCAN_EVENTS):
            if event.origin == STREAM and \
                    event.received_at > newest.get(event.destination, 0.0):
                newest[event.destination] = event.received_at
        return newest

    async def wait_for_append(self, at_most: float) -> None:
        """Return when new events may be there, at the latest after ``at_most`` seconds.

        Backends that can tell (an append in this process) return early; others just wait,
        which makes a relay in another process poll."""
        await asyncio.sleep(at_most)

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release the backend. Idempotent."""
