"""Whatever a HEC sink answers to an /ack query: statuses read, or SinkUnavailable, never a crash.

An ack answer nobody can read must leave every batch pending (asked again later, resent
after the timeout): nothing confirmed, nothing lost, and the relay keeps running.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditstream.common.secrets import Secret
from auditstream.relay.errors import SinkUnavailable
from auditstream.relay.sinks.hec import HecAnswer, HecSink

values: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=10)
    | st.lists(st.booleans(), max_size=3)
    | st.dictionaries(st.text(max_size=4), st.booleans() | st.text(max_size=4), max_size=4))
bodies = st.binary(max_size=200) | st.dictionaries(
    st.sampled_from(["acks", "text", "code"]), values, max_size=3,
).map(lambda d: json.dumps(d).encode())


class AnsweringSink(HecSink):
    """The real HEC sink with its I/O edge answering what the test says."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__("hostile", "http://127.0.0.1:9", Secret("t" * 16), use_acks=True)
        self.answer = HecAnswer(status, body)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> HecAnswer:
        return self.answer


def query(status: int, body: bytes, ids: list[int]) -> dict[int, bool]:
    return asyncio.run(AnsweringSink(status, body).query_acks(ids))


@given(st.sampled_from([200, 200, 200, 400, 503]), bodies,
       st.lists(st.integers(0, 50), min_size=1, max_size=5, unique=True))
@settings(max_examples=300)
@example(200, b'{"acks": []}', [0, 1])
@example(200, b'{"acks": "yes"}', [0])
@example(200, b'{"acks": {"0": "true", "1": 1}}', [0, 1])
def test_every_ack_answer_is_read_or_is_sink_unavailable(status: int, body: bytes,
                                                         ids: list[int]) -> None:
    try:
        statuses = query(status, body, ids)
    except SinkUnavailable:
        return  # the tracker logs it and asks again later: nothing confirmed, nothing lost
    assert set(statuses) == set(ids)
    assert all(value is True or value is False for value in statuses.values())
    assert not any(statuses.values()) or status == 200


def test_an_acks_list_is_an_unreadable_answer_not_a_crash() -> None:
    # Found by the property above: .get on a list raised AttributeError outside the parse's
    # try, which stopped the relay's ack stage and with it `auditstream run`.
    with pytest.raises(SinkUnavailable, match="unreadable"):
        query(200, b'{"acks": [true, true]}', [0, 1])
    assert query(200, b'{"acks": {"0": "true", "1": true}}', [0, 1]) == {0: False, 1: True}
