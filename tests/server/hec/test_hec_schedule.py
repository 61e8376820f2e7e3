"""The fault schedule and fault specs, pure: the clock is a number passed in. No sockets."""

from __future__ import annotations

from typing import Any

import pytest

from auditstream.server.hec.errors import FaultSpecError
from auditstream.server.hec.faults import (
    ANSWER_KINDS,
    Endpoint,
    FaultKind,
    FaultSchedule,
    fault_from_json,
    fault_to_json,
    make_fault,
)

EVENT, ACK, HEALTH = Endpoint.EVENT, Endpoint.ACK, Endpoint.HEALTH
BUSY = make_fault(FaultKind.BUSY, retry_after=3)


def kinds_taken(schedule: FaultSchedule, times: list[float],
                endpoint: Endpoint = EVENT) -> list[str | None]:
    taken = [schedule.take(endpoint, ANSWER_KINDS, now) for now in times]
    return [fault.kind.value if fault else None for fault in taken]


def test_next_three_applies_to_three_requests_then_stops() -> None:
    schedule = FaultSchedule()
    schedule.add(BUSY, now=0, next=3)
    assert kinds_taken(schedule, [1, 2, 3, 4, 5]) == ["busy", "busy", "busy", None, None]


def test_for_seconds_applies_until_the_time_is_up() -> None:
    schedule = FaultSchedule()
    schedule.add(BUSY, now=100, for_seconds=2)
    assert kinds_taken(schedule, [100, 101, 101.99, 102, 150]) == [
        "busy", "busy", "busy", None, None]


def test_without_next_or_for_seconds_a_fault_lasts_until_cleared() -> None:
    schedule = FaultSchedule()
    entry = schedule.add(BUSY, now=0)
    assert kinds_taken(schedule, [1, 1e6]) == ["busy", "busy"]
    assert schedule.clear(entry.id) == 1
    assert kinds_taken(schedule, [1e6 + 1]) == [None]


def test_with_both_limits_a_fault_ends_at_whichever_comes_first() -> None:
    by_count, by_time = FaultSchedule(), FaultSchedule()
    by_count.add(BUSY, now=0, next=1, for_seconds=10)
    by_time.add(BUSY, now=0, next=10, for_seconds=1)
    assert kinds_taken(by_count, [0, 0.5]) == ["busy", None]
    assert kinds_taken(by_time, [0, 0.5, 1.5]) == ["busy", "busy", None]


def test_a_fault_on_the_data_endpoints_leaves_ack_and_health_alone() -> None:
    schedule = FaultSchedule()
    entry = schedule.add(BUSY, now=0, next=1)
    assert kinds_taken(schedule, [0, 0], ACK) == [None, None]
    assert kinds_taken(schedule, [0], HEALTH) == [None]
    assert entry.remaining == 1
    assert kinds_taken(schedule, [0], Endpoint.RAW) == ["busy"]


def test_the_first_scheduled_fault_wins_and_only_it_is_used_up() -> None:
    schedule = FaultSchedule()
    schedule.add(BUSY, now=0, next=1)
    schedule.add(make_fault(FaultKind.INTERNAL_ERROR), now=0, next=1)
    assert kinds_taken(schedule, [0, 0, 0]) == ["busy", "internal_error", None]


def test_take_only_looks_at_the_kinds_asked_for() -> None:
    schedule = FaultSchedule()
    entry = schedule.add(make_fault(FaultKind.SLOW, delay=1), now=0, next=1)
    assert kinds_taken(schedule, [0]) == [None]
    slow = schedule.take(EVENT, frozenset({FaultKind.SLOW}), 0)
    assert slow is not None
    assert slow.delay == 1
    assert entry.fired == 1


def test_clear_without_an_id_removes_every_fault() -> None:
    schedule = FaultSchedule()
    schedule.add(BUSY, now=0)
    schedule.add(make_fault(FaultKind.RESET), now=0)
    assert schedule.clear() == 2
    assert schedule.active(0) == []


