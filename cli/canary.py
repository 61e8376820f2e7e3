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
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from auditstream.client.api import ApiChoice, StreamingApi, streaming_api
from auditstream.client.errors import GitLabError
from auditstream.client.models import Destination
from auditstream.client.session import GitLabSession
from auditstream.config.canary import CanaryConfig
from auditstream.journal import Journal, JournalError
from auditstream.wiring.process import Companion, RunningParts

log = logging.getLogger("auditstream.canary")

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


# --- the continuous canary of run/receive ([canary] in the config) ---------------------------

_API_CHOICES: dict[str, ApiChoice] = {"auto": "auto", "legacy": "legacy",
                                      "consolidated": "consolidated"}


@dataclass(slots=True)
class CanaryMetrics:
    """The last round's results, for /metrics (updated on the loop's thread)."""

    latency: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, bool] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    last_round_at: float | None = None

    def record(self, result: CanaryResult) -> None:
        self.arrived[result.destination] = result.arrived
        if result.arrived and result.seconds is not None:
            self.latency[result.destination] = result.seconds
        else:
            self.failures[result.destination] = self.failures.get(result.destination, 0) + 1


class _CanaryCollector:
    def __init__(self, metrics: CanaryMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        latency = GaugeMetricFamily("auditstream_canary_latency_seconds",
                                    "How long the last canary that arrived took from GitLab's "
                                    "change to the journal", labels=["destination"])
        for name, seconds in sorted(metrics.latency.items()):
            latency.add_metric([name], seconds)
        yield latency
        arrived = GaugeMetricFamily("auditstream_canary_arrived",
                                    "1 when the last canary reached the journal, else 0",
                                    labels=["destination"])
        for name, ok in sorted(metrics.arrived.items()):
            arrived.add_metric([name], 1 if ok else 0)
        yield arrived
        failures = CounterMetricFamily("auditstream_canary_failures",
                                       "Canaries that did not arrive (or could not be sent)",
                                       labels=["destination"])
        for name, count in sorted(metrics.failures.items()):
            failures.add_metric([name], count)
        yield failures
        if metrics.last_round_at is not None:
            yield GaugeMetricFamily("auditstream_canary_last_round_timestamp_seconds",
                                    "When the last canary round ended (Unix time)",
                                    value=metrics.last_round_at)


def canary_rounds(settings: CanaryConfig) -> Companion:
    """The companion ``serve`` runs: a round at start, then every ``settings.every``."""
    async def rounds(parts: RunningParts) -> None:
        metrics = CanaryMetrics()
        parts.registry.register(_CanaryCollector(metrics))
        while True:
            for result in await canary_round(settings, parts):
                metrics.record(result)
                if result.arrived:
                    log.info("canary for %r arrived in %s s", result.destination,
                             result.seconds, extra={"destination": result.destination})
                else:
                    log.warning("canary for %r missing: %s", result.destination,
                                result.reason, extra={"destination": result.destination})
            metrics.last_round_at = time.time()
            await asyncio.sleep(settings.every_seconds)

    return rounds


async def canary_round(settings: CanaryConfig, parts: RunningParts) -> list[CanaryResult]:
    """One canary to each configured destination of the canary's group (or instance)."""
    configured = parts.receiver.config.destinations if parts.receiver else ()
    ours = [d for d in configured if d.gitlab_scope in (None, settings.scope)]
    results = []
    try:
        async with GitLabSession(settings.gitlab_url, settings.token.reveal()) as session:
            api = await streaming_api(session, settings.group, _API_CHOICES[settings.api])
            found = await api.destinations()
            for destination in ours:
                match = next((g for g in found if g.id == destination.gitlab_id), None) or \
                    next((g for g in found if g.name == destination.name), None)
                if match is not None:
                    results.append(await send_canary(api, match, parts.journal,
                                                     destination.name, settings.wait_seconds))
                elif destination.gitlab_scope is not None:
                    results.append(CanaryResult(destination.name, False,
                                                reason=f"not in GitLab ({settings.scope})"))
    except GitLabError as exc:
        return [CanaryResult(d.name, False, reason=f"GitLab: {exc}") for d in ours]
    return results
