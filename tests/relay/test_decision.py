"""What a sink's answer means: every row of the HEC reference, as values."""

from __future__ import annotations

import random

import pytest

from auditstream.relay.decision import (
    DeadLetterEvent,
    Delivered,
    Pause,
    Retry,
    Split,
    backoff_delay,
    decide,
)


def test_success_is_delivered_with_its_ack_id() -> None:
    assert decide(200, b'{"text":"Success","code":0}', None, 10) == Delivered(None)
    assert decide(200, b'{"text":"Success","code":0,"ackId":7}', None, 10) == Delivered(7)


@pytest.mark.parametrize(("status", "body"), [
    (503, b'{"text":"Server is busy","code":9}'),
    (500, b'{"text":"Internal server error","code":8}'),
    (429, b""),
    (408, b""),
    (502, b"<html>bad gateway</html>"),
])
def test_busy_and_server_errors_are_retried(status: int, body: bytes) -> None:
    decision = decide(status, body, None, 10)
    assert isinstance(decision, Retry)
    assert decision.accepted == 0


def test_retry_after_is_read_in_seconds() -> None:
    assert decide(503, b'{"code":9}', "12", 3) == Retry("HTTP 503: HTTP 503 (code 9)", 12.0)
    retry = decide(503, b'{"code":9}', "Wed, 21 Oct 2026 07:28:00 GMT", 3)
    assert isinstance(retry, Retry)
    assert retry.retry_after is None


def test_busy_with_invalid_event_number_keeps_the_accepted_prefix() -> None:
    decision = decide(503, b'{"text":"Server is busy","code":9,"invalid-event-number":4}',
                      None, 10)
    assert isinstance(decision, Retry)
    assert decision.accepted == 4


def test_bad_event_at_a_position_is_dead_lettered_there() -> None:
    answer = b'{"text":"Event field is required","code":12,"invalid-event-number":3}'
    assert decide(400, answer, None, 10) == DeadLetterEvent(
        3, "HTTP 400: Event field is required (code 12)")


def test_invalid_event_number_outside_the_batch_is_not_trusted() -> None:
    answer = b'{"text":"Invalid data format","code":6,"invalid-event-number":99}'
    assert isinstance(decide(400, answer, None, 10), Split)
    assert isinstance(decide(400, answer, None, 1), DeadLetterEvent)


def test_too_large_splits_and_a_single_event_is_dead_lettered() -> None:
    assert isinstance(decide(413, b"", None, 2), Split)
    decision = decide(413, b"", None, 1)
    assert isinstance(decision, DeadLetterEvent)
    assert "too large" in decision.reason


@pytest.mark.parametrize(("status", "body", "setting"), [
    (401, b'{"text":"Token is required","code":2}', "token_env"),
    (401, b'{"text":"Invalid authorization","code":3}', "token_env"),
    (403, b'{"text":"Invalid token","code":4}', "token_env"),
    (403, b'{"text":"Token disabled","code":1}', "token_env"),
    (403, b"Forbidden", "token_env"),
    (400, b'{"text":"Incorrect index","code":7,"invalid-event-number":0}', "index_routes"),
    (400, b'{"text":"Data channel is missing","code":10}', "url"),
    (400, b'{"text":"Invalid data channel","code":11}', "url"),
    (400, b'{"text":"Query string authorization is not enabled","code":16}', "url"),
    (404, b"not found", "url"),
])
def test_configuration_errors_pause_the_sink_and_name_the_setting_to_fix(
        status: int, body: bytes, setting: str) -> None:
    decision = decide(status, body, None, 10)
    assert isinstance(decision, Pause)
    assert f"HTTP {status}" in decision.reason
    assert setting in decision.setting


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, None, base=1, cap=30, rng=rng) for n in range(10)]
    assert 0.5 <= delays[0] <= 1
    assert all(15 <= d <= 30 for d in delays[6:])


def test_backoff_is_never_shorter_than_retry_after() -> None:
    assert backoff_delay(0, 45.0, base=1, cap=30, rng=random.Random(1)) == 45.0
