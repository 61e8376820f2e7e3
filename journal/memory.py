"""A journal in this process's memory: the journal contract without a disk.

For the tests of the receiver and the relay where the disk is not the point, and for anything
else that needs a journal for the life of one process. It is not offered in the config file:
the receiver's 200 promises that the event is on disk, and nothing here outlives the process.

Journals are named by ``JournalConfig.path``: opening the same name again in the same process
(read-write or read-only) sees the same log, as opening the same file again does. The rules
are the SQLite journal's, applied in Python on plain containers (the journal contract suite
runs on this backend too): dedup and collisions as ``journal.collisions`` says, one reader per
sink, retention cutting only a prefix. Each call runs to its end without awaiting, so on one
event loop every call is atomic, as a transaction is.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from auditstream.journal.base import Journal
from auditstream.journal.collisions import (
    body_digest,
    collision_key,
    is_same_event,
    log_collision,
)
from auditstream.journal.config import JournalConfig
from auditstream.journal.errors import JournalClosed, JournalUnavailable
from auditstream.journal.model import (
    BACKFILL,
    STREAM,
    AppendOutcome,
    DeadLetter,
    IncomingEvent,
    JournalStats,
    PurgeResult,
    SinkPosition,
    StoredEvent,
)

MEMORY_BACKEND = "memory"


class _Seen(NamedTuple):
    """What a remembered key was stored for (None for both: a backfilled event's)."""

    destination: str | None
    digest: bytes | None
    seen_at: float


@dataclass(slots=True)
class _Log:
    """One named journal's contents, shared by every handle opened on its name."""

    events: list[StoredEvent] = field(default_factory=list)  # by seq; retention cuts the front
    last_seq: int = 0  # never reused, even once every event is purged
    # Insertion order is the order keys were first seen: retention forgets a prefix.
    seen: dict[tuple[str, str], _Seen] = field(default_factory=dict)
    duplicates_refused: int = 0
    collisions: int = 0
    cursors: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, DeadLetter] = field(default_factory=dict)  # by id, oldest first
    next_dead_letter: int = 1
    uptime: dict[str, tuple[float, float, bool]] = field(default_factory=dict)
    reconciled_until: dict[str, float] = field(default_factory=dict)
    reconcile_turns: dict[str, tuple[str, float]] = field(default_factory=dict)
    append_waiters: set[asyncio.Future[None]] = field(default_factory=set)


# Every named journal of this process. Never emptied: a name opened again must find its log.
_LOGS: dict[str, _Log] = {}


