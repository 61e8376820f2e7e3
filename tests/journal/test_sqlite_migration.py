"""A journal written by an older auditstream opens, is upgraded in place, and loses nothing.

Schema 1 (before collisions were told apart) is kept here as it was shipped.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from auditstream.journal import AppendOutcome, IncomingEvent, JournalConfig, JournalCorrupt
from auditstream.journal.sqlite import SqliteJournal
from auditstream.journal.sqlite_schema import SCHEMA_VERSION

V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    id       INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    key      TEXT NOT NULL,
    seen_at  REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS seen_key ON seen (instance, key);
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY,
    instance    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    destination TEXT NOT NULL,
    received_at REAL NOT NULL,
    event_type  TEXT,
    created_at  REAL,
    entity_type TEXT,
    entity_path TEXT,
    body        BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    sink   TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id       INTEGER PRIMARY KEY,
    sink     TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    reason   TEXT NOT NULL,
    dead_at  REAL NOT NULL,
    body     BLOB NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', '0');
INSERT OR IGNORE INTO meta (key, value) VALUES ('duplicates_refused', '0');
"""


OLD_BODY = b'{"id": 41, "event_type": "user_created"}'


def old_journal(path: Path) -> None:
    """A schema-1 file holding event 41 (seq 1), its id, and a sink halfway."""
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO seen (instance, key, seen_at) VALUES ('default', 'id:41', 10.0)")
    conn.execute("INSERT INTO events (seq, instance, event_id, destination, received_at, body) "
                 "VALUES (1, 'default', '41', 'acme', 10.0, ?)", (OLD_BODY,))
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'last_seq'")
    conn.execute("INSERT INTO cursors (sink, cursor) VALUES ('hec', 0)")
    conn.commit()
    conn.close()


def event(event_id: int, destination: str, body: bytes) -> IncomingEvent:
    return IncomingEvent("default", str(event_id), (f"id:{event_id}",), destination, 20.0, body)


def version(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        value: str = conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    return value


async def test_old_journal_is_upgraded_in_place_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    old_journal(path)
    journal = await SqliteJournal.open(JournalConfig(path=path))
    try:
        assert version(path) == SCHEMA_VERSION
        [kept] = await journal.read("hec", 10)
        assert (kept.seq, kept.event_id, kept.body) == (1, "41", OLD_BODY)
        # An id remembered before digests were has nothing to compare: a duplicate, as it was.
        assert await journal.append([event(41, "other", b'{"id": 41}')]) == [
            AppendOutcome.DUPLICATE]
        # New ids get the new rules, and seq goes on from where it was.
        assert await journal.append([event(42, "acme", b'{"id": 42}'),
                                     event(42, "other", b'{"id": 42, "x": 1}')]) == [
            AppendOutcome.ACCEPTED, AppendOutcome.COLLISION]
        assert [e.seq for e in await journal.read("hec", 10)] == [1, 2, 3]
        stats = await journal.stats()
        assert (stats.events, stats.collisions, stats.duplicates_refused) == (3, 1, 1)
    finally:
        await journal.close()


async def test_upgrade_happens_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    old_journal(path)
    for _ in range(2):
        journal = await SqliteJournal.open(JournalConfig(path=path))
        await journal.close()
    assert version(path) == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(seen)")]
    assert columns == ["id", "instance", "key", "seen_at", "destination", "digest"]


async def test_reading_an_old_journal_says_how_to_upgrade_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    old_journal(path)
    with pytest.raises(JournalCorrupt, match=f"schema version 1, expected {SCHEMA_VERSION}: "
                                             "opening it for writing"):
        await SqliteJournal.open_readonly(JournalConfig(path=path))
    assert version(path) == "1"  # inspection never changes the file
