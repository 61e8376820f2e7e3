"""Metrics read as Prometheus reads them: the exposition text, parsed (never the client
library's private attributes)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families


def sample_in(text: str, name: str, **labels: str) -> float | None:
    """The value of sample ``name`` with exactly ``labels`` in exposition ``text``, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def scraped(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """As ``sample_in``, on what ``registry`` would serve at /metrics now."""
    return sample_in(generate_latest(registry).decode(), name, **labels)
