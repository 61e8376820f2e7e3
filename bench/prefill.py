"""Fill a journal with N stored ids through the journal's own API, as a long-running one would be.

Ids are integers below the ones wrk sends (``PREFILL_FIRST_ID`` upwards, as GitLab's ids grow),
bodies are the realistic events of ``bench.events``, received over the last days (inside the
dedup window, so the receiver's retention pass keeps them all).

    python -m bench.prefill --journal /tmp/prefilled.db --ids 10000000

Progress goes to stderr; the result is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from auditstream.journal import AppendOutcome, IncomingEvent, Journal, JournalConfig, open_journal
from bench.events import event_body

PREFILL_FIRST_ID = 1_000_000_000
DEFAULT_BATCH_EVENTS = 20_000
# Spread the received times over this many seconds before now: inside the 30-day dedup window.
PREFILL_SPAN_SECONDS = 20 * 24 * 3600.0
# Batches in flight: the next one is built while the writer thread stores the previous one.
_IN_FLIGHT = 2


@dataclass(frozen=True, slots=True)
class PrefillResult:
    ids: int
    seconds: float
    file_bytes: int


def prefill_batch(start: int, count: int, total: int, now: float,
                  instance: str = "default", destination: str = "default") -> list[IncomingEvent]:
    """Events ``start`` .. ``start + count - 1`` of ``total``, oldest first."""
    events = []
    for index in range(start, start + count):
        received_at = now - PREFILL_SPAN_SECONDS * (1 - index / total)
        event_id = PREFILL_FIRST_ID + index
        event_type, body = event_body(event_id, received_at - 0.4)
        events.append(IncomingEvent(
            instance=instance, event_id=str(event_id), dedup_keys=(f"id:{event_id}",),
            destination=destination, received_at=received_at, body=body,
            event_type=event_type, created_at=received_at - 0.4))
    return events


async def prefill(path: Path, total: int, batch_events: int = DEFAULT_BATCH_EVENTS,
                  progress: Callable[[int], None] | None = None) -> PrefillResult:
    """Append ``total`` new events to the journal at ``path`` in large batches."""
    started = time.perf_counter()
    now = time.time()
    journal = await open_journal(JournalConfig(path=path))
    try:
        pending: set[asyncio.Task[int]] = set()
        for start in range(0, total, batch_events):
            if len(pending) >= _IN_FLIGHT:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            batch = prefill_batch(start, min(batch_events, total - start), total, now)
            pending.add(asyncio.create_task(_append(journal, batch)))
            if progress is not None:
                progress(start)
        for task in pending:
            await task
    finally:
        await journal.close()
    return PrefillResult(ids=total, seconds=time.perf_counter() - started,
                         file_bytes=_file_bytes(path))


async def _append(journal: Journal, batch: list[IncomingEvent]) -> int:
    outcomes = await journal.append(batch)
    accepted = sum(1 for outcome in outcomes if outcome is AppendOutcome.ACCEPTED)
    if accepted != len(batch):
        raise RuntimeError(f"prefill: {len(batch) - accepted} ids of a batch were already "
                           "stored; prefill an empty journal")
    return accepted


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def main() -> None:
    parser = argparse.ArgumentParser(description="Fill a journal with N realistic stored ids.")
    parser.add_argument("--journal", type=Path, required=True, help="the journal file to fill")
    parser.add_argument("--ids", type=int, required=True, help="how many ids to store")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_EVENTS,
                        help="events per append (default %(default)s)")
    args = parser.parse_args()
    step = max(args.ids // 10, 1)

    def report(done: int) -> None:
        if done % step < args.batch:
            print(f"prefill: {done:,} of {args.ids:,} ids", file=sys.stderr, flush=True)

    result = asyncio.run(prefill(args.journal, args.ids, args.batch, report))
    print(f"prefill: {result.ids:,} ids in {result.seconds:.1f} s "
          f"({result.ids / result.seconds:,.0f} ids/s), {result.file_bytes / 1e9:.2f} GB",
          file=sys.stderr)
    print(json.dumps(asdict(result)))  # the last line of stdout, for the benchmark


if __name__ == "__main__":
    main()
