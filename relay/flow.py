"""The pipeline's flow control, one part per thing it guards.

- ``WorkQueue``: what one stage hands to another, in order, ended by ``close()``.
- ``SendGate``: while the sink fails, one request at a time (the failing sender's).
- ``BusySenders``: how many senders have a batch in hand, so ``stop`` can wait for none.

Each is taken and given back in one ``with``/``async with`` or one ``async for``, never by hand
in two places, so an exception or a cancellation cannot leave a lock held or a count wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkQueue(Generic[T]):
    """A FIFO from one stage to its takers. ``close()`` ends it: ``async for`` takes no item
    after it (what is left stays unsent: unconfirmed, sent again after a restart), while
    ``drain`` still hands over everything put before it."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._changed = asyncio.Event()  # set on put and on close: takers look again
        self._closed = False

    def put(self, item: T) -> None:
        self._items.append(item)
        self._changed.set()

    def close(self) -> None:
        self._closed = True
        self._changed.set()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        """The next item; stops once closed, even with items left."""
        while not self._closed:
            if self._items:
                return self._items.popleft()
            await self._wait()
        raise StopAsyncIteration

    async def drain(self) -> list[T]:
        """Every item put so far (at least one, waiting for it); ``[]`` once closed and empty."""
        while True:
            if self._items:
                items = list(self._items)
                self._items.clear()
                return items
            if self._closed:
                return []
            await self._wait()

    async def _wait(self) -> None:
        # Every taker woken by one set() looks again; the one that finds nothing waits anew.
        self._changed.clear()
        await self._changed.wait()


class SendGate:
    """Keeps a failing sink to one request at a time.

    Several senders keep a healthy sink busy; once an attempt fails (a retry or a pause), its
    sender holds the gate until one of its attempts succeeds, and the others send nothing
    meanwhile (a busy or misconfigured sink is not hammered by every sender at once)."""

    def __init__(self) -> None:
        self._failing = asyncio.Lock()  # held by the sender retrying a failing sink

    @property
    def failing(self) -> bool:
        """A sender is retrying a failing sink (and has not succeeded since)."""
        return self._failing.locked()

    def turn(self) -> SendTurn:
        """One sender's delivery of one batch: ``async with gate.turn() as turn``."""
        return SendTurn(self._failing)


class SendTurn:
    """A sender's place at the ``SendGate`` for one batch; gives the gate back on leaving."""

    def __init__(self, failing: asyncio.Lock) -> None:
        self._failing = failing
        self._holding = False

    async def __aenter__(self) -> SendTurn:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.succeeded()

    async def wait_for_failing_sender(self) -> None:
        """Another sender is retrying a failing sink: send nothing until it succeeds."""
        if not self._holding and self._failing.locked():
            async with self._failing:
                pass

    async def failed(self) -> None:
        """Our attempt failed: the sink is failing, and from now on only we send."""
        if not self._holding:
            await self._failing.acquire()
            self._holding = True

    def succeeded(self) -> None:
        """Our attempt went through: the others may send again."""
        if self._holding:
            self._holding = False
            self._failing.release()


class BusySenders:
    """Counts the senders with a batch in hand; ``stop`` waits until there are none."""

    def __init__(self) -> None:
        self._busy = 0
        self._idle = asyncio.Event()  # set while no sender has a batch in hand
        self._idle.set()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """One sender delivering one batch."""
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    async def wait_idle(self, timeout_seconds: float) -> None:
        """Until no sender has a batch in hand, or the timeout passed."""
        if self._idle.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_seconds)
