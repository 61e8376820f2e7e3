"""The relay's Prometheus metrics, per sink (the backlog gauge is ``relay.backlog``'s)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge


class SinkState(StrEnum):
    """Where a sink's pipeline is. A StrEnum: the metric's ``state`` label, readiness answers
    and ``status --output json`` keep the plain strings they always had."""

    STARTING = "starting"
    RUNNING = "running"
    RETRYING = "retrying"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class RelayMetrics:
    delivered: Counter
    retried: Counter
    dead_lettered: Counter
    last_success: Gauge
    state: Gauge
    pending_acks: Gauge
    in_flight: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RelayMetrics:
        return cls(
            delivered=Counter("auditstream_relay_delivered_events",
                              "Events confirmed by the sink", ["sink"], registry=registry),
            retried=Counter("auditstream_relay_retried_requests",
                            "Requests to the sink that will be tried again", ["sink"],
                            registry=registry),
            dead_lettered=Counter("auditstream_relay_dead_lettered_events",
                                  "Events the sink can never accept, kept as dead letters",
                                  ["sink"], registry=registry),
            last_success=Gauge("auditstream_relay_last_success_timestamp_seconds",
                               "When the sink last confirmed a batch", ["sink"],
                               registry=registry),
            state=Gauge("auditstream_relay_sink_state",
                        "1 for the sink's current state", ["sink", "state"], registry=registry),
            pending_acks=Gauge("auditstream_relay_pending_acks",
                               "Batches awaiting indexer acknowledgement", ["sink"],
                               registry=registry),
            in_flight=Gauge("auditstream_relay_in_flight_events",
                            "Events read for the sink and not yet confirmed", ["sink"],
                            registry=registry),
        )

    def set_state(self, sink: str, current: SinkState) -> None:
        for state in SinkState:
            self.state.labels(sink, state).set(1 if state == current else 0)
