"""Continuous reconcile's Prometheus metrics, per destination, on the process's registry.

    auditstream_reconcile_events_total{destination, outcome}   found | already_held | added
    auditstream_reconcile_errors_total{destination}
    auditstream_reconcile_last_success_timestamp_seconds{destination}

Plain numbers updated from the event loop, turned into families when scraped (as the
receiver's metrics are); ``/readyz`` stays about receiving.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

OUTCOMES = ("found", "already_held", "added")


@dataclass(slots=True)
class ReconcileMetrics:
    events: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ReconcileMetrics:
        metrics = cls()
        registry.register(_Collector(metrics))
        return metrics

    def passed(self, destination: str, found: int, held: int, added: int, at: float) -> None:
        for outcome, count in zip(OUTCOMES, (found, held, added), strict=True):
            key = (destination, outcome)
            self.events[key] = self.events.get(key, 0) + count
        self.last_success[destination] = at

    def done_elsewhere(self, destination: str, until: float) -> None:
        """Another receiver on the journal has reconciled ``destination`` up to ``until``:
        this process's gauge says so too, so an alert on it means "nobody reconciles"."""
        self.last_success[destination] = max(until, self.last_success.get(destination, until))

    def failed(self, destination: str) -> None:
        self.errors[destination] = self.errors.get(destination, 0) + 1


class _Collector:
    def __init__(self, metrics: ReconcileMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily("auditstream_reconcile_events",
                                     "Stored events reconcile listed, already held, added",
                                     labels=["destination", "outcome"])
        for (destination, outcome), count in sorted(self._metrics.events.items()):
            events.add_metric([destination, outcome], count)
        errors = CounterMetricFamily("auditstream_reconcile_errors",
                                     "Reconcile passes that failed", labels=["destination"])
        for destination, count in sorted(self._metrics.errors.items()):
            errors.add_metric([destination], count)
        last = GaugeMetricFamily("auditstream_reconcile_last_success_timestamp_seconds",
                                 "When the last reconcile pass completed",
                                 labels=["destination"])
        for destination, when in sorted(self._metrics.last_success.items()):
            last.add_metric([destination], when)
        yield from (events, errors, last)
