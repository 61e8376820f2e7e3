"""What only the SQLite journal has: one reader's cursor, group commit, the file and its lock.

The contract every backend keeps is proved in ``test_journal_contract.py``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from auditstream.journal import (
    AppendOutcome,
    JournalConfig,
    JournalCorrupt,
    JournalUnavailable,
)
from auditstream.journal.sqlite import SqliteJournal
from tests.helpers.events import event

ACCEPTED, DUPLICATE = AppendOutcome.ACCEPTED, AppendOutcome.DUPLICATE


async def test_read_returns_events_after_the_cursor_in_order(sqlite_journal: SqliteJournal) -> None:
    await sqlite_journal.append([event(i) for i in range(1, 6)])
    await sqlite_journal.register_sink("hec")
    first = await sqlite_journal.read("hec", 2)
    assert [e.event_id for e in first] == ["1", "2"]
    await sqlite_journal.ack("hec", first[-1].seq)
    assert [e.event_id for e in await sqlite_journal.read("hec", 10)] == ["3", "4", "5"]


async def test_cursor_never_moves_back(sqlite_journal: SqliteJournal) -> None:
    await sqlite_journal.append([event(i) for i in range(1, 6)])
    await sqlite_journal.ack("hec", 4)
    await sqlite_journal.ack("hec", 2)
    assert [e.event_id for e in await sqlite_journal.read("hec", 10)] == ["5"]
    stats = await sqlite_journal.stats()
    assert [(s.sink, s.cursor, s.backlog) for s in stats.sinks] == [("hec", 4, 1)]


async def test_purge_keeps_bodies_until_every_sink_has_them(sqlite_journal: SqliteJournal) -> None:
    await sqlite_journal.append([event(i, received_at=100.0) for i in range(1, 5)])
    await sqlite_journal.register_sink("hec")
    await sqlite_journal.register_sink("archive")
    await sqlite_journal.ack("hec", 4)
    await sqlite_journal.ack("archive", 2)
    result = await sqlite_journal.purge(now=100.0 + 8 * 86400)
    assert result.bodies_removed == 2
    assert [e.event_id for e in await sqlite_journal.tail(10)] == ["3", "4"]


async def test_ids_outlive_purged_bodies_for_the_dedup_window(
        sqlite_journal: SqliteJournal) -> None:
    await sqlite_journal.append([event(1, received_at=100.0)])
    await sqlite_journal.ack("hec", 1)
    result = await sqlite_journal.purge(now=100.0 + 8 * 86400)  # past retention, inside the window
    assert (result.bodies_removed, result.ids_forgotten) == (1, 0)
    assert await sqlite_journal.append([event(1)]) == [DUPLICATE]
    result = await sqlite_journal.purge(now=100.0 + 31 * 86400)  # past the 30-day window
    assert result.ids_forgotten == 1
    assert await sqlite_journal.append([event(1)]) == [ACCEPTED]


async def test_sequence_numbers_are_never_reused_after_a_full_purge(
        sqlite_journal: SqliteJournal) -> None:
    await sqlite_journal.append([event(1, received_at=0.0), event(2, received_at=0.0)])
    await sqlite_journal.ack("hec", 2)
    await sqlite_journal.purge(now=10**9)
    await sqlite_journal.append([event(3)])
    [fresh] = await sqlite_journal.read("hec", 10)
    assert (fresh.event_id, fresh.seq) == ("3", 3)


async def test_concurrent_appends_share_transactions(sqlite_journal: SqliteJournal) -> None:
    # Group commit: 300 concurrent single-event appends must not need 300 commits.
    commits_before = _commit_count(sqlite_journal)
    outcomes = await asyncio.gather(*(sqlite_journal.append([event(i)]) for i in range(300)))
    assert all(o == [ACCEPTED] for o in outcomes)
    assert _commit_count(sqlite_journal) - commits_before < 150
    assert (await sqlite_journal.stats()).events == 300


async def test_appends_of_one_loop_turn_share_one_write(sqlite_journal: SqliteJournal) -> None:
    commits_before = _commit_count(sqlite_journal)
    outcomes = await asyncio.gather(*(sqlite_journal.append([event(i), event(f"b{i}")])
                                      for i in range(200)))
    assert outcomes == [[ACCEPTED, ACCEPTED]] * 200
    assert _commit_count(sqlite_journal) - commits_before <= 2


async def test_the_same_id_in_concurrent_requests_is_stored_once(
        sqlite_journal: SqliteJournal) -> None:
    outcomes = await asyncio.gather(*(sqlite_journal.append([event(7)]) for _ in range(5)))
    assert sorted(o[0].value for o in outcomes) == ["accepted"] + ["duplicate"] * 4
    assert (await sqlite_journal.stats()).events == 1


async def test_a_caller_that_gives_up_does_not_disturb_the_others(
        sqlite_journal: SqliteJournal) -> None:
    tasks = [asyncio.create_task(sqlite_journal.append([event(i)])) for i in range(10)]
    await asyncio.sleep(0)  # every append has joined the group, none is written yet
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], asyncio.CancelledError)
    assert [r for n, r in enumerate(results) if n != 3] == [[ACCEPTED]] * 9
    # What was queued is written all the same: the caller only stopped waiting.
    assert (await sqlite_journal.stats()).events == 10


def _commit_count(journal: SqliteJournal) -> int:
    return journal.batches_committed


async def test_locked_journal_is_unavailable_then_recovers(sqlite_journal: SqliteJournal) -> None:
    other = sqlite3.connect(sqlite_journal.path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(JournalUnavailable, match="locked"):
            await sqlite_journal.append([event(1)])
        with pytest.raises(JournalUnavailable):
            await sqlite_journal.check_writable()
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert await sqlite_journal.append([event(1)]) == [ACCEPTED]
    await sqlite_journal.check_writable()


async def test_journal_file_is_private_to_its_owner(sqlite_journal: SqliteJournal) -> None:
    assert stat.S_IMODE(os.stat(sqlite_journal.path).st_mode) == 0o600


async def test_readonly_open_of_a_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(JournalUnavailable, match="no journal at"):
        await SqliteJournal.open_readonly(JournalConfig(path=missing))
    assert not missing.exists()


async def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(JournalCorrupt, match="not an auditstream journal"):
        await SqliteJournal.open(JournalConfig(path=other))


async def test_retention_cuts_only_the_leading_run_of_old_events(
        sqlite_journal: SqliteJournal) -> None:
    # A clock step can put a young event before an older one: retention stops at the first
    # young event rather than deleting past it.
    await sqlite_journal.append([event(1, received_at=100.0), event(2, received_at=9e9),
                          event(3, received_at=100.0)])
    await sqlite_journal.ack("hec", 3)
    result = await sqlite_journal.purge(now=100.0 + 8 * 86400)
    assert result.bodies_removed == 1
    assert [e.event_id for e in await sqlite_journal.tail(10)] == ["2", "3"]


_VERSION_1_EVENTS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE seen (id INTEGER PRIMARY KEY, instance TEXT NOT NULL, key TEXT NOT NULL,
                   seen_at REAL NOT NULL);
CREATE UNIQUE INDEX seen_key ON seen (instance, key);
CREATE TABLE events (seq INTEGER PRIMARY KEY, instance TEXT NOT NULL, event_id TEXT NOT NULL,
    destination TEXT NOT NULL, received_at REAL NOT NULL, event_type TEXT, created_at REAL,
    entity_type TEXT, entity_path TEXT, body BLOB NOT NULL);
CREATE TABLE cursors (sink TEXT PRIMARY KEY, cursor INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, sink TEXT NOT NULL, seq INTEGER NOT NULL,
    event_id TEXT NOT NULL, reason TEXT NOT NULL, dead_at REAL NOT NULL, body BLOB NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1'), ('last_seq', '1'), ('duplicates_refused', '0');
INSERT INTO seen (instance, key, seen_at) VALUES ('default', 'id:1', 1000.0);
INSERT INTO events VALUES (1, 'default', '1', 'default', 1000.0, 'audit_operation', 999.5,
    'Project', 'acme/app', CAST('{"id": 1}' AS BLOB));
"""


async def test_a_version_1_file_is_upgraded_in_place_and_keeps_its_events(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_VERSION_1_EVENTS)
    config = JournalConfig(path=path, busy_timeout_seconds=0.2)
    with pytest.raises(JournalCorrupt, match="upgrades it"):
        await SqliteJournal.open_readonly(config)  # reading never changes a file
    journal = await SqliteJournal.open(config)
    try:
        assert await journal.append([event(1), event(2)._replace(origin="backfill")]) == [
            DUPLICATE, ACCEPTED]
        [old, new] = await journal.read("any", 10, after=0)
        assert (old.body, old.origin, new.origin) == (b'{"id": 1}', "stream", "backfill")
    finally:
        await journal.close()
