"""Group commit: one writer thread runs every pending write job in one transaction.

Requests that arrive while a transaction commits wait for the next one, so N concurrent appends
cost one fsync, not N. The thread owns the write connection; the event loop only queues jobs
and awaits futures that the thread resolves with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from auditstream.journal.errors import JournalClosed, JournalError, JournalUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# A job runs inside the open transaction with the writer's connection and returns its result.
# It must not commit; it may raise only sqlite3.Error (anything else is a bug and fails its batch).
WriteJob = Callable[[sqlite3.Connection], T]


@dataclass(slots=True)
class _Pending(Generic[T]):
    job: WriteJob[T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    result: Any = field(default=None)


class GroupCommitWriter:
    """Runs write jobs in batches, one transaction and one fsync per batch."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        on_batch_start: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self._connect = connect
        self._on_batch_start = on_batch_start
        self._conn: sqlite3.Connection | None = None
        self._cond = threading.Condition()
        self._queue: list[_Pending[Any]] = []
        self._closing = False
        self.batches_committed = 0  # how many transactions carried the writes (for tests/metrics)
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._thread.start()

    async def submit(self, job: WriteJob[T]) -> T:
        """Queue ``job`` for the next batch and wait until that batch is committed."""
        return await self.enqueue(job)

    def enqueue(self, job: WriteJob[T]) -> asyncio.Future[T]:
        """Queue ``job`` for the next batch; the future (of the running loop) has its result
        once that batch is committed. Callers that share one job must not await the future
        itself (a cancelled waiter would cancel it for all): see ``SqliteJournal.append``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._cond:
            if self._closing:
                raise JournalClosed("the journal is closed")
            self._queue.append(_Pending(job, future, loop))
            self._cond.notify()
        return future

    def close(self) -> None:
        """Commit what is queued, then stop the thread and close the connection."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    break
                batch, self._queue = self._queue, []
            self._run_batch(batch)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run_batch(self, batch: list[_Pending[Any]]) -> None:
        error: JournalError | None = None
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._on_batch_start is not None:
                    self._on_batch_start(conn)
                for pending in batch:
                    pending.result = pending.job(conn)
                conn.execute("COMMIT")
                self.batches_committed += 1
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            error = _translate(exc)
            self._forget_connection_after(exc)
        except Exception as exc:  # a bug in a job: fail its batch loudly, keep the writer alive
            log.exception("journal write job failed")
            error = JournalError(f"journal write failed: {exc!r}")
        for loop, group in _by_loop(batch).items():
            try:
                loop.call_soon_threadsafe(_resolve, group, error)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                log.debug("journal writer: a caller's event loop closed before its answer")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _rollback(self) -> None:
        if self._conn is None:
            return
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            self._drop_connection()

    def _forget_connection_after(self, exc: sqlite3.Error) -> None:
        # Busy and locked leave the connection sound; after I/O errors, full disks or a
        # read-only file start afresh so the next batch sees the file as it is then.
        if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                log.warning("closing the journal's write connection failed", exc_info=True)
            self._conn = None


def _translate(exc: sqlite3.Error) -> JournalUnavailable:
    name = getattr(exc, "sqlite_errorname", type(exc).__name__)
    return JournalUnavailable(f"journal cannot take writes: {exc} ({name})")


def _by_loop(batch: list[_Pending[Any]]) -> dict[asyncio.AbstractEventLoop, list[_Pending[Any]]]:
    groups: dict[asyncio.AbstractEventLoop, list[_Pending[Any]]] = {}
    for pending in batch:
        groups.setdefault(pending.loop, []).append(pending)
    return groups


def _resolve(batch: list[_Pending[Any]], error: JournalError | None) -> None:
    for pending in batch:
        if pending.future.done():  # its caller went away; the write itself stands
            continue
        if error is None:
            pending.future.set_result(pending.result)
        else:
            pending.future.set_exception(error)
