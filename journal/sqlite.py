"""The embedded journal: one SQLite file in WAL mode, written by group commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

from auditstream.journal import sqlite_deadletters as dead_sql
from auditstream.journal.base import Journal
from auditstream.journal.collisions import (
    body_digest,
    collision_key,
    is_same_event,
    log_collision,
)
from auditstream.journal.config import JournalConfig
from auditstream.journal.errors import JournalClosed, JournalUnavailable
from auditstream.journal.groupcommit import GroupCommitWriter
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
from auditstream.journal.sqlite_queries import (
    EVENT_COLUMNS,
    KEYS_PER_LOOKUP,
    PURGE_SLICE_ROWS,
    cursor_of,
    events_after,
    forget_ids_slice,
    insert_rows,
    is_known,
    journal_stats,
    known_keys,
    purge_bodies_slice,
    sink_positions,
    stored_event,
)
from auditstream.journal.sqlite_schema import (
    connect_for_reading,
    connect_for_writing,
    create_journal_file,
)

T = TypeVar("T")

# Continuous reconcile's progress per destination, in the meta table (no schema change).
_RECONCILE_KEY = "reconcile_done_until:"
_RECONCILE_TURN_KEY = "reconcile_turn:"  # "<holder> <until>"




class SqliteJournal(Journal):
    """A journal in one SQLite file. Use ``open`` (read-write) or ``open_readonly``."""

    def __init__(self, config: JournalConfig, *, writable: bool) -> None:
        self._config = config
        self._reader_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-reader")
        self._reader: sqlite3.Connection | None = None
        self._closed = False
        self._next_seq = 0  # owned by the writer thread once the writer exists
        self._writer: GroupCommitWriter | None = None
        self._append_waiters: set[asyncio.Future[None]] = set()
        # Appends that arrive before the writer reaches them share one write job: one dedup
        # lookup and one insert per table for the lot, instead of four statements a request.
        self._group_lock = threading.Lock()
        self._open_group: _AppendGroup | None = None
        # One reader per sink: how far this reader has claimed (absent: from the cursor on).
        self._claimed: dict[str, int] = {}
        if writable:
            self._writer = GroupCommitWriter(
                connect=lambda: connect_for_writing(config.path, config.busy_timeout_seconds,
                                                    config.max_size_bytes),
                on_batch_start=self._load_next_seq,
            )

    @classmethod
    async def open(cls, config: JournalConfig) -> SqliteJournal:
        """Open (creating if needed) the journal at ``config.path`` for reading and writing."""
        await asyncio.to_thread(create_journal_file, config.path, config.busy_timeout_seconds)
        return cls(config, writable=True)

    @classmethod
    async def open_readonly(cls, config: JournalConfig) -> SqliteJournal:
        """Open an existing journal for inspection; it is never created or changed."""
        journal = cls(config, writable=False)
        try:
            await journal._read(lambda conn: None)
        except BaseException:
            await journal.close()
            raise
        return journal

    @property
    def path(self) -> Path:
        return self._config.path

    @property
    def batches_committed(self) -> int:
        """Transactions committed by this process's writer: appends per commit show group commit."""
        return 0 if self._writer is None else self._writer.batches_committed

    # -- writes: all through the group-commit writer ------------------------------------------

    async def append(self, events: Sequence[IncomingEvent]) -> list[AppendOutcome]:
        if not events:
            return []
        writer = self._writable_writer()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[AppendOutcome]] = loop.create_future()
        with self._group_lock:
            group = self._open_group
            if group is None or group.loop is not loop:
                group = self._open_group = _AppendGroup(loop)
                opened = True
            else:
                opened = False
            group.join(events, waiter)
        if opened:
            # Queued at the loop's next turn, not now: every request the loop handles in this
            # turn joins the group first, and an idle writer is woken once for all of them
            # (each wake-up of its thread costs the loop two context switches on a busy core).
            loop.call_soon(self._enqueue_group, writer, group)
        return await waiter

    def _enqueue_group(self, writer: GroupCommitWriter, group: _AppendGroup) -> None:
        try:
            shared = writer.enqueue(lambda conn: self._append_group(conn, group))
        except JournalClosed as exc:
            self._close_group(group)
            group.fail(exc)
            return
        shared.add_done_callback(lambda shared: self._finish_group(group, shared))

    def _append_group(self, conn: sqlite3.Connection,
                      group: _AppendGroup) -> list[AppendOutcome]:
        # In the writer thread: close the group first, so what it holds is final; appends
        # from now on open the next group (and the next batch).
        self._close_group(group)
        return self._append_in(conn, group.events, group.collided)

    def _finish_group(self, group: _AppendGroup,
                      shared: asyncio.Future[list[AppendOutcome]]) -> None:
        # Also closed here: a batch that failed before its jobs ran never closed it.
        self._close_group(group)
        group.answer(shared)
        if shared.cancelled() or shared.exception() is not None:
            return
        for collision in group.collided:  # committed: now it may be told
            log_collision(collision.instance, collision.event_id, collision.first_destination,
                          collision.destination, collision.seq)
        outcomes = shared.result()
        if AppendOutcome.ACCEPTED in outcomes or AppendOutcome.COLLISION in outcomes:
            self._wake_append_waiters()

    def _close_group(self, group: _AppendGroup) -> None:
        with self._group_lock:
            if self._open_group is group:
                self._open_group = None

    async def wait_for_append(self, at_most: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._append_waiters.add(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), at_most)
        except TimeoutError:
            pass
        finally:
            self._append_waiters.discard(waiter)

    def _wake_append_waiters(self) -> None:
        for waiter in self._append_waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def record_reconcile_progress(self, destination: str, until: float) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
            "value = CAST(max(CAST(value AS REAL), CAST(excluded.value AS REAL)) AS TEXT)",
            (_RECONCILE_KEY + destination, repr(until))))

    async def take_reconcile_turn(self, destination: str, holder: str, seconds: float,
                                  now: float) -> bool:
        key = _RECONCILE_TURN_KEY + destination

        def take(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                held_by, _, until = row[0].rpartition(" ")
                if held_by != holder and float(until) > now:
                    return False
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (key, f"{holder} {now + seconds!r}"))
            return True

        return await self._write(take)

    async def reconcile_progress(self, destination: str) -> float | None:
        def query(conn: sqlite3.Connection) -> float | None:
            row = conn.execute("SELECT value FROM meta WHERE key = ?",
                               (_RECONCILE_KEY + destination,)).fetchone()
            return None if row is None else float(row[0])

        return await self._read(query)

    async def register_sink(self, sink: str) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT OR IGNORE INTO cursors (sink, cursor) VALUES (?, 0)", (sink,)))
        self._claimed.pop(sink, None)

    async def ack(self, sink: str, upto: int) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT INTO cursors (sink, cursor) VALUES (?, ?) "
            "ON CONFLICT (sink) DO UPDATE SET cursor = max(cursor, excluded.cursor)",
            (sink, upto)))

    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        now = time.time()
        await self._write(lambda conn: dead_sql.record(conn, sink, event, reason, now))

    async def retry_dead_letters(self, ids: Sequence[str], now: float) -> int:
        return await self._write(lambda conn: dead_sql.request_retry(conn, ids, now))

    async def remove_dead_letters(self, ids: Sequence[str]) -> int:
        return await self._write(lambda conn: dead_sql.remove(conn, ids))

    async def check_writable(self) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('ready_probe', '1')"))

    async def purge(self, now: float) -> PurgeResult:
        bodies = await self._purge_slices(lambda conn: purge_bodies_slice(
            conn, now - self._config.retention_seconds))
        window_start = now - self._config.dedup_window_seconds
        ids = await self._purge_slices(lambda conn: forget_ids_slice(conn, window_start))
        uptime = await self._write(lambda conn: conn.execute(
            "DELETE FROM uptime WHERE seen_at < ?", (window_start,)).rowcount)
        return PurgeResult(bodies_removed=bodies, ids_forgotten=ids, uptime_forgotten=uptime)

    async def _purge_slices(self, job: Callable[[sqlite3.Connection], int]) -> int:
        total = 0
        while True:
            removed = await self._write(job)
            total += removed
            if removed < PURGE_SLICE_ROWS:
                return total

    def _append_in(self, conn: sqlite3.Connection, events: Sequence[IncomingEvent],
                   collided: list[_Collision]) -> list[AppendOutcome]:
        known = known_keys(conn, events)
        outcomes: list[AppendOutcome] = []
        # The rows' values, flat (what the multi-row INSERTs bind), not a tuple per row.
        new_keys: list[object] = []
        rows: list[object] = []
        seq = self._next_seq
        for event in events:
            instance = event.instance
            destination = event.destination
            digest = body_digest(event.body)
            keys = event.dedup_keys
            first = known.get((instance, keys[0]))
            outcome = AppendOutcome.ACCEPTED
            if event.origin == BACKFILL:
                # GitLab's own stored event, its id the audit_events table's key: known, it is
                # the same event (a streamed copy has another body); new, it is remembered
                # without destination or digest, so a streamed copy from any destination
                # is a duplicate of it, never a collision.
                if first is not None:
                    outcomes.append(AppendOutcome.DUPLICATE)
                    continue
                destination_seen, digest_seen = None, None
            else:
                destination_seen, digest_seen = destination, digest
            if first is not None:  # a known id: the same event again, or a collision
                if is_same_event(first[0], first[1], destination, digest):
                    outcomes.append(AppendOutcome.DUPLICATE)
                    continue
                keys = (collision_key(keys[0], digest),)
                if (instance, keys[0]) in known or is_known(conn, instance, keys[0]):
                    outcomes.append(AppendOutcome.DUPLICATE)  # this collision, again
                    continue
                outcome = AppendOutcome.COLLISION
            elif len(keys) > 1 and any((instance, key) in known for key in keys[1:]):
                outcomes.append(AppendOutcome.DUPLICATE)  # known by its content hash
                continue
            for key in keys:
                known[(instance, key)] = (destination_seen, digest_seen)
                new_keys += (instance, key, event.received_at, destination_seen, digest_seen)
            seq += 1
            if first is not None:
                collided.append(_Collision(instance, event.event_id, seq, first[0] or "?",
                                           destination, event.received_at))
            # EVENT_COLUMNS: seq, then IncomingEvent's fields without dedup_keys, in order.
            rows += (seq, instance, event.event_id, destination, event.received_at,
                     event.body, event.event_type, event.created_at, event.entity_type,
                     event.entity_path, None if event.origin == STREAM else event.origin)
            outcomes.append(outcome)
        stored = seq - self._next_seq
        self._next_seq = seq
        if new_keys:
            insert_rows(conn, "INSERT INTO seen (instance, key, seen_at, destination, digest) "
                         "VALUES ", 5, new_keys)
        if stored:
            insert_rows(conn, f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ", 11, rows)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (str(seq),))
        if collided:
            conn.executemany("INSERT INTO collisions (instance, event_id, seq, "
                             "first_destination, destination, at) VALUES (?, ?, ?, ?, ?, ?)",
                             collided)
        duplicates = len(outcomes) - stored
        if duplicates:
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? "
                         "WHERE key = 'duplicates_refused'", (duplicates,))
        return outcomes

    def _load_next_seq(self, conn: sqlite3.Connection) -> None:
        # Read inside the write transaction: another process may have appended since.
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        self._next_seq = int(row[0])

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await self._writable_writer().submit(job)

    def _writable_writer(self) -> GroupCommitWriter:
        if self._closed:
            raise JournalClosed("the journal is closed")
        if self._writer is None:
            raise JournalUnavailable(f"journal {self._config.path} is open read-only")
        return self._writer

    # -- reads: one reader thread with its own connection -----------------------------------

    async def read(self, sink: str, limit: int, after: int | None = None) -> list[StoredEvent]:
        def query(conn: sqlite3.Connection) -> list[StoredEvent]:
            return events_after(conn, cursor_of(conn, sink) if after is None else after, limit)

        return await self._read(query)

    async def record_uptime(self, process: str, started_at: float, seen_at: float,
                            stopped: bool = False) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT INTO uptime (process, started_at, seen_at, stopped) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (process) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at), "
            "stopped = max(stopped, excluded.stopped)",
            (process, started_at, seen_at, int(stopped))))

    async def uptime(self, since: float, until: float) -> list[tuple[float, float, bool]]:
        def query(conn: sqlite3.Connection) -> list[tuple[float, float, bool]]:
            rows = conn.execute("SELECT started_at, seen_at, stopped FROM uptime "
                                "WHERE started_at <= ? AND seen_at >= ? ORDER BY started_at",
                                (until, since))
            return [(float(a), float(b), bool(c)) for a, b, c in rows]

        return await self._read(query)

    async def known(self, instance: str, keys: Sequence[str]) -> set[str]:
        def query(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), KEYS_PER_LOOKUP):
                chunk = unique[start:start + KEYS_PER_LOOKUP]
                marks = ",".join("?" * len(chunk))
                found.update(row[0] for row in conn.execute(
                    f"SELECT key FROM seen WHERE instance = ? AND key IN ({marks})",
                    (instance, *chunk)))
            return found

        return await self._read(query)

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        # The only reader of the sink: the next events after what it holds, or after the
        # cursor where that is further on (it is after a register_sink).
        held = self._claimed.get(sink, 0)
        events = await self._read(
            lambda conn: events_after(conn, max(held, cursor_of(conn, sink)), limit))
        if events:
            self._claimed[sink] = events[-1].seq
        return events

    async def tail(self, limit: int) -> list[StoredEvent]:
        def query(conn: sqlite3.Connection) -> list[StoredEvent]:
            rows = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?",
                                (limit,)).fetchall()
            return [stored_event(r) for r in reversed(rows)]

        return await self._read(query)

    async def dead_letters(self, sink: str | None, limit: int) -> list[DeadLetter]:
        return await self._read(lambda conn: dead_sql.latest(conn, sink, limit))

    async def dead_letters_to_retry(self, sink: str, limit: int) -> list[DeadLetter]:
        return await self._read(lambda conn: dead_sql.to_retry(conn, sink, limit))

    async def stats(self) -> JournalStats:
        return await self._read(journal_stats)

    async def positions(self) -> tuple[SinkPosition, ...]:
        return await self._read(sink_positions)

    async def newest_received_at(self) -> dict[str, float]:
        # Streamed events only: a backfill says nothing about whether GitLab still streams.
        # One pass over the events table (no index on destination: the hot path's inserts
        # stay as they are); it runs once, at start-up, off the receiver's way.
        return await self._read(lambda conn: dict(conn.execute(
            "SELECT destination, MAX(received_at) FROM events"
            " WHERE origin IS NULL OR origin = 'stream' GROUP BY destination")))

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise JournalClosed("the journal is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, self._run_read, query)

    def _run_read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._reader is None:
                self._reader = connect_for_reading(self._config.path,
                                                   self._config.busy_timeout_seconds)
            self._reader.execute("BEGIN")  # one snapshot for every statement of the query
            try:
                return query(self._reader)
            finally:
                self._reader.execute("COMMIT")
        except sqlite3.Error as exc:
            self._close_reader()
            raise JournalUnavailable(f"cannot read journal {self._config.path}: {exc}") from exc

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close)
        await asyncio.get_running_loop().run_in_executor(self._reader_pool, self._close_reader)
        self._reader_pool.shutdown(wait=True)


