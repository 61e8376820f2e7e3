"""GitLab's circuit breaker in the stand-in: 5 failures in 5 minutes skip a destination for
15 minutes, silently (times scaled down by a knob)."""

from __future__ import annotations

import asyncio

import pytest

from auditstream.server.gitlab import Knobs, Result, RunningGitLab
from auditstream.server.gitlab.circuit import Breaker
from tests.server.gitlab.conftest import Collector, GraphQL


def test_five_failures_within_the_window_open_the_breaker_for_its_time() -> None:
    breaker = Breaker()
    for second in range(4):
        breaker = breaker.after(float(second), True, 1.0)
    assert not breaker.is_open(4.0)
    breaker = breaker.after(4.0, True, 1.0)
    assert breaker.is_open(4.0)
    assert breaker.is_open(903.9)
    assert not breaker.is_open(904.0)
    assert breaker.after(904.0, True, 1.0).failures == (904.0,)  # counted afresh


def test_failures_spread_wider_than_the_window_never_open_it() -> None:
    breaker = Breaker()
    for minute in range(10):
        breaker = breaker.after(minute * 100.0, True, 1.0)
    assert not breaker.is_open(1000.0)


def test_only_failures_count_towards_opening_it() -> None:
    breaker = Breaker()
    for second in range(8):  # four failures, four successes
        breaker = breaker.after(float(second), second % 2 == 0, 1.0)
    assert not breaker.is_open(8.0)


async def test_a_failing_destination_is_skipped_silently_then_tried_again(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await api.create(url=collector.url_for("acme"))
    gitlab.knobs = Knobs(circuit_breaker=True, circuit_time_scale=0.002)  # open for 1.8 s
    collector.status = 500
    await gitlab.make_activity(5, event_types=("audit_operation",), on=("acme/website",))
    gitlab.deliveries.clear()
    collector.status = 200
    await gitlab.make_activity(3, event_types=("audit_operation",), on=("acme/website",))
    assert [d.result for d in gitlab.deliveries.all] == [Result.CIRCUIT_OPEN] * 3
    async with asyncio.timeout(10):
        while not any(d.result is Result.DELIVERED for d in gitlab.deliveries.all):
            await asyncio.sleep(0.2)
            await gitlab.make_activity(1, event_types=("audit_operation",),
                                       on=("acme/website",))


def test_the_breaker_knobs_are_checked() -> None:
    with pytest.raises(Exception, match="circuit_time_scale"):
        Knobs(circuit_breaker=True, circuit_time_scale=0)
    with pytest.raises(Exception, match="circuit_breaker"):
        Knobs(circuit_breaker="yes")  # type: ignore[arg-type]
