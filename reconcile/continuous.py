"""Continuous reconcile inside ``run`` / ``receive``: per opted-in destination, a pass at
start-up (from where the last one, before the process stopped, got to) and then every N
minutes, each over the window ``schedule.next_window`` gives.

It shares the event loop with the receiver but never holds it: the REST calls are awaited,
and each page of at most 100 events is one journal append, joining the receiver's own group
commits. A failed pass is logged and counted (never with a token) and the next pass covers
its window again, since the progress only moves after a pass completed. The progress is the
journal's (``Journal.reconcile_progress``): receivers sharing a Redis journal share it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from auditstream.client.errors import GitLabError
from auditstream.journal import Journal, JournalError
from auditstream.reconcile.backfill import BackfillReport, backfill
from auditstream.reconcile.config import ReconcileSettings
from auditstream.reconcile.errors import ReconcileError
from auditstream.reconcile.gitlab_filters import filters_from_gitlab
from auditstream.reconcile.metrics import ReconcileMetrics
from auditstream.reconcile.schedule import next_window
from auditstream.reconcile.select import DestinationFilter

log = logging.getLogger("auditstream.reconcile")

# A turn lasts this many periods: the holder renews it at each pass, and if it stops (or dies)
# another receiver takes over within two periods of its last pass.
TURN_PERIODS = 2.0


async def reconcile_pass(settings: ReconcileSettings, journal: Journal,
                         dedup_window_seconds: float, now: float) -> BackfillReport:
    """One pass; the journal's progress moves to ``now`` only once it completed."""
    assert settings.schedule is not None
    target = settings.target()
    done_until = await journal.reconcile_progress(settings.destination)
    window = next_window(settings.schedule, done_until, now, dedup_window_seconds)
    if window.clipped:
        log.warning("reconcile %s: looking back only to %s, the journal's dedup window",
                    settings.destination, datetime.fromtimestamp(window.since, UTC).isoformat())
    rules = await filters_from_gitlab(target) or DestinationFilter()
    report = await backfill(target, journal, datetime.fromtimestamp(window.since, UTC),
                            datetime.fromtimestamp(window.until, UTC), rules=rules)
    await journal.record_reconcile_progress(settings.destination, window.until)
    return report


async def reconcile_periodically(settings: ReconcileSettings, journal: Journal,
                                 dedup_window_seconds: float, metrics: ReconcileMetrics, *,
                                 holder: str,
                                 clock: Callable[[], float] = time.time,
                                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                                 ) -> None:
    """Pass after pass until cancelled, in the turns ``holder`` (this process) takes: where
    receivers share a journal, one of them reconciles a destination while it runs, and the
    others take over within ``TURN_PERIODS`` periods of its last pass if it stops."""
    assert settings.schedule is not None
    every = settings.schedule.every_seconds
    while True:
        now = clock()
        report: BackfillReport | None = None
        done_until: float | None = None
        try:
            if await journal.take_reconcile_turn(settings.destination, holder,
                                                 every * TURN_PERIODS, now):
                report = await reconcile_pass(settings, journal, dedup_window_seconds, now)
            else:
                done_until = await journal.reconcile_progress(settings.destination)
        except (GitLabError, JournalError, ReconcileError, OSError) as exc:
            metrics.failed(settings.destination)
            log.warning("reconcile %s failed (next try in %.0f s): %s", settings.destination,
                        every, exc)
        else:
            if report is None:  # another receiver's turn: what it did is this one's news
                if done_until is not None:
                    metrics.done_elsewhere(settings.destination, done_until)
                log.debug("reconcile %s: another receiver's turn", settings.destination)
                await sleep(every)
                continue
            metrics.passed(settings.destination, report.found, report.already_held,
                           report.added, clock())
            log.info("reconcile %s: %d found, %d already held, %d added (%s .. %s)",
                     settings.destination, report.found, report.already_held, report.added,
                     report.since.isoformat(), report.until.isoformat())
        await sleep(every)
