"""What a sink's pipeline delivers: the journal after the sink's cursor, or one of two sources
that never touch that cursor.

``SinkPipeline`` needs five calls of what it reads (``DeliverySource``); the journal has them,
and so do:

- ``RangeSource``: a range of the journal, for ``auditstream replay``. It keeps its own
  position in memory and never acks the sink's cursor, so a replay neither moves the cursor
  back nor disturbs the live pipeline, and a replay that is killed changes nothing in the
  journal (only its dead letters, if the sink refuses an event again, are recorded).
- ``RetrySource``: the sink's dead letters an operator asked to retry; a claim's dead letters
  are removed only when the pipeline confirms it (the sink took them, or refused them again,
  which records a new dead letter with the new reason).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from auditstream.journal import DeadLetter, Journal, StoredEvent

# Retry requests are rare: how often the relay looks for them, at most.
RETRY_POLL_SECONDS = 1.0


class DeliverySource(Protocol):
    """The calls a ``SinkPipeline`` makes of what it delivers (``Journal`` has them)."""

    async def register_sink(self, sink: str) -> None: ...

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]: ...

    async def ack(self, sink: str, upto: int) -> None: ...

    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None: ...

    async def wait_for_append(self, at_most: float) -> None: ...


@dataclass(frozen=True, slots=True)
class ReplayRange:
    """Events with ``first_seq <= seq <= last_seq``, and where given, received within
    ``[since, until]``."""

    first_seq: int
    last_seq: int
    since: float | None = None
    until: float | None = None

    def holds(self, event: StoredEvent) -> bool:
        if not self.first_seq <= event.seq <= self.last_seq:
            return False
        if self.since is not None and event.received_at < self.since:
            return False
        return self.until is None or event.received_at <= self.until

    @property
    def seqs(self) -> int:
        return max(0, self.last_seq - self.first_seq + 1)


class _Claims:
    """Claims in the order made, each its last seq and what it holds; an ack confirms every
    claim up to the one ending at ``upto``, as ``Journal.ack`` does."""

    def __init__(self) -> None:
        self._order: deque[tuple[int, list[str], int]] = deque()

    def add(self, last_seq: int, ids: list[str], count: int) -> None:
        self._order.append((last_seq, ids, count))

    def confirm(self, upto: int) -> tuple[list[str], int]:
        ids: list[str] = []
        count = 0
        if not any(last == upto for last, _, _ in self._order):
            return ids, count
        while self._order:
            last, held, held_count = self._order.popleft()
            ids += held
            count += held_count
            if last == upto:
                break
        return ids, count

    def __len__(self) -> int:
        return len(self._order)


class RangeSource:
    """A range of the journal, read in order, with its own position and nothing written but
    dead letters. ``finished`` is set once every event of the range is confirmed.

    ``purged``: seqs of the range that are no longer in the journal (retention removed them
    before they were read); known once ``exhausted``."""

    def __init__(self, journal: Journal, sink: str, span: ReplayRange) -> None:
        self._journal = journal
        self._sink = sink
        self.span = span
        self._position = span.first_seq - 1
        self._claims = _Claims()
        self._seen = 0  # seqs of the range found in the journal
        self.confirmed = 0  # delivered, or dead-lettered
        self.dead_lettered = 0
        self.exhausted = span.seqs == 0
        self.finished = asyncio.Event()
        self._check_finished()

    @property
    def purged(self) -> int:
        return self.span.seqs - self._seen if self.exhausted else 0

    async def register_sink(self, sink: str) -> None:
        """Nothing to register: a range never holds back retention or moves a cursor."""

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        while not self.exhausted:
            events = await self._journal.read(self._sink, limit, after=self._position)
            in_range = [event for event in events if event.seq <= self.span.last_seq]
            self._seen += len(in_range)
            if in_range:
                self._position = in_range[-1].seq
            if len(in_range) < len(events) or len(events) < limit \
                    or self._position >= self.span.last_seq:
                self.exhausted = True
            wanted = [event for event in in_range if self.span.holds(event)]
            if wanted:
                self._claims.add(wanted[-1].seq, [], len(wanted))
                return wanted
        self._check_finished()
        return []

    async def ack(self, sink: str, upto: int) -> None:
        _, count = self._claims.confirm(upto)
        self.confirmed += count
        self._check_finished()

    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        await self._journal.dead_letter(sink, event, reason)
        self.dead_lettered += 1

    async def wait_for_append(self, at_most: float) -> None:
        if self.exhausted:  # nothing more will come: the pipeline only waits to be stopped
            await asyncio.sleep(at_most)

    def _check_finished(self) -> None:
        if self.exhausted and not self._claims:
            self.finished.set()


class RetrySource:
    """The dead letters of one sink that an operator asked to retry (``Journal``'s
    ``retry_dead_letters``), each removed once the pipeline confirms it."""

    def __init__(self, journal: Journal, sink: str) -> None:
        self._journal = journal
        self._sink = sink
        self._claims = _Claims()
        self._held: dict[str, int] = {}  # dead letter id -> its seq, claimed, unconfirmed
        # Removed once confirmed: a read begun before the removal may still list them.
        self._removed: set[str] = set()
        self._unremoved: list[str] = []  # confirmed, their removal not yet through

    async def register_sink(self, sink: str) -> None:
        """Start afresh: what was held and never confirmed is sent again."""
        self._claims = _Claims()
        self._held.clear()
        self._unremoved = []

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        removed = set(self._removed)
        letters = await self._journal.dead_letters_to_retry(
            self._sink, limit + len(self._held) + len(removed))
        listed = {letter.id for letter in letters}
        self._removed -= removed - listed  # gone from the journal: no need to remember them
        by_seq: dict[int, list[DeadLetter]] = {}
        held_seqs = set(self._held.values())
        for letter in letters:  # one event per seq in hand: a window holds each seq once
            if letter.id not in self._held and letter.id not in self._removed \
                    and letter.seq not in held_seqs:
                by_seq.setdefault(letter.seq, []).append(letter)
        if not by_seq:
            return []
        seqs = sorted(by_seq)[:limit]
        events = [await self._event_of(by_seq[seq][0]) for seq in seqs]
        ids = [letter.id for seq in seqs for letter in by_seq[seq]]
        self._held.update((letter.id, letter.seq) for seq in seqs for letter in by_seq[seq])
        self._claims.add(seqs[-1], ids, len(seqs))
        return events

    async def ack(self, sink: str, upto: int) -> None:
        ids, _ = self._claims.confirm(upto)
        self._unremoved += ids
        self._removed.update(ids)  # before the removal: a claim may be reading now
        if not self._unremoved:
            return
        # A failed removal raises; the pipeline calls again, and these are removed then.
        await self._journal.remove_dead_letters(self._unremoved)
        for confirmed in self._unremoved:
            self._held.pop(confirmed, None)
        self._unremoved = []

    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        await self._journal.dead_letter(sink, event, reason)

    async def wait_for_append(self, at_most: float) -> None:
        await asyncio.sleep(max(at_most, RETRY_POLL_SECONDS))

    async def _event_of(self, letter: DeadLetter) -> StoredEvent:
        if letter.event is not None:
            return letter.event
        # Recorded before dead letters kept the whole event: the journal may still have it.
        found = await self._journal.read(self._sink, 1, after=letter.seq - 1)
        if found and found[0].seq == letter.seq:
            return found[0]
        return StoredEvent(letter.seq, "default", letter.event_id, "unknown", letter.dead_at,
                           letter.body, None, None, None, None)
