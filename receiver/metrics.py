"""The receiver's Prometheus metrics, on a registry of its own (no process globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True, slots=True)
class ReceiverMetrics:
    registry: CollectorRegistry
    requests: Counter
    events: Counter
    append_seconds: Histogram
    journal_writable: Gauge
    # Labelled children, looked up once: labels() costs microseconds on every request.
    _children: dict[tuple[object, ...], Any] = field(default_factory=dict)
    # Per destination: the ok-requests, accepted-events and duplicate-events children.
    _stored_children: dict[str, tuple[Any, Any, Any]] = field(default_factory=dict)

    def count_request(self, outcome: str) -> None:
        self._child(self.requests, outcome).inc()

    def count_stored(self, destination: str, accepted: int, duplicates: int) -> None:
        """One request answered 200, with what its events were (the hot path: one lookup)."""
        children = self._stored_children.get(destination)
        if children is None:
            children = self._stored_children[destination] = (
                self._child(self.requests, "ok"),
                self._child(self.events, destination, "accepted"),
                self._child(self.events, destination, "duplicate"))
        ok, accepted_events, duplicate_events = children
        ok.inc()
        if accepted:
            accepted_events.inc(accepted)
        if duplicates:
            duplicate_events.inc(duplicates)

    def _child(self, metric: Counter, *labels: str) -> Any:
        key = (id(metric), *labels)  # the metric objects live as long as this value
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ReceiverMetrics:
        registry = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "auditstream_receiver_requests", "Requests by outcome",
                ["outcome"], registry=registry),
            events=Counter(
                "auditstream_receiver_events", "Events by destination and outcome",
                ["destination", "outcome"], registry=registry),
            append_seconds=Histogram(
                "auditstream_receiver_append_seconds",
                "Time from a request's events queued to durable in the journal",
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                         5, 10),
                registry=registry),
            journal_writable=Gauge(
                "auditstream_receiver_journal_writable",
                "1 when the last journal write succeeded, 0 when it failed",
                registry=registry),
        )
