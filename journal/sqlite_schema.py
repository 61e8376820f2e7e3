"""The SQLite journal's file: schema, pragmas, and opening it for writing or reading."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from auditstream.common.files import PRIVATE_FILE, open_private
from auditstream.journal.errors import JournalCorrupt, JournalUnavailable

SCHEMA_VERSION = "4"

# seen: every dedup key ever accepted, in arrival order (rowid), so retention can drop a prefix,
#   with the destination and body digest of the event it belongs to (NULL in rows written by
#   schema 1), which tell a duplicate from a collision (journal.collisions).
# events: bodies byte for byte; seq is assigned by the writer and never reused; origin NULL for
#   a streamed event (the usual, and what older files' rows become), 'backfill' otherwise.
# dead_letters: with the event's metadata (meta, JSON; NULL in rows from before schema 4) and,
#   once an operator asked for a retry, when (retry_requested_at).
# collisions: events stored although another destination had used their id for another event.
# uptime: when each receiving process listened (one row per process run), for reconcile.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    id       INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    key      TEXT NOT NULL,
    seen_at  REAL NOT NULL,
    destination TEXT,
    digest   BLOB
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
    body        BLOB NOT NULL,
    origin      TEXT
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
    body     BLOB NOT NULL,
    meta     BLOB,
    retry_requested_at REAL
);
CREATE TABLE IF NOT EXISTS uptime (
    process    TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    seen_at    REAL NOT NULL,
    stopped    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS collisions (
    id                INTEGER PRIMARY KEY,
    instance          TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    first_destination TEXT NOT NULL,
    destination       TEXT NOT NULL,
    at                REAL NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '4');
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', '0');
INSERT OR IGNORE INTO meta (key, value) VALUES ('duplicates_refused', '0');
"""


def connect_for_writing(path: Path, busy_timeout_seconds: float,
                        max_size_bytes: int | None = None) -> sqlite3.Connection:
    """A connection with full durability: WAL, and an fsync of the WAL at every commit.

    With ``max_size_bytes`` the database may not grow past that size: a write that would
    fails with SQLITE_FULL, as on a full disk (pages freed by retention are reused).
    """
    conn = _connect(str(path), uri=False, busy_timeout_seconds=busy_timeout_seconds)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        # A larger page cache keeps the dedup index's hot pages in memory with millions of ids.
        conn.execute("PRAGMA cache_size=-65536")
        if max_size_bytes is not None:
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            # Per connection; SQLite never sets it below the pages the file already has.
            conn.execute(f"PRAGMA max_page_count={max(1, max_size_bytes // page_size)}")
    except sqlite3.Error as exc:
        conn.close()
        raise _translate_open_error(path, exc) from exc
    return conn


def create_journal_file(path: Path, busy_timeout_seconds: float) -> None:
    """Create the file (owner-only) and its schema, or check an existing one."""
    # Journal bodies are audit evidence: nobody but the owner reads them, whatever the umask
    # or the mode an existing file had (SQLite makes -wal and -shm with the file's mode).
    try:
        os.close(open_private(path, os.O_CREAT | os.O_WRONLY))
        for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if companion.exists() and not companion.is_symlink():
                os.chmod(companion, PRIVATE_FILE)
    except OSError as exc:
        raise JournalUnavailable(f"cannot open the journal {path}: "
                                 f"{'it is a symlink' if exc.errno == errno.ELOOP else exc}"
                                 ) from exc
    conn = connect_for_writing(path, busy_timeout_seconds)
    try:
        conn.executescript(_SCHEMA)
        _migrate(conn)
        check_schema(conn, path)
    except sqlite3.Error as exc:
        raise _translate_open_error(path, exc) from exc
    finally:
        conn.close()


def connect_for_reading(path: Path, busy_timeout_seconds: float) -> sqlite3.Connection:
    """A read-only connection to an existing journal: CLI inspection never creates a file."""
    if not path.is_file():
        raise JournalUnavailable(f"no journal at {path}")
    conn = _connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                    busy_timeout_seconds=busy_timeout_seconds)
    try:
        check_schema(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise _translate_open_error(path, exc) from exc
    except JournalCorrupt:
        conn.close()
        raise
    return conn


# Each step takes a journal from the version it names to the next, in one transaction.
# 1 -> 2: seen learns each key's destination and body digest (NULL for the keys already
# there: ADD COLUMN rewrites nothing, so this is instant on a journal of any size).
# 2 -> 3: events learn their origin, stream or backfill (NULL, read as stream, for the rows
# already there; the uptime table comes with the schema script, which runs first).
# 3 -> 4: dead letters keep the event's metadata and an operator's retry request (NULL in
# the rows already there).
_MIGRATIONS = {
    "1": ("ALTER TABLE seen ADD COLUMN destination TEXT",
          "ALTER TABLE seen ADD COLUMN digest BLOB"),
    "2": ("ALTER TABLE events ADD COLUMN origin TEXT",),
    "3": ("ALTER TABLE dead_letters ADD COLUMN meta BLOB",
          "ALTER TABLE dead_letters ADD COLUMN retry_requested_at REAL"),
}


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older journal's schema up to ``SCHEMA_VERSION``; nothing in it is lost."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            steps = _MIGRATIONS.get(row[0]) if row is not None else None
            if steps is None:
                conn.execute("COMMIT")
                return  # current, or unknown (check_schema names it)
            for statement in steps:
                conn.execute(statement)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                         (str(int(row[0]) + 1),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError as exc:
        raise JournalCorrupt(f"{path} is not an auditstream journal ({exc})") from exc
    if row is None or row[0] != SCHEMA_VERSION:
        found = "none" if row is None else row[0]
        upgrade = (": opening it for writing (receive, relay or run) upgrades it"
                   if found in _MIGRATIONS else "")
        raise JournalCorrupt(
            f"{path} has journal schema version {found}, expected {SCHEMA_VERSION}{upgrade}")


# The writer's multi-row INSERTs come in every size from 1 to 64 rows for two tables: room for
# all of them and the other statements, so none is prepared twice.
_CACHED_STATEMENTS = 256


def _connect(target: str, *, uri: bool, busy_timeout_seconds: float) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a batch is exactly one transaction.
    try:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False,
                               timeout=busy_timeout_seconds,
                               cached_statements=_CACHED_STATEMENTS)
    except sqlite3.Error as exc:
        raise JournalUnavailable(f"cannot open journal {target}: {exc}") from exc
    return conn


def _translate_open_error(path: Path, exc: sqlite3.Error) -> Exception:
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
        return JournalCorrupt(f"{path} is not an auditstream journal ({exc})")
    return JournalUnavailable(f"cannot open journal {path}: {exc}")
