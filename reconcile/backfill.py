"""One backfill run: list a destination's stored events over REST, keep what GitLab would have
streamed to it, append them through the journal under the stream's dedup key.

The steps are values: ``plan`` (pure) turns a page of the listing into the events to append
and the count of what was dropped; ``backfill`` does the I/O around it. Each page goes to the
journal as GitLab serves it (one durable append per page of at most 100), so memory stays
bounded and a run killed halfway leaves whole, deduplicated appends behind: running it again
adds the rest and doubles nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditstream.client.audit_events import audit_event_pages
from auditstream.client.rest import RestSession
from auditstream.journal import AppendOutcome, IncomingEvent, Journal
from auditstream.reconcile.config import ReconcileTarget
from auditstream.reconcile.convert import incoming
from auditstream.reconcile.select import DestinationFilter
from auditstream.reconcile.uptime import assume_live, gaps

APPEND_SLICE = 200  # events per journal append at most: one transaction each


@dataclass(frozen=True, slots=True)
class Plan:
    """What to append, and what GitLab listed that the destination would not have received."""

    events: tuple[IncomingEvent, ...]
    filtered_out: int


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """What one run found, already held, added, and could not know."""

    destination: str
    scope: str
    since: datetime
    until: datetime
    found: int  # stored events GitLab listed for the tree in the range
    filtered_out: int  # of those, what the destination's filters keep from it
    already_held: int  # in the journal already (streamed, or backfilled before)
    added: int  # appended by this run (0 with dry_run)
    dry_run: bool
    stream_only_types: tuple[str, ...]  # streamed, never stored: cannot be backfilled
    filters: DestinationFilter
    queries: int  # REST requests answered
    rate_limited: int
    added_ids: tuple[str, ...] = field(default=())
    # When no receiver listened, per the journal's uptime records; None: never recorded.
    not_listening: tuple[tuple[datetime, datetime], ...] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "destination": self.destination, "scope": self.scope,
            "since": self.since.isoformat(), "until": self.until.isoformat(),
            "found": self.found, "filtered_out": self.filtered_out,
            "already_held": self.already_held,
            ("would_add" if self.dry_run else "added"): (
                self.found - self.filtered_out - self.already_held if self.dry_run
                else self.added),
            "dry_run": self.dry_run,
            "not_recoverable": {
                "stream_only_event_types": list(self.stream_only_types),
                "receiver_not_listening": None if self.not_listening is None else [
                    {"from": a.isoformat(), "until": b.isoformat()}
                    for a, b in self.not_listening],
                "why": "GitLab streams these types but never stores them, so its REST API "
                       "cannot list them: any sent while nothing listened are lost"},
            "filters": {"event_types": list(self.filters.event_types),
                        "namespace": self.filters.namespace},
            "rest_requests": self.queries, "rate_limited_waits": self.rate_limited,
        }


def plan(items: Sequence[dict[str, Any]], target: ReconcileTarget, rules: DestinationFilter,
         received_at: float) -> Plan:
    """The journal events for what the destination would have received. Pure."""
    kept: list[IncomingEvent] = []
    dropped = 0
    for item in items:
        if "id" not in item or not rules.admits(item):
            dropped += 1
            continue
        kept.append(incoming(item, instance=target.instance, destination=target.destination,
                             received_at=received_at))
    return Plan(tuple(kept), dropped)


async def backfill(target: ReconcileTarget, journal: Journal, since: datetime,
                   until: datetime, *, rules: DestinationFilter, dry_run: bool = False,
                   session: RestSession | None = None,
                   on_page: Callable[[int], None] | None = None) -> BackfillReport:
    """Run once over ``[since, until]``. GitLab's refusals raise ``GitLabError``, the journal's
    ``JournalError``; what was appended before either stays appended. ``on_page`` hears how
    many events each page listed (for a progress display)."""
    found = filtered = held = 0
    added: list[str] = []
    async with session or RestSession(target.gitlab_url, target.token.reveal()) as rest:
        async for page in audit_event_pages(rest, target.scope, since, until):
            chosen = plan(page, target, rules, time.time())
            page_held, page_added = await _store(journal, target.instance, chosen.events,
                                                 dry_run)
            found, filtered = found + len(page), filtered + chosen.filtered_out
            held += page_held
            added += page_added
            if on_page is not None:
                on_page(len(page))
        queries, waits = rest.requests, rest.rate_limited
    return BackfillReport(
        not_listening=await not_listening(journal, since, until),
        destination=target.destination, scope=str(target.scope), since=since, until=until,
        found=found, filtered_out=filtered, already_held=held, added=len(added),
        dry_run=dry_run, stream_only_types=rules.stream_only_types(), filters=rules,
        queries=queries, rate_limited=waits, added_ids=tuple(added))


async def not_listening(journal: Journal, since: datetime,
                        until: datetime) -> tuple[tuple[datetime, datetime], ...] | None:
    """The ranges no receiver listened, from the journal's uptime records (None if the
    journal has none at all: receivers before this version did not record it)."""
    start, end = since.timestamp(), until.timestamp()
    records = await journal.uptime(start, end)
    if not records and not await journal.uptime(0.0, end):
        return None
    spans = assume_live(records, time.time())
    return tuple((datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
                 for a, b in gaps(spans, start, end))


async def _store(journal: Journal, instance: str, events: Sequence[IncomingEvent],
                 dry_run: bool) -> tuple[int, list[str]]:
    """(already held, ids added): append slice by slice, or only look with ``dry_run``."""
    held = 0
    added: list[str] = []
    for start in range(0, len(events), APPEND_SLICE):
        part = events[start:start + APPEND_SLICE]
        if dry_run:
            known = await journal.known(instance, [e.dedup_keys[0] for e in part])
            held += sum(1 for e in part if e.dedup_keys[0] in known)
            continue
        outcomes = await journal.append(part)
        for event, outcome in zip(part, outcomes, strict=True):
            if outcome is AppendOutcome.ACCEPTED:
                added.append(event.event_id)
            else:
                held += 1
    return held, added
