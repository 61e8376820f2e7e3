"""Group commit on Redis: appends that arrive while a script runs share the next one.

A receiver under load has many requests in flight, each with an event or a few. One script
call per request would cost Redis a round trip and a script start each; instead one task
sends what has queued up as one call (up to ``MAX_EVENTS_PER_CALL`` events and
``MAX_BYTES_PER_CALL`` of bodies, so Redis is never busy long with one) and hands each caller
its part of the answer. With ``appendfsync always`` that is also one fsync for all of them.
The script stays atomic per call, and a call's failure fails every append in it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from auditstream.journal.errors import JournalClosed
from auditstream.journal.model import IncomingEvent

MAX_EVENTS_PER_CALL = 1000
MAX_BYTES_PER_CALL = 4 * 1024 * 1024

# What the append script says of one event: its seq, 0 for a duplicate, or for a collision
# [seq, the destination that stored the id first] (see journal.redis_layout).
ScriptResult = int | list[Any]
# Appends the events of one call; returns what the script said of each.
AppendCall = Callable[[Sequence[IncomingEvent]], Awaitable[list[ScriptResult]]]


@dataclass(slots=True)
class _Pending:
    events: Sequence[IncomingEvent]
    future: asyncio.Future[list[ScriptResult]]


class GroupAppender:
    """Queues appends and runs them in as few script calls as the load allows."""

    def __init__(self, call: AppendCall) -> None:
        self._call = call
        self._queue: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.calls = 0  # script calls made (appends per call show the grouping)

    async def append(self, events: Sequence[IncomingEvent]) -> list[ScriptResult]:
        if self._closed:
            raise JournalClosed("the journal is closed")
        future: asyncio.Future[list[ScriptResult]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(events, future))
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="journal:redis-appender")
        return await future

    async def close(self) -> None:
        """Finish what is queued, then stop."""
        self._closed = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._send(self._take())
            if self._closed:
                return

    def _take(self) -> list[_Pending]:
        taken: list[_Pending] = []
        count = size = 0
        while self._queue:
            events = self._queue[0].events
            more = sum(len(event.body) for event in events)
            if taken and (count + len(events) > MAX_EVENTS_PER_CALL
                          or size + more > MAX_BYTES_PER_CALL):
                break
            taken.append(self._queue.popleft())
            count, size = count + len(events), size + more
        return taken

    async def _send(self, batch: list[_Pending]) -> None:
        events = [event for pending in batch for event in pending.events]
        try:
            seqs = await self._call(events)
            self.calls += 1
        except Exception as exc:  # JournalError, or a bug: these appends fail, later ones go on
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        start = 0
        for pending in batch:
            end = start + len(pending.events)
            if not pending.future.done():  # its caller may have gone; the write stands
                pending.future.set_result(seqs[start:end])
            start = end
