"""The cost ladder's ``handler`` stage: the receiver's application without its storage.

The receiver's own app (token check, parsing, ``IncomingEvent``s, metrics, JSON answers) on a
journal that keeps nothing, so a benchmark can tell what the receiver's request handling costs
apart from what its durable, deduplicating journal costs. Never used outside ``bench``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiohttp import web

from auditstream.common.secrets import Secret
from auditstream.journal import (
    AppendOutcome,
    DeadLetter,
    IncomingEvent,
    Journal,
    JournalStats,
    PurgeResult,
    StoredEvent,
)
from auditstream.receiver.app import create_app
from auditstream.receiver.config import DestinationConfig, ReceiverConfig


class NothingKept(Journal):
    """A journal that stores nothing: every event is new, answered at the loop's next turn.

    Only for the ladder's ``handler`` stage, to price the receiver without its storage.
    """

    async def append(self, events: Sequence[IncomingEvent]) -> list[AppendOutcome]:
        await asyncio.sleep(0)  # a real append answers from a later turn of the loop
        return [AppendOutcome.ACCEPTED] * len(events)

    async def known(self, instance: str, keys: Sequence[str]) -> set[str]:
        return set()

    async def record_uptime(self, process: str, started_at: float, seen_at: float,
                            stopped: bool = False) -> None:
        return None

    async def uptime(self, since: float, until: float) -> list[tuple[float, float, bool]]:
        return []

    async def reconcile_progress(self, destination: str) -> float | None:
        return None

    async def record_reconcile_progress(self, destination: str, until: float) -> None:
        return None

    async def take_reconcile_turn(self, destination: str, holder: str, seconds: float,
                                  now: float) -> bool:
        return True

    async def register_sink(self, sink: str) -> None:
        return None

    async def read(self, sink: str, limit: int, after: int | None = None) -> list[StoredEvent]:
        return []

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        return []

    async def ack(self, sink: str, upto: int) -> None:
        return None

    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        return None

    async def dead_letters(self, sink: str | None, limit: int) -> list[DeadLetter]:
        return []

    async def retry_dead_letters(self, ids: Sequence[str], now: float) -> int:
        return 0

    async def dead_letters_to_retry(self, sink: str, limit: int) -> list[DeadLetter]:
        return []

    async def remove_dead_letters(self, ids: Sequence[str]) -> int:
        return 0

    async def tail(self, limit: int) -> list[StoredEvent]:
        return []

    async def stats(self) -> JournalStats:
        return JournalStats(events=0, first_seq=None, last_seq=None, remembered_ids=0,
                            duplicates_refused=0, dead_letters=0, sinks=())

    async def purge(self, now: float) -> PurgeResult:
        return PurgeResult(bodies_removed=0, ids_forgotten=0)

    async def check_writable(self) -> None:
        return None

    async def close(self) -> None:
        return None


def receiver_without_storage(token: str) -> web.Application:
    config = ReceiverConfig(destinations=(
        DestinationConfig(name="default", tokens=(Secret(token),)),))
    return create_app(config, NothingKept())
