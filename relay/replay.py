"""Replaying a range of the journal to one sink: ``auditstream replay``.

**Design: a short-lived pipeline of its own.** The replay process runs a ``SinkPipeline`` (the
same batching, retries, splitting, dead letters and indexer acknowledgement as the relay's)
over a ``RangeSource``: a range of the journal with a position kept in memory. It never acks
the sink's cursor or registers anything, so

- the sink's cursor never moves back, and the relay's pipeline (in another process, or none)
  goes on as if nothing happened; the other sinks are not touched at all;
- it works the same on SQLite and Redis (it only reads, as ``journal tail`` does), with the
  relay running or not, and needs no relay to pick a request up;
- a replay killed half-way leaves nothing behind: run it again (what it sent before is sent
  again; a replay is at-least-once, as the relay is).

The alternative, a replay request recorded in the journal for the relay's pipeline to serve,
would need a running relay, a second cursor per sink that retention must respect, and a
protocol for cancelling it; it would bring nothing a separate pipeline lacks.

Finding the range scans the journal from its start (``find_range``): events are ordered by
seq, not by time. Events of the range that retention already removed are counted, and so are
those it removes while the replay runs (``RangeSource.purged``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from auditstream.journal import Journal, StoredEvent
from auditstream.relay.metrics import RelayMetrics
from auditstream.relay.pipeline import PipelineSettings, SinkPipeline
from auditstream.relay.sinks.base import Sink
from auditstream.relay.sources import RangeSource, ReplayRange

SCAN_PAGE = 1000
_STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class RangeRequest:
    """What the operator asked for: events received within ``[since, until]``, or from the
    event with GitLab id ``from_id`` on."""

    since: float | None = None
    until: float | None = None
    from_id: str | None = None


@dataclass(frozen=True, slots=True)
class FoundRange:
    """The range in the journal, and what is known about it before sending.

    ``events``: how many the journal holds in it. ``purged_before``: events removed by
    retention before the oldest one held (``oldest_held_at``), any of which may have been
    in the range; 0 when none were, or the range starts after them."""

    span: ReplayRange
    events: int
    purged_before: int
    oldest_held_at: float | None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    delivered: int
    dead_lettered: int
    purged: int


class RangeNotFound(LookupError):
    """The range names no event the journal holds (``str`` says why)."""


async def find_range(journal: Journal, request: RangeRequest, *, last_seq: int,
                     progress: Callable[[int], None] = lambda n: None) -> FoundRange:
    """Scan the journal (up to ``last_seq``, its end when the replay starts) for the range."""
    first_held: StoredEvent | None = None
    first_seq: int | None = None
    end = 0
    count = 0
    after = 0
    while after < last_seq:
        page = await journal.read("", SCAN_PAGE, after=after)
        if not page:
            break
        first_held = first_held or page[0]
        for event in page:
            if event.seq > last_seq:
                break
            if first_seq is None and _starts(event, request):
                first_seq = event.seq
            if first_seq is not None and _within(event, request):
                count += 1
                end = event.seq
        after = page[-1].seq
        progress(len(page))
    removed = 0 if first_held is None else first_held.seq - 1  # seqs are never reused
    if first_seq is None or count == 0:
        raise RangeNotFound(_not_found(request, first_held, removed))
    # Those removed count against the range unless it starts at or after the oldest held.
    starts_among_held = request.from_id is not None or (
        first_held is not None and request.since is not None
        and request.since >= first_held.received_at)
    purged = 0 if starts_among_held else removed
    return FoundRange(ReplayRange(first_seq, end, request.since, request.until), count,
                      purged, None if first_held is None else first_held.received_at)


def _starts(event: StoredEvent, request: RangeRequest) -> bool:
    if request.from_id is not None:
        return event.event_id == request.from_id
    return _within(event, request)


def _within(event: StoredEvent, request: RangeRequest) -> bool:
    if request.since is not None and event.received_at < request.since:
        return False
    return request.until is None or event.received_at <= request.until


def _not_found(request: RangeRequest, first_held: StoredEvent | None, purged: int) -> str:
    removed = (f"; {purged} older events were removed by retention" if purged else "")
    if first_held is None:
        return "the journal holds no events" + removed
    if request.from_id is not None:
        return (f"no event with id {request.from_id} in the journal: never received, or "
                f"removed by retention{removed}")
    return "no event in the journal was received in that time range" + removed


async def replay(sink: Sink, journal: Journal, settings: PipelineSettings, span: ReplayRange,
                 progress: Callable[[int], None] = lambda n: None) -> ReplayResult:
    """Send ``span`` to ``sink`` through a pipeline of its own; return once the sink confirmed
    all of it (or dead-lettered what it refuses). Closes nothing: the caller owns the sink."""
    source = RangeSource(journal, sink.name, span)
    pipeline = SinkPipeline(sink, source, settings, RelayMetrics.create(CollectorRegistry()))
    running = asyncio.create_task(pipeline.run(), name=f"replay:{sink.name}")
    reported = 0
    try:
        while not source.finished.is_set():
            finished = asyncio.create_task(source.finished.wait())
            await asyncio.wait([finished, running], timeout=0.5,
                               return_when=asyncio.FIRST_COMPLETED)
            finished.cancel()
            if running.done():
                running.result()  # a bug in the pipeline: raise it
            if source.confirmed > reported:
                progress(source.confirmed - reported)
                reported = source.confirmed
    finally:
        await pipeline.stop(_STOP_GRACE_SECONDS)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return ReplayResult(delivered=source.confirmed - source.dead_lettered,
                        dead_lettered=source.dead_lettered, purged=source.purged)
