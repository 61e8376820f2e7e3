"""Relays under test: a real journal file, a real HEC stand-in, fast retry timings."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from typing import Protocol

import pytest

from auditstream.common.secrets import Secret
from auditstream.journal import IncomingEvent, Journal
from auditstream.relay.config import (
    AckSettings,
    BatchSettings,
    HecSinkConfig,
    RelayConfig,
    RetrySettings,
)
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.relay.service import Relay
from auditstream.relay.sinks.base import Sink
from auditstream.server.hec import RunningHec
from tests.helpers.bodies import gitlab_body

FAST_RETRY = RetrySettings(backoff_base_seconds=0.01, backoff_cap_seconds=0.05,
                           pause_retry_seconds=0.1)
FAST_ACKS = AckSettings(poll_seconds=0.05, timeout_seconds=0.5, max_pending=50)


async def fill(journal: Journal, count: int, start: int = 1) -> None:
    events = [IncomingEvent(
        instance="gitlab.example.com", event_id=str(i), dedup_keys=(f"id:{i}",),
        destination="acme", received_at=1_795_000_000.0, body=gitlab_body(i),
        event_type="repository_git_operation", created_at=1_795_000_000.123,
        entity_type="Project", entity_path="acme/app") for i in range(start, start + count)]
    await journal.append(events)


def hec_sink(hec: RunningHec, **changes: object) -> HecSinkConfig:
    config = HecSinkConfig(name="splunk", url=hec.url, token=Secret(hec.token),
                           timeout_seconds=2.0,
                           batch=BatchSettings(max_events=50, max_bytes=100_000,
                                               max_wait_seconds=0.0),
                           envelope=EnvelopeSettings(index="main"))
    return replace(config, **changes)  # type: ignore[arg-type]


class StartRelay(Protocol):
    """Start a relay on the test's journal (with ``sinks``: these instead of the config's)."""

    def __call__(self, config: RelayConfig,
                 sinks: list[Sink] | None = None) -> Awaitable[Relay]: ...


@pytest.fixture
async def start_relay(journal: Journal) -> AsyncIterator[StartRelay]:
    started: list[Relay] = []

    async def start(config: RelayConfig, sinks: list[Sink] | None = None) -> Relay:
        relay = Relay(config, journal, sinks=sinks, rng=random.Random(3))
        relay.start()
        started.append(relay)
        return relay

    try:
        yield start
    finally:
        for relay in started:
            await relay.stop(1.0)


def relay_config(*sinks: HecSinkConfig, **changes: object) -> RelayConfig:
    config = RelayConfig(sinks=sinks, retry=FAST_RETRY, ack=FAST_ACKS, poll_seconds=0.05)
    return replace(config, **changes)  # type: ignore[arg-type]


async def cursor(journal: Journal, sink: str = "splunk") -> int:
    for position in (await journal.stats()).sinks:
        if position.sink == sink:
            return position.cursor
    return 0


async def cursor_at_least(journal: Journal, upto: int, sink: str = "splunk") -> bool:
    return await cursor(journal, sink) >= upto
