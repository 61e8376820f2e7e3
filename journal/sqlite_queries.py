"""The SQLite journal's statements: reads, the append's lookups and inserts, retention slices.

``sqlite.SqliteJournal`` runs them on its reader thread (reads) or in its writer's transactions
(cursor moves, retention); nothing here opens, locks or commits.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from auditstream.journal.model import (
    STREAM,
    IncomingEvent,
    JournalStats,
    SinkPosition,
    StoredEvent,
)

EVENT_COLUMNS = ("seq, instance, event_id, destination, received_at, body, event_type, "
                 "created_at, entity_type, entity_path, origin")
# Retention deletes in slices so a purge never holds the write lock for long.
PURGE_SLICE_ROWS = 5_000
# SQLite's default limit on bound parameters is 32766; stay far below it.
KEYS_PER_LOOKUP = 500
# Rows per multi-row INSERT: 64 x 11 columns stays far below the parameter limit too.
MAX_ROWS_PER_INSERT = 64


def cursor_of(conn: sqlite3.Connection, sink: str) -> int:
    row = conn.execute("SELECT cursor FROM cursors WHERE sink = ?", (sink,)).fetchone()
    return 0 if row is None else int(row[0])


def events_after(conn: sqlite3.Connection, seq: int, limit: int) -> list[StoredEvent]:
    rows = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                        (seq, limit)).fetchall()
    return [stored_event(r) for r in rows]


def purge_bodies_slice(conn: sqlite3.Connection, older_than: float) -> int:
    # Only below every sink's cursor, and never with no sink registered: a receiver that runs
    # before its relay ever started must keep everything.
    row = conn.execute("SELECT count(*), min(cursor) FROM cursors").fetchone()
    if row[0] == 0:
        return 0
    upto = old_prefix_end(conn.execute(
        "SELECT seq, received_at FROM events WHERE seq <= ? ORDER BY seq LIMIT ?",
        (row[1], PURGE_SLICE_ROWS)), older_than)
    if upto is None:
        return 0
    return conn.execute("DELETE FROM events WHERE seq <= ?", (upto,)).rowcount


def forget_ids_slice(conn: sqlite3.Connection, older_than: float) -> int:
    upto = old_prefix_end(conn.execute(
        "SELECT id, seen_at FROM seen ORDER BY id LIMIT ?", (PURGE_SLICE_ROWS,)), older_than)
    if upto is None:
        return 0
    return conn.execute("DELETE FROM seen WHERE id <= ?", (upto,)).rowcount


def old_prefix_end(rows: Iterable[tuple[int, float]], older_than: float) -> int | None:
    """The key of the last row of the leading run older than ``older_than``.

    Rows come oldest first (keys follow arrival), so retention only ever cuts a prefix, and
    reads at most one slice: asking SQLite for "rows older than X in key order" instead walks
    the whole table under the write lock when none is old yet (a second per 10M ids).
    """
    upto = None
    for key, when in rows:
        if when >= older_than:
            break
        upto = key
    return upto


def _edge(conn: sqlite3.Connection, query: str) -> int | None:
    value = conn.execute(query).fetchone()[0]
    return None if value is None else int(value)


def journal_stats(conn: sqlite3.Connection) -> JournalStats:
    # Events are only ever removed from the front, so bounds give exact counts without a scan.
    # One aggregate per statement: SQLite answers a lone min() or max() from the edge of the
    # B-tree, but "SELECT min(x), max(x)" reads the whole table (a second per million events).
    first = _edge(conn, "SELECT min(seq) FROM events")
    last = _edge(conn, "SELECT max(seq) FROM events")
    low = _edge(conn, "SELECT min(id) FROM seen")
    high = _edge(conn, "SELECT max(id) FROM seen")
    duplicates = int(conn.execute(
        "SELECT value FROM meta WHERE key = 'duplicates_refused'").fetchone()[0])
    dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    collisions = conn.execute("SELECT count(*) FROM collisions").fetchone()[0]
    sinks = sink_positions(conn)
    return JournalStats(
        events=0 if first is None or last is None else last - first + 1,
        first_seq=first, last_seq=last,
        remembered_ids=0 if low is None or high is None else high - low + 1,
        duplicates_refused=duplicates, dead_letters=dead, sinks=sinks, collisions=collisions)


def sink_positions(conn: sqlite3.Connection) -> tuple[SinkPosition, ...]:
    last_seq = int(conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0])
    return tuple(SinkPosition(sink=s, cursor=c, backlog=max(0, last_seq - c))
                 for s, c in conn.execute("SELECT sink, cursor FROM cursors ORDER BY sink"))


def stored_event(row: tuple[Any, ...]) -> StoredEvent:
    (seq, instance, event_id, destination, received_at, body, etype, created, etyp, epath,
     origin) = row
    # Positional, in StoredEvent's field order: a third cheaper than by keyword, which counts
    # at a relay's pace. SQLite gives a BLOB as bytes already: no copy. origin NULL: stream.
    return StoredEvent(seq, instance, event_id, destination, received_at,
                       body if type(body) is bytes else bytes(body), etype, created, etyp, epath,
                       origin or STREAM)


def insert_rows(conn: sqlite3.Connection, insert: str, columns: int,
                 values: Sequence[object]) -> None:
    """Insert rows of ``columns`` values each, given flat, with statements of up to 64 rows.

    ``executemany`` runs one statement step per row, and the sqlite3 module lets go of the GIL
    and takes it back around every step; one multi-row statement does that once. Measured on
    batches of 10 events: 33 -> 28 us of the writer's CPU per event. A batch of up to 64 is
    one statement per table (the connection caches a statement for every size); splitting it
    into powers of two made 3.6 statements per table per batch under load.
    """
    count = len(values) // columns
    start = 0
    while start < count:
        size = min(MAX_ROWS_PER_INSERT, count - start)
        conn.execute(insert + row_marks(columns, size),
                     values[start * columns:(start + size) * columns])
        start += size


@functools.cache
def row_marks(columns: int, rows: int) -> str:
    row = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([row] * rows)


def known_keys(conn: sqlite3.Connection, events: Sequence[IncomingEvent],
                ) -> dict[tuple[str, str], tuple[str | None, bytes | None]]:
    """Which of the events' keys are known: each with the destination and body digest of
    the event that it was stored for (None in rows from before schema 2)."""
    by_instance: dict[str, list[str]] = {}
    for event in events:
        by_instance.setdefault(event.instance, []).extend(event.dedup_keys)
    known: dict[tuple[str, str], tuple[str | None, bytes | None]] = {}
    for instance, keys in by_instance.items():
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), KEYS_PER_LOOKUP):
            chunk = unique[start:start + KEYS_PER_LOOKUP]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute("SELECT key, destination, digest FROM seen "
                                f"WHERE instance = ? AND key IN ({marks})", (instance, *chunk))
            known.update(((instance, key), (destination, digest))
                         for key, destination, digest in rows)
    return known


def is_known(conn: sqlite3.Connection, instance: str, key: str) -> bool:
    """One key, looked up alone: only on the rare path of a possible collision."""
    return conn.execute("SELECT 1 FROM seen WHERE instance = ? AND key = ?",
                        (instance, key)).fetchone() is not None
