"""The receiver's metrics: plain counts exposed in Prometheus' text format at each scrape."""

from __future__ import annotations

from prometheus_client import generate_latest

from auditstream.receiver.metrics import ReceiverMetrics


def test_latency_on_a_bucket_bound_counts_in_that_bucket_and_buckets_are_cumulative() -> None:
    metrics = ReceiverMetrics.create()
    for seconds in (0.0004, 0.001, 0.003, 20.0):
        metrics.append_seconds.observe(seconds)
    text = generate_latest(metrics.registry).decode()
    assert 'auditstream_receiver_append_seconds_bucket{le="0.0005"} 1.0' in text
    assert 'auditstream_receiver_append_seconds_bucket{le="0.001"} 2.0' in text
    assert 'auditstream_receiver_append_seconds_bucket{le="0.005"} 3.0' in text
    assert 'auditstream_receiver_append_seconds_bucket{le="10.0"} 3.0' in text
    assert 'auditstream_receiver_append_seconds_bucket{le="+Inf"} 4.0' in text
    assert "auditstream_receiver_append_seconds_count 4.0" in text
    assert "auditstream_receiver_append_seconds_sum 20.0044" in text


def test_counts_by_outcome_and_destination_and_the_writable_gauge_are_exposed() -> None:
    metrics = ReceiverMetrics.create()
    metrics.count_stored("acme", 3, 1)
    metrics.count_stored("acme", 0, 2)
    metrics.count_request("unauthorized")
    metrics.journal_writable = 0
    text = generate_latest(metrics.registry).decode()
    assert 'auditstream_receiver_requests_total{outcome="ok"} 2.0' in text
    assert 'auditstream_receiver_requests_total{outcome="unauthorized"} 1.0' in text
    assert 'auditstream_receiver_events_total{destination="acme",outcome="accepted"} 3.0' in text
    assert 'auditstream_receiver_events_total{destination="acme",outcome="duplicate"} 3.0' in text
    assert "auditstream_receiver_journal_writable 0.0" in text