class MemoryJournal(Journal):
    """A journal held in memory under a name. Use ``open`` (read-write) or ``open_readonly``."""

    def __init__(self, config: JournalConfig, log: _Log, *, writable: bool) -> None:
        self._config = config
        self._log = log
        self._writable = writable
        self._closed = False
        # One reader per sink: how far this reader has claimed (absent: from the cursor on).
        self._claimed: dict[str, int] = {}

    @classmethod
    async def open(cls, config: JournalConfig) -> MemoryJournal:
        """Open the journal named ``config.path``, creating it if this process has none."""
        return cls(config, _LOGS.setdefault(str(config.path), _Log()), writable=True)

    @classmethod
    def empty(cls, config: JournalConfig) -> MemoryJournal:
        """A read-only journal under no name that holds nothing: what a journal that does not
        exist yet would show (``backfill --dry-run`` before the first ``run``)."""
        return cls(config, _Log(), writable=False)

    @classmethod
    async def open_readonly(cls, config: JournalConfig) -> MemoryJournal:
        """Open an existing journal of this process for inspection; nothing is created."""
        log = _LOGS.get(str(config.path))
        if log is None:
            raise JournalUnavailable(f"no journal named {config.path} in this process's memory")
        return cls(config, log, writable=False)

    def _readable(self) -> _Log:
        if self._closed:
            raise JournalClosed("the journal is closed")
        return self._log

    def _writable_log(self) -> _Log:
        log = self._readable()
        if not self._writable:
            raise JournalUnavailable(f"journal {self._config.path} is open read-only")
        return log

    # -- writes ------------------------------------------------------------------------------

    async def append(self, events: Sequence[IncomingEvent]) -> list[AppendOutcome]:
        log = self._writable_log()
        outcomes: list[AppendOutcome] = []
        collided: list[tuple[IncomingEvent, str, int]] = []
        for event in events:
            outcome = _store(log, event, collided)
            outcomes.append(outcome)
        log.duplicates_refused += outcomes.count(AppendOutcome.DUPLICATE)
        for event, first_destination, seq in collided:
            log_collision(event.instance, event.event_id, first_destination, event.destination,
                          seq)
        if len(outcomes) > outcomes.count(AppendOutcome.DUPLICATE):
            for waiter in log.append_waiters:
                if not waiter.done():
                    waiter.set_result(None)
        return outcomes

    async def register_sink(self, sink: str) -> None:
        self._writable_log().cursors.setdefault(sink, 0)
        self._claimed.pop(sink, None)

    async def ack(self, sink: str, upto: int) -> None:
        cursors = self._writable_log().cursors
        cursors[sink] = max(cursors.get(sink, 0), upto)

    async def record_uptime(self, process: str, started_at: float, seen_at: float,
                            stopped: bool = False) -> None:
        uptime = self._writable_log().uptime
        known = uptime.get(process)
        if known is None:
            uptime[process] = (started_at, seen_at, stopped)
        else:
            uptime[process] = (known[0], max(known[1], seen_at), known[2] or stopped)

    async def record_reconcile_progress(self, destination: str, until: float) -> None:
        progress = self._writable_log().reconciled_until
        progress[destination] = max(until, progress.get(destination, until))

    async def take_reconcile_turn(self, destination: str, holder: str, seconds: float,
                                  now: float) -> bool:
        turns = self._writable_log().reconcile_turns
        held = turns.get(destination)
        if held is not None and held[0] != holder and held[1] > now:
            return False
        turns[destination] = (holder, now + seconds)
        return True

    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        log = self._writable_log()
        letter_id = str(log.next_dead_letter)
        log.next_dead_letter += 1
        log.dead_letters[letter_id] = DeadLetter(
            sink=sink, seq=event.seq, event_id=event.event_id, reason=reason,
            dead_at=time.time(), body=event.body, id=letter_id, event=event)

    async def retry_dead_letters(self, ids: Sequence[str], now: float) -> int:
        letters = self._writable_log().dead_letters
        marked = 0
        for letter_id in dict.fromkeys(ids):
            letter = letters.get(letter_id)
            if letter is None:
                continue
            if letter.retry_requested_at is None:
                letters[letter_id] = replace(letter, retry_requested_at=now)
            marked += 1
        return marked

    async def remove_dead_letters(self, ids: Sequence[str]) -> int:
        letters = self._writable_log().dead_letters
        return sum(letters.pop(letter_id, None) is not None for letter_id in dict.fromkeys(ids))

    async def purge(self, now: float) -> PurgeResult:
        log = self._writable_log()
        bodies = 0
        if log.cursors:  # with no sink registered, a receiver must keep everything
            upto = min(log.cursors.values())
            older_than = now - self._config.retention_seconds
            while (bodies < len(log.events) and log.events[bodies].seq <= upto
                   and log.events[bodies].received_at < older_than):
                bodies += 1
            del log.events[:bodies]
        forget_before = now - self._config.dedup_window_seconds
        old_keys = []
        for key, seen in log.seen.items():  # oldest first: only a prefix is ever forgotten
            if seen.seen_at >= forget_before:
                break
            old_keys.append(key)
        for key in old_keys:
            del log.seen[key]
        gone = [process for process, (_, seen_at, _) in log.uptime.items()
                if seen_at < forget_before]
        for process in gone:
            del log.uptime[process]
        return PurgeResult(bodies_removed=bodies, ids_forgotten=len(old_keys),
                           uptime_forgotten=len(gone))

    async def check_writable(self) -> None:
        self._writable_log()

    # -- reads -------------------------------------------------------------------------------

    async def known(self, instance: str, keys: Sequence[str]) -> set[str]:
        seen = self._readable().seen
        return {key for key in keys if (instance, key) in seen}

    async def reconcile_progress(self, destination: str) -> float | None:
        return self._readable().reconciled_until.get(destination)

    async def uptime(self, since: float, until: float) -> list[tuple[float, float, bool]]:
        return sorted(span for span in self._readable().uptime.values()
                      if span[0] <= until and span[1] >= since)

    async def read(self, sink: str, limit: int, after: int | None = None) -> list[StoredEvent]:
        log = self._readable()
        return _events_after(log, log.cursors.get(sink, 0) if after is None else after, limit)

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        log = self._readable()
        start = max(self._claimed.get(sink, 0), log.cursors.get(sink, 0))
        events = _events_after(log, start, limit)
        if events:
            self._claimed[sink] = events[-1].seq
        return events

    async def tail(self, limit: int) -> list[StoredEvent]:
        events = self._readable().events
        return events[max(0, len(events) - limit):] if limit > 0 else []

    async def dead_letters(self, sink: str | None, limit: int) -> list[DeadLetter]:
        letters = [letter for letter in self._readable().dead_letters.values()
                   if not sink or letter.sink == sink]
        return letters[max(0, len(letters) - limit):] if limit > 0 else []

    async def dead_letters_to_retry(self, sink: str, limit: int) -> list[DeadLetter]:
        return [letter for letter in self._readable().dead_letters.values()
                if letter.sink == sink and letter.retry_requested_at is not None][:limit]

    async def stats(self) -> JournalStats:
        log = self._readable()
        return JournalStats(
            events=len(log.events),
            first_seq=log.events[0].seq if log.events else None,
            last_seq=log.events[-1].seq if log.events else None,
            remembered_ids=len(log.seen), duplicates_refused=log.duplicates_refused,
            dead_letters=len(log.dead_letters), sinks=_positions(log),
            collisions=log.collisions)

    async def positions(self) -> tuple[SinkPosition, ...]:
        return _positions(self._readable())

    async def newest_received_at(self) -> dict[str, float]:
        newest: dict[str, float] = {}
        for event in self._readable().events:
            if event.origin == STREAM and \
                    event.received_at > newest.get(event.destination, 0.0):
                newest[event.destination] = event.received_at
        return newest

    async def wait_for_append(self, at_most: float) -> None:
        waiters = self._readable().append_waiters
        waiter = asyncio.get_running_loop().create_future()
        waiters.add(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), at_most)
        except TimeoutError:
            pass
        finally:
            waiters.discard(waiter)

    async def close(self) -> None:
        self._closed = True


