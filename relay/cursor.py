"""Writing a sink's cursor, and the relay's other journal writes, which must not be lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from auditstream.journal import JournalError
from auditstream.relay.flow import WorkQueue
from auditstream.relay.sources import DeliverySource

log = logging.getLogger("auditstream.relay")

JOURNAL_RETRY_SECONDS = 1.0


async def write_retrying(write: Callable[[], Awaitable[None]], *, sink: str) -> None:
    """Journal writes of the relay must not be lost: retry until they go through."""
    while True:
        try:
            await write()
            return
        except JournalError as exc:
            log.warning("journal write failed, retrying: %s", exc, extra={"sink": sink})
            await asyncio.sleep(JOURNAL_RETRY_SECONDS)


class CursorWriter:
    """Writes a sink's cursor moves one at a time, in the order they come (claim order), so
    a slow journal write never blocks sending. ``close`` ends ``run`` once every move made
    before it is written."""

    def __init__(self, journal: DeliverySource, sink: str,
                 moved: Callable[[], None]) -> None:
        self._journal = journal
        self._sink = sink
        self._moved = moved  # the backlog gauge reads again (relay.backlog)
        self._moves: WorkQueue[int] = WorkQueue()

    def move_to(self, upto: int) -> None:
        self._moves.put(upto)

    def close(self) -> None:
        self._moves.close()

    async def run(self) -> None:
        while moves := await self._moves.drain():
            # The latest move acks every claim before it too: one write for all of them.
            await self._write(moves[-1])

    async def _write(self, upto: int) -> None:
        await write_retrying(lambda: self._journal.ack(self._sink, upto), sink=self._sink)
        self._moved()
