"""The receiver's Prometheus metrics, on a registry of its own (no process globals).

The counts live in plain Python numbers that the event loop's thread updates, and one
collector turns them into metric families when /metrics is scraped. prometheus-client's own
Counter and Histogram take a lock on every update: five of those a request cost the receiver
~1.5 us of its ~60 us (measured); everything here runs in the loop's thread (requests and
scrapes alike), so no lock is needed.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from auditstream.receiver.silence import StreamWatch

# ``auditstream status`` shows the requests of the last minutes: counted per minute, this many.
RECENT_MINUTES = 5

APPEND_SECONDS_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
                          2.5, 5.0, 10.0)


@dataclass(slots=True)
class LatencyHistogram:
    """Observations counted per bucket (not cumulative: an observation touches one bucket)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(APPEND_SECONDS_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: a value equal to a bound falls in that bound's bucket (le = "<=").
        self.counts[bisect.bisect_left(APPEND_SECONDS_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*APPEND_SECONDS_BUCKETS, float("inf")), self.counts,
                                strict=True):
            running += count
            buckets.append((_bound_label(bound), running))
        return buckets


def _bound_label(bound: float) -> str:
    """A bucket's ``le`` label as prometheus-client writes it (``0.0005``, ``1.0``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(bound)


@dataclass(slots=True)
class ReceiverMetrics:
    """What the receiver counts; ``registry`` exposes it (see ``create``)."""

    registry: CollectorRegistry
    requests: dict[str, int] = field(default_factory=dict)  # by outcome
    events: dict[tuple[str, str], int] = field(default_factory=dict)  # by destination, outcome
    append_seconds: LatencyHistogram = field(default_factory=LatencyHistogram)
    journal_writable: int = 1
    streams: StreamWatch | None = None  # set by the app: last events, silence, refusals
    # Requests by (minute, outcome), the last RECENT_MINUTES minutes of them (monotonic clock).
    recent: dict[tuple[int, str], int] = field(default_factory=dict)
    _minute: int = 0

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ReceiverMetrics:
        metrics = cls(registry=registry if registry is not None else CollectorRegistry())
        metrics.registry.register(_ReceiverCollector(metrics))
        return metrics

    def count_request(self, outcome: str) -> None:
        self.requests[outcome] = self.requests.get(outcome, 0) + 1
        self._count_recent(outcome)

    def _count_recent(self, outcome: str) -> None:
        minute = int(time.monotonic() // 60)
        if minute != self._minute:
            self._minute = minute
            self.recent = {key: n for key, n in self.recent.items()
                           if key[0] > minute - RECENT_MINUTES}
        key = (minute, outcome)
        self.recent[key] = self.recent.get(key, 0) + 1

    def recent_requests(self) -> dict[str, int]:
        """Requests by outcome in the last ``RECENT_MINUTES`` minutes (the current one too)."""
        horizon = int(time.monotonic() // 60) - RECENT_MINUTES
        counts: dict[str, int] = {}
        for (minute, outcome), count in self.recent.items():
            if minute > horizon:
                counts[outcome] = counts.get(outcome, 0) + count
        return counts

    def count_stored(self, destination: str, accepted: int, duplicates: int,
                     collisions: int = 0) -> None:
        """One request answered 200, with what its events were (``collisions``: stored, but
        another destination had stored a different event under the id; see journal)."""
        requests = self.requests
        requests["ok"] = requests.get("ok", 0) + 1
        self._count_recent("ok")
        if accepted:
            key = (destination, "accepted")
            self.events[key] = self.events.get(key, 0) + accepted
        if duplicates:
            key = (destination, "duplicate")
            self.events[key] = self.events.get(key, 0) + duplicates
        if collisions:
            key = (destination, "collision")
            self.events[key] = self.events.get(key, 0) + collisions


class _ReceiverCollector:
    """Builds the receiver's metric families from its counts at each scrape."""

    def __init__(self, metrics: ReceiverMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # collected fresh at each scrape; no fixed description to check

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        requests = CounterMetricFamily("auditstream_receiver_requests", "Requests by outcome",
                                       labels=["outcome"])
        for outcome, count in sorted(metrics.requests.items()):
            requests.add_metric([outcome], count)
        yield requests
        recent = GaugeMetricFamily("auditstream_receiver_recent_requests",
                                   f"Requests by outcome in the last {RECENT_MINUTES} minutes",
                                   labels=["outcome"])
        for outcome, count in sorted(metrics.recent_requests().items()):
            recent.add_metric([outcome], count)
        yield recent
        events = CounterMetricFamily("auditstream_receiver_events",
                                     "Events by destination and outcome",
                                     labels=["destination", "outcome"])
        for (destination, outcome), count in sorted(metrics.events.items()):
            events.add_metric([destination, outcome], count)
        yield events
        histogram = metrics.append_seconds
        latency = HistogramMetricFamily(
            "auditstream_receiver_append_seconds",
            "Time from a request's events queued to durable in the journal")
        latency.add_metric([], histogram.cumulative(), sum_value=histogram.total)
        yield latency
        yield GaugeMetricFamily("auditstream_receiver_journal_writable",
                                "1 when the last journal write succeeded, 0 when it failed",
                                value=metrics.journal_writable)
        if metrics.streams is not None:
            yield from _stream_families(metrics.streams)


def _stream_families(streams: StreamWatch) -> Iterator[Metric]:
    """Whether GitLab still streams: last events, silence, refusals and token drift."""
    last = GaugeMetricFamily("auditstream_receiver_last_event_timestamp_seconds",
                             "When the destination last accepted an event (Unix time)",
                             labels=["destination"])
    silent = GaugeMetricFamily("auditstream_receiver_destination_silent",
                               "1 when the destination went without events for longer than "
                               "its expect_event_within", labels=["destination"])
    for destination in streams.destinations:
        at = streams.last_event.get(destination.name)
        if at is not None:
            last.add_metric([destination.name], at)
        if destination.expect_event_within_seconds is not None:
            silent.add_metric([destination.name],
                              1 if destination.name in streams.silent else 0)
    yield last
    yield silent
    refusals = CounterMetricFamily("auditstream_receiver_refusals",
                                   "Refused requests by destination path (configured paths, "
                                   "else other) and reason", labels=["path", "reason"])
    for (path, reason), count in sorted(streams.refusals.items()):
        refusals.add_metric([path, reason], count)
    yield refusals
    drifting = streams.drifting()
    drift = GaugeMetricFamily("auditstream_receiver_token_drift",
                              "1 while GitLab sends to the path with a token this receiver "
                              "does not hold", labels=["path"])
    for label in sorted(streams.paths):
        drift.add_metric([label], 1 if label in drifting else 0)
    yield drift
