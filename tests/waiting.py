"""Waiting, bounded, for state that lives elsewhere (a file, a journal, another process)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

POLL_SECONDS = 0.02


async def eventually(condition: Callable[[], bool | Awaitable[bool]],
                     within: float = 10.0) -> None:
    """Return once ``condition()`` is true; fail the test if it is not within ``within`` s.

    Polling is right here: what we wait on is written by another process or thread, so
    there is no in-process event to wait for.
    """
    async with asyncio.timeout(within):
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(POLL_SECONDS)
