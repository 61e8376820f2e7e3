"""A canary: make GitLab emit a harmless audit event that it streams to a destination, and
wait until the receiver has it in its journal.

The event: a custom header added to the destination itself and removed at once (GitLab
records ``audit_events_streaming_headers_create``/``_destroy`` for the legacy API, and
``updated_group_audit_event_streaming_destination`` for the consolidated one, whose headers
live in the destination's config). It changes nothing that stays: the header has a name of
its own, exists for one round trip, and the destination, its token and its filters are left
as they were. An event type filter that excludes these types, an inactive destination, a
receiver that is down or refuses: each makes the canary go missing, which is the point.

No click here: ``cli.destinations`` reports what this returns.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

from auditstream.client.api import StreamingApi
from auditstream.client.errors import GitLabError
from auditstream.client.models import Destination
from auditstream.journal import Journal, JournalError

DEFAULT_CANARY_TIMEOUT_SECONDS = 60.0
CANARY_HEADER_PREFIX = "X-Auditstream-Canary-"
# The audit events GitLab records for a change to a destination's headers.
HEADER_EVENT_TYPES = frozenset({
    "audit_events_streaming_headers_create", "audit_events_streaming_headers_destroy",
    "audit_events_streaming_instance_headers_create",
    "audit_events_streaming_instance_headers_destroy"})
# The consolidated API changes headers by updating the destination's config: the event names
# no header, so an event of this type received after the start is taken.
CONFIG_EVENT_TYPES = frozenset({"updated_group_audit_event_streaming_destination",
                                "updated_instance_audit_event_streaming_destination"})
POLL_SECONDS = 0.2
TAIL_EVENTS = 2000  # read per poll: the canary is among the newest events


@dataclass(frozen=True, slots=True)
class CanaryResult:
    """Whether the canary reached the journal for ``destination``, how fast, or why not."""

    destination: str
    arrived: bool
    seconds: float | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"arrived": self.arrived, "seconds": self.seconds, "reason": self.reason}


async def send_canary(api: StreamingApi, destination: Destination, journal: Journal,
                      name: str, wait_seconds: float) -> CanaryResult:
    """Add and remove a header on ``destination``; wait up to ``wait_seconds`` s for the event in
    ``journal`` under the configured destination ``name``."""
    key = CANARY_HEADER_PREFIX + secrets.token_hex(4)
    started = time.time()
    try:
        header = await api.add_header(destination.id, key, "auditstream canary, removed at once")
    except GitLabError as exc:
        return CanaryResult(name, False, reason=f"GitLab refused the canary header: {exc}")
    removal_failed = None
    try:
        await api.delete_header(header.id)
    except GitLabError as exc:
        removal_failed = f"the canary header {key} could not be removed: {exc}"
    arrived_at = await wait_in_journal(journal, name, key, started, wait_seconds)
    if arrived_at is None:
        why = (f"no canary event for {name!r} in the journal within {wait_seconds:g} s (receiver "
               "down or refusing, destination inactive or filtered, or GitLab not streaming)")
        return CanaryResult(name, False, reason="; ".join(filter(None, [why, removal_failed])))
    return CanaryResult(name, removal_failed is None, round(max(arrived_at - started, 0.0), 3),
                        removal_failed)


async def wait_in_journal(journal: Journal, name: str, key: str, started: float,
                          wait_seconds: float) -> float | None:
    """When the canary event was received, or None if it is not there in time."""
    deadline = time.monotonic() + wait_seconds
    needle = key.encode()
    while True:
        try:
            events = await journal.tail(TAIL_EVENTS)
        except JournalError:
            events = []
        for event in events:
            if event.destination != name or event.received_at < started:
                continue
            if (event.event_type in HEADER_EVENT_TYPES and needle in event.body) or \
                    event.event_type in CONFIG_EVENT_TYPES:
                return event.received_at
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(POLL_SECONDS)