class _Collision(NamedTuple):
    """A row of the collisions table (its columns in order)."""

    instance: str
    event_id: str
    seq: int
    first_destination: str
    destination: str
    at: float


@dataclass(slots=True)
class _AppendGroup:
    """Appends sharing one write job. Each caller waits on a future of its own, so a caller
    that gives up (a client gone) cancels only its wait, never the others' answers."""

    loop: asyncio.AbstractEventLoop
    events: list[IncomingEvent] = field(default_factory=list)
    waiters: list[tuple[int, int, asyncio.Future[list[AppendOutcome]]]] = field(
        default_factory=list)
    collided: list[_Collision] = field(default_factory=list)  # what append found, to log

    def join(self, events: Sequence[IncomingEvent],
             waiter: asyncio.Future[list[AppendOutcome]]) -> None:
        self.waiters.append((len(self.events), len(events), waiter))
        self.events.extend(events)

    def fail(self, error: BaseException) -> None:
        for _start, _count, waiter in self.waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def answer(self, shared: asyncio.Future[list[AppendOutcome]]) -> None:
        """Give each caller its slice of the outcomes, or the batch's error."""
        if shared.cancelled():
            for _start, _count, waiter in self.waiters:
                waiter.cancel()
            return
        error = shared.exception()
        if error is not None:
            self.fail(error)
            return
        outcomes = shared.result()
        for start, count, waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(outcomes[start:start + count])
