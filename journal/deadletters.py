"""Dead letters an operator can act on: which ones a command names, and the event each keeps.

A dead letter keeps the whole event (its metadata as well as its body), so a retry sends the
same envelope the first attempt did, even once retention removed the event from the journal.
Retrying is a request recorded in the journal (``Journal.retry_dead_letters``): the relay's
pipeline for that sink sends what is requested through its usual path and removes a dead
letter only once the sink confirmed it (``Journal.remove_dead_letters``). Pure; no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from auditstream.journal.model import STREAM, DeadLetter, StoredEvent


@dataclass(frozen=True, slots=True)
class DeadLetterSelection:
    """Which dead letters a command acts on: every one when nothing is given.

    ``reason`` matches a part of the sink's reason (``"code 6"``), without regard to case."""

    sink: str | None = None
    ids: frozenset[str] = frozenset()
    reason: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        if self.sink is not None and letter.sink != self.sink:
            return False
        if self.ids and letter.id not in self.ids:
            return False
        return self.reason is None or self.reason.casefold() in letter.reason.casefold()


def encode_event_meta(event: StoredEvent) -> bytes:
    """The event's metadata (not its body, kept apart), as the dead letter stores it."""
    return orjson.dumps([event.instance, event.event_id, event.destination, event.received_at,
                         event.event_type, event.created_at, event.entity_type,
                         event.entity_path, event.origin])


def decode_event(seq: int, meta: bytes | None, body: bytes, event_id: str,
                 dead_at: float) -> StoredEvent | None:
    """The event a dead letter keeps; None for one recorded before metadata was kept (its
    body alone cannot say which instance or destination it came from)."""
    if meta is None:
        return None
    (instance, meta_event_id, destination, received_at, event_type, created_at, entity_type,
     entity_path, origin) = orjson.loads(meta)
    return StoredEvent(seq, instance, meta_event_id or event_id, destination,
                       received_at if received_at is not None else dead_at, body, event_type,
                       created_at, entity_type, entity_path, origin or STREAM)