def _store(log: _Log, event: IncomingEvent,
           collided: list[tuple[IncomingEvent, str, int]]) -> AppendOutcome:
    """Store one event unless it is a duplicate (the SQLite journal's ``_append_in``, for one
    event): what it was, and a collision noted in ``collided`` to be logged."""
    instance = event.instance
    keys = event.dedup_keys
    digest = body_digest(event.body)
    first = log.seen.get((instance, keys[0]))
    outcome = AppendOutcome.ACCEPTED
    if event.origin == BACKFILL:
        # GitLab's own stored event: known, it is the same event; new, it is remembered
        # without destination or digest, so no streamed copy is ever a collision with it.
        if first is not None:
            return AppendOutcome.DUPLICATE
        destination_seen, digest_seen = None, None
    else:
        destination_seen, digest_seen = event.destination, digest
    if first is not None:  # a known id: the same event again, or a collision
        if is_same_event(first.destination, first.digest, event.destination, digest):
            return AppendOutcome.DUPLICATE
        keys = (collision_key(keys[0], digest),)
        if (instance, keys[0]) in log.seen:
            return AppendOutcome.DUPLICATE  # this collision, again
        outcome = AppendOutcome.COLLISION
    elif any((instance, key) in log.seen for key in keys[1:]):
        return AppendOutcome.DUPLICATE  # known by its content hash
    for key in keys:
        log.seen[(instance, key)] = _Seen(destination_seen, digest_seen, event.received_at)
    log.last_seq += 1
    log.events.append(StoredEvent(
        log.last_seq, instance, event.event_id, event.destination, event.received_at,
        event.body, event.event_type, event.created_at, event.entity_type, event.entity_path,
        event.origin))
    if first is not None:
        log.collisions += 1
        collided.append((event, first.destination or "?", log.last_seq))
    return outcome


def _events_after(log: _Log, seq: int, limit: int) -> list[StoredEvent]:
    start = bisect.bisect_right(log.events, seq, key=lambda stored: stored.seq)
    return log.events[start:start + limit] if limit > 0 else []


def _positions(log: _Log) -> tuple[SinkPosition, ...]:
    return tuple(SinkPosition(sink=sink, cursor=cursor, backlog=max(0, log.last_seq - cursor))
                 for sink, cursor in sorted(log.cursors.items()))

