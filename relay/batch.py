"""Cutting envelopes into batches: pure, by count, by bytes, never mixing indexes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditstream.relay.envelope import Envelope

# Vector flushes at 1 MB or 1 s; a site's max_content_length is often 1-10 MB.
DEFAULT_BATCH_MAX_EVENTS = 1000
DEFAULT_BATCH_MAX_BYTES = 1_000_000
DEFAULT_BATCH_MAX_WAIT_SECONDS = 1.0
SEPARATOR = b"\n"


@dataclass(frozen=True, slots=True)
class Batch:
    """Envelopes sent in one request, in journal order; one index per batch."""

    envelopes: tuple[Envelope, ...]

    @property
    def first_seq(self) -> int:
        return self.envelopes[0].seq

    @property
    def last_seq(self) -> int:
        return self.envelopes[-1].seq

    @property
    def index(self) -> str | None:
        return self.envelopes[0].index

    def __len__(self) -> int:
        return len(self.envelopes)

    def body(self) -> bytes:
        """Concatenated envelopes, as HEC takes them (not a JSON array)."""
        return SEPARATOR.join(envelope.data for envelope in self.envelopes)

    def split(self) -> tuple[Batch, Batch]:
        middle = len(self.envelopes) // 2
        return Batch(self.envelopes[:middle]), Batch(self.envelopes[middle:])

    def without_first(self, count: int) -> Batch | None:
        rest = self.envelopes[count:]
        return Batch(rest) if rest else None


def cut_batches(envelopes: Sequence[Envelope], max_events: int, max_bytes: int) -> list[Batch]:
    """The envelopes grouped by index (journal order kept within each), cut into batches.

    Partitioning by index means one index the token may not write to cannot hold up or
    poison the events of another. Bytes are counted before gzip, so a body is within
    ``max_bytes`` on the wire with or without compression. An envelope alone over
    ``max_bytes`` gets a batch of its own (the sink's 413 then dead-letters it, with why).
    """
    by_index: dict[str | None, list[Envelope]] = {}
    for envelope in envelopes:
        by_index.setdefault(envelope.index, []).append(envelope)
    batches: list[Batch] = []
    for group in by_index.values():
        batches.extend(_cut(group, max_events, max_bytes))
    return batches


def _cut(envelopes: list[Envelope], max_events: int, max_bytes: int) -> list[Batch]:
    batches: list[Batch] = []
    current: list[Envelope] = []
    size = 0
    for envelope in envelopes:
        added = len(envelope.data) + (len(SEPARATOR) if current else 0)
        if current and (len(current) >= max_events or size + added > max_bytes):
            batches.append(Batch(tuple(current)))
            current, size, added = [], 0, len(envelope.data)
        current.append(envelope)
        size += added
    if current:
        batches.append(Batch(tuple(current)))
    return batches
