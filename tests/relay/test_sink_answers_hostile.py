"""Whatever a sink answers, the relay decides something safe: never a crash, never a drop.

A HEC endpoint may be Splunk, a proxy in front of it, or something misconfigured answering
HTML; each answer must turn into a decision the loop can act on, with nothing lost: only a
2xx delivers, only a 400 or 413 about one envelope dead-letters it, and waits stay finite.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditstream.relay.decision import (
    DeadLetterEvent,
    Delivered,
    Pause,
    Retry,
    Split,
    backoff_delay,
    decide,
)

hec_values: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
    | st.text(max_size=30) | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@st.composite
def hec_bodies(draw: st.DrawFn) -> bytes:
    """Splunk-like JSON with odd values in its fields, or any bytes at all."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    answer = draw(st.dictionaries(
        st.sampled_from(["text", "code", "invalid-event-number", "ackId", "acks", "x"]),
        hec_values, max_size=5))
    return json.dumps(answer).encode() if draw(st.booleans()) \
        else draw(st.sampled_from([b"[]", b"null", b"<html>502 Bad Gateway</html>"]))


retry_afters = st.none() | st.text(max_size=20) | st.sampled_from(
    ["nan", "NaN", "inf", "-inf", "1e999", "-5", " 7 ", "Wed, 21 Oct 2015 07:28:00 GMT"])


@given(st.integers(0, 1000), hec_bodies(), retry_afters, st.integers(1, 5000))
@settings(max_examples=1000)
@example(503, b'{"text":"Server is busy","code":9}', "nan", 10)
@example(429, b"", "NaN", 1)
@example(400, b'{"code":6,"invalid-event-number":true}', None, 3)
@example(400, b'{"code":6,"invalid-event-number":3}', None, 3)
@example(200, b'{"code":0,"ackId":true}', None, 3)
@example(503, b'{"code":true}', None, 3)
def test_every_answer_becomes_a_safe_decision(status: int, body: bytes,
                                              retry_after: str | None, size: int) -> None:
    decision = decide(status, body, retry_after, size)
    if 200 <= status < 300:
        assert isinstance(decision, Delivered)
        assert decision.ack_id is None or (isinstance(decision.ack_id, int)
                                           and not isinstance(decision.ack_id, bool))
        return
    assert not isinstance(decision, Delivered)  # only a 2xx counts as delivered
    if isinstance(decision, DeadLetterEvent):
        assert status in (400, 413)
        assert 0 <= decision.position < size
    elif isinstance(decision, Retry):
        assert 0 <= decision.accepted < size
        if decision.retry_after is not None:
            assert 0 <= decision.retry_after <= 3600
    elif isinstance(decision, Split):
        assert size > 1
    else:
        assert isinstance(decision, Pause)
    assert decision.reason.strip()


@given(st.integers(0, 10_000), st.none() | st.floats(min_value=0, max_value=3600),
       st.floats(min_value=0.001, max_value=10), st.floats(min_value=0.01, max_value=120))
@settings(max_examples=300)
def test_backoff_is_finite_and_within_the_cap_or_retry_after(
        attempt: int, retry_after: float | None, base: float, cap: float) -> None:
    delay = backoff_delay(attempt, retry_after, base=base, cap=cap, rng=random.Random(1))
    assert math.isfinite(delay)
    assert 0 <= delay <= max(cap, retry_after or 0)


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan"])
def test_retry_after_nan_is_ignored_not_passed_on(value: str) -> None:
    # Found by the property above: float("nan") passed the clamp (every comparison with NaN
    # is false) and came out as Retry(retry_after=nan).
    decision = decide(503, b'{"text":"Server is busy","code":9}', value, 5)
    assert isinstance(decision, Retry)
    assert decision.retry_after is None
