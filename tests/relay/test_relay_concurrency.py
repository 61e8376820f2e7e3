"""Several requests in flight per sink: both senders work at once, a failing sink still sees one
request at a time, and stop() waits for every batch in hand. A sink in the test's own process
counts what is in flight, so nothing here depends on timing luck."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from auditstream.common.secrets import Secret
from auditstream.journal import Journal
from auditstream.relay.batch import Batch
from auditstream.relay.config import BatchSettings, HecSinkConfig
from auditstream.relay.decision import Decision, Delivered, Retry
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.relay.sinks.base import Sink, SinkHealth
from tests.relay.conftest import StartRelay, cursor_at_least, fill, relay_config
from tests.waiting import eventually


class CountingSink(Sink):
    """Answers each batch after ``delay``; the first ``failures`` with 503 (server busy).

    Counts batches in flight by the phase they were sent in: ``before`` any failure was
    answered, while ``failing`` (a failure answered, no success since), ``recovered``."""

    def __init__(self, *, delay: float, failures: int = 0) -> None:
        self.name = "splunk"
        self.delay = delay
        self.failures = failures
        self.calls = 0
        self.phase = "before"
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.delivered: list[list[int]] = []

    async def send(self, batch: Batch) -> Decision:
        self.calls += 1
        number, phase = self.calls, self.phase
        self.in_flight[phase] += 1
        self.most_in_flight[phase] = max(self.most_in_flight[phase], self.in_flight[phase])
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight[phase] -= 1
        if number <= self.failures:
            self.phase = "failing"
            return Retry("HTTP 503: Server is busy (code 9)")
        if self.phase == "failing":
            self.phase = "recovered"
        self.delivered.append([envelope.seq for envelope in batch.envelopes])
        return Delivered()

    async def health(self) -> SinkHealth:
        return SinkHealth(True)

    async def close(self) -> None:
        pass

    def delivered_seqs(self) -> list[int]:
        return sorted(seq for batch in self.delivered for seq in batch)


def sink_config() -> HecSinkConfig:
    # Only the batch and envelope settings are used: the sink itself is CountingSink.
    return HecSinkConfig(name="splunk", url="http://127.0.0.1:9", token=Secret("unused"),
                         batch=BatchSettings(max_events=50, max_bytes=100_000,
                                             max_wait_seconds=0.0),
                         envelope=EnvelopeSettings(index="main"))


@pytest.mark.parametrize("in_flight", [1, 2])
async def test_a_slow_sink_gets_as_many_batches_at_once_as_requests_allowed_in_flight(
        journal: Journal, start_relay: StartRelay, in_flight: int) -> None:
    await fill(journal, 300)
    sink = CountingSink(delay=0.05)
    await start_relay(relay_config(sink_config(), max_requests_in_flight=in_flight), [sink])
    await eventually(lambda: cursor_at_least(journal, 300), 10)
    assert sink.most_in_flight["before"] == in_flight
    assert sink.delivered_seqs() == list(range(1, 301))  # each once
    assert all(batch == list(range(batch[0], batch[0] + len(batch)))
               for batch in sink.delivered)


async def test_a_failing_sink_sees_one_request_at_a_time_until_it_recovers(
        journal: Journal, start_relay: StartRelay) -> None:
    await fill(journal, 600)
    sink = CountingSink(delay=0.02, failures=6)
    await start_relay(relay_config(sink_config(), max_requests_in_flight=2), [sink])
    await eventually(lambda: cursor_at_least(journal, 600), 10)
    # Both senders had a batch out when the first 503 came (sent before it); from then on
    # one request at a time until one succeeded; then two again.
    assert sink.most_in_flight == {"before": 2, "failing": 1, "recovered": 2}
    assert sink.delivered_seqs() == list(range(1, 601))


async def test_stop_waits_for_both_batches_in_hand_and_saves_the_cursor_past_them(
        journal: Journal, start_relay: StartRelay) -> None:
    await fill(journal, 100)
    sink = CountingSink(delay=0.3)
    relay = await start_relay(relay_config(sink_config(), max_requests_in_flight=2), [sink])
    await eventually(lambda: sink.in_flight["before"] == 2, 5)
    await relay.stop(5.0)
    assert sink.delivered_seqs() == list(range(1, 101))
    assert await cursor_at_least(journal, 100)
