"""The SQLite journal's dead letters: the statements, each run by ``SqliteJournal`` in its
writer (changes) or reader (queries) thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from auditstream.journal.deadletters import decode_event, encode_event_meta
from auditstream.journal.model import DeadLetter, StoredEvent

_COLUMNS = "id, sink, seq, event_id, reason, dead_at, body, meta, retry_requested_at"
# Row ids per statement: far below SQLite's limit on bound parameters.
_IDS_PER_STATEMENT = 500


def record(conn: sqlite3.Connection, sink: str, event: StoredEvent, reason: str,
           now: float) -> None:
    conn.execute("INSERT INTO dead_letters (sink, seq, event_id, reason, dead_at, body, meta) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (sink, event.seq, event.event_id, reason, now, event.body,
                  encode_event_meta(event)))


def request_retry(conn: sqlite3.Connection, ids: Sequence[str], now: float) -> int:
    """Mark them (keeping the time of a request already made); how many there were."""
    return sum(conn.execute(
        "UPDATE dead_letters SET retry_requested_at = coalesce(retry_requested_at, ?) "
        f"WHERE id IN ({','.join('?' * len(chunk))})", (now, *chunk)).rowcount
        for chunk in _chunks(ids))


def remove(conn: sqlite3.Connection, ids: Sequence[str]) -> int:
    return sum(conn.execute(f"DELETE FROM dead_letters WHERE id IN "
                            f"({','.join('?' * len(chunk))})", chunk).rowcount
               for chunk in _chunks(ids))


def latest(conn: sqlite3.Connection, sink: str | None, limit: int) -> list[DeadLetter]:
    where, args = ("WHERE sink = ?", (sink, limit)) if sink else ("", (limit,))
    rows = conn.execute(f"SELECT {_COLUMNS} FROM dead_letters {where} ORDER BY id DESC "
                        "LIMIT ?", args).fetchall()
    return [_dead_letter(r) for r in reversed(rows)]


def to_retry(conn: sqlite3.Connection, sink: str, limit: int) -> list[DeadLetter]:
    return [_dead_letter(r) for r in conn.execute(
        f"SELECT {_COLUMNS} FROM dead_letters WHERE sink = ? "
        "AND retry_requested_at IS NOT NULL ORDER BY id LIMIT ?", (sink, limit))]


def _dead_letter(row: tuple[Any, ...]) -> DeadLetter:
    rowid, sink, seq, event_id, reason, dead_at, body, meta, retry_at = row
    body = bytes(body)
    return DeadLetter(sink=sink, seq=seq, event_id=event_id, reason=reason, dead_at=dead_at,
                      body=body, id=str(rowid), retry_requested_at=retry_at,
                      event=decode_event(seq, meta, body, event_id, dead_at))


def _chunks(ids: Sequence[str]) -> list[list[int]]:
    """The dead letters' row ids, in slices; an id that is not one names no dead letter."""
    rowids = [int(i) for i in dict.fromkeys(ids) if i.isdigit()]
    return [rowids[i:i + _IDS_PER_STATEMENT]
            for i in range(0, len(rowids), _IDS_PER_STATEMENT)]