def test_expired_faults_are_not_active() -> None:
    schedule = FaultSchedule()
    schedule.add(BUSY, now=0, for_seconds=1)
    assert len(schedule.active(0.5)) == 1
    assert schedule.active(1.0) == []


@pytest.mark.parametrize(("kind", "options", "field"), [
    ("exploded", {}, "kind"),
    (FaultKind.SLOW, {}, "delay"),
    (FaultKind.SLOW, {"delay": -1}, "delay"),
    (FaultKind.ACK_LATE, {}, "delay"),
    (FaultKind.BUSY, {"retry_after": -1}, "retry_after"),
    (FaultKind.UNHEALTHY, {"code": 9}, "code"),
    (FaultKind.BAD_EVENT, {}, "position"),
    (FaultKind.BAD_EVENT, {"position": 0, "code": 9}, "code"),
    (FaultKind.BUSY, {"endpoints": ["events"]}, "endpoints"),
    (FaultKind.BUSY, {"endpoints": "event"}, "endpoints"),
    (FaultKind.BUSY, {"endpoints": []}, "endpoints"),
    (FaultKind.UNHEALTHY, {"endpoints": ["event"]}, "endpoints"),
    (FaultKind.BAD_EVENT, {"position": 0, "endpoints": ["raw"]}, "endpoints"),
])
def test_a_wrong_fault_spec_names_the_field(kind: str, options: dict[str, Any],
                                           field: str) -> None:
    with pytest.raises(FaultSpecError, match=field):
        make_fault(kind, **options)


@pytest.mark.parametrize(("options", "field"), [({"next": 0}, "next"),
                                                ({"for_seconds": 0}, "for_seconds")])
def test_a_wrong_schedule_names_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(FaultSpecError, match=field):
        FaultSchedule().add(BUSY, now=0, **options)


def test_kind_defaults_unhealthy_18_bad_event_code_6() -> None:
    assert make_fault(FaultKind.UNHEALTHY).code == 18
    assert make_fault(FaultKind.UNHEALTHY).endpoints == {HEALTH}
    assert make_fault(FaultKind.BAD_EVENT, position=2).code == 6


def test_fault_from_json_reads_every_field() -> None:
    fault, count, seconds = fault_from_json({
        "kind": "reset", "next": 2, "for_seconds": 1.5, "endpoints": ["event", "ack"],
        "accept": True})
    assert (fault.kind, fault.accept) == (FaultKind.RESET, True)
    assert fault.endpoints == frozenset({EVENT, ACK})
    assert (count, seconds) == (2, 1.5)


def test_fault_from_json_takes_after_as_the_ack_delay() -> None:
    fault, count, seconds = fault_from_json({"kind": "ack_late", "after": 4})
    assert (fault.delay, count, seconds) == (4.0, None, None)


@pytest.mark.parametrize(("document", "field"), [
    ([], "JSON object"),
    ({"kind": "busy", "nxt": 1}, "nxt"),
    ({"kind": 3}, "kind"),
    ({"kind": "busy", "next": "3"}, "next"),
    ({"kind": "busy", "next": True}, "next"),
    ({"kind": "slow", "delay": "1"}, "delay"),
    ({}, "kind"),
])
def test_fault_from_json_names_what_is_wrong(document: object, field: str) -> None:
    with pytest.raises(FaultSpecError, match=field):
        fault_from_json(document)


def test_fault_to_json_says_what_is_left() -> None:
    schedule = FaultSchedule()
    entry = schedule.add(BUSY, now=10, next=2, for_seconds=5)
    schedule.take(EVENT, ANSWER_KINDS, 11)
    shown = fault_to_json(entry, now=12)
    assert shown["kind"] == "busy"
    assert shown["retry_after"] == 3
    assert (shown["remaining"], shown["fired"], shown["seconds_left"]) == (1, 1, 3.0)
