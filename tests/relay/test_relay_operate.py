"""Operating the relay: dead letters retried through the sink's pipeline, and replays of a
range through a pipeline of their own that never touches the sink's cursor."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from auditstream.journal import DeadLetter, Journal, JournalUnavailable
from auditstream.relay.replay import RangeNotFound, RangeRequest, find_range, replay
from auditstream.relay.service import build_sink, pipeline_settings
from auditstream.relay.sources import ReplayRange, RetrySource
from auditstream.server.hec import RunningHec
from tests.relay.conftest import (
    StartRelay,
    cursor,
    cursor_at_least,
    fill,
    hec_sink,
    relay_config,
)
from tests.relay.test_relay_to_hec import ids_at_sink
from tests.waiting import eventually


async def no_dead_letters(journal: Journal) -> bool:
    return not await journal.dead_letters(None, 10)


async def test_a_retried_dead_letter_is_delivered_and_then_removed(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 20)
    hec.faults.bad_event(3, code=6, next=1)
    await start_relay(relay_config(hec_sink(hec)))
    await eventually(lambda: cursor_at_least(journal, 20))
    [letter] = await journal.dead_letters("splunk", 10)
    assert 4 not in ids_at_sink(hec)
    assert await journal.retry_dead_letters([letter.id], time.time()) == 1
    await eventually(lambda: no_dead_letters(journal))
    assert sorted(ids_at_sink(hec)) == list(range(1, 21))
    [again] = [e for e in hec.received.envelopes if e.event["id"] == 4]
    assert again.envelope["source"] == "gitlab:acme"  # the same envelope as the first time
    assert await cursor(journal) == 20


async def test_a_dead_letter_refused_again_stays_with_the_new_reason(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 5)
    hec.faults.bad_event(0, code=6, next=1)
    await start_relay(relay_config(hec_sink(hec)))
    await eventually(lambda: cursor_at_least(journal, 5))
    [letter] = await journal.dead_letters("splunk", 10)
    hec.faults.bad_event(0, code=15, next=1)
    await journal.retry_dead_letters([letter.id], time.time())

    async def refused_again() -> bool:
        letters = await journal.dead_letters("splunk", 10)
        return len(letters) == 1 and letters[0].id != letter.id

    await eventually(refused_again)
    [again] = await journal.dead_letters("splunk", 10)
    assert (again.seq, again.retry_requested_at) == (letter.seq, None)
    assert "code 15" in again.reason


async def test_a_replayed_range_arrives_again_and_the_cursor_stays(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 30)
    config = relay_config(hec_sink(hec))
    await start_relay(config)
    await eventually(lambda: cursor_at_least(journal, 30))
    found = await find_range(journal, RangeRequest(from_id="11"), last_seq=20)
    assert (found.span.first_seq, found.span.last_seq, found.events) == (11, 20, 10)
    sink = build_sink(config.sinks[0])
    try:
        result = await replay(sink, journal, pipeline_settings(config, config.sinks[0]),
                              found.span)
    finally:
        await sink.close()
    assert (result.delivered, result.dead_lettered, result.purged) == (10, 0, 0)
    counts = hec.received.count_by(lambda e: e.event["id"])
    assert {i: counts[i] for i in range(1, 31)} == {i: 2 if 11 <= i <= 20 else 1
                                                   for i in range(1, 31)}
    assert await cursor(journal) == 30


async def test_a_replay_counts_what_retention_removed_from_its_range(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 10)
    config = relay_config(hec_sink(hec))
    await start_relay(config)
    await eventually(lambda: cursor_at_least(journal, 10))
    await journal.purge(time.time() + 30 * 86400)  # past the retention: all bodies removed
    await fill(journal, 5, start=11)
    await eventually(lambda: cursor_at_least(journal, 15))
    found = await find_range(journal, RangeRequest(since=0.0), last_seq=15)
    assert (found.events, found.purged_before) == (5, 10)
    with pytest.raises(RangeNotFound, match="removed by retention"):
        await find_range(journal, RangeRequest(from_id="3"), last_seq=15)
    sink = build_sink(config.sinks[0])
    try:
        result = await replay(sink, journal, pipeline_settings(config, config.sinks[0]),
                              ReplayRange(1, 15))
    finally:
        await sink.close()
    assert (result.delivered, result.purged) == (5, 10)


async def requested_dead_letter(journal: Journal) -> None:
    await fill(journal, 1)
    [event] = await journal.read("splunk", 1)
    await journal.dead_letter("splunk", event, "Invalid data format (code 6)")
    [letter] = await journal.dead_letters(None, 1)
    await journal.retry_dead_letters([letter.id], time.time())


async def test_a_confirmed_retry_is_not_sent_again_by_a_read_begun_before_its_removal(
        journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    await requested_dead_letter(journal)
    stale = await journal.dead_letters_to_retry("splunk", 10)
    source = RetrySource(journal, "splunk")
    [claimed] = await source.claim("splunk", 10)
    await source.ack("splunk", claimed.seq)
    assert await journal.dead_letters(None, 10) == []

    async def read_from_before_the_removal(sink: str, limit: int) -> list[DeadLetter]:
        return stale

    monkeypatch.setattr(journal, "dead_letters_to_retry", read_from_before_the_removal)
    assert await source.claim("splunk", 10) == []


async def test_a_removal_that_failed_is_made_when_the_pipeline_acks_again(
        journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    await requested_dead_letter(journal)
    source = RetrySource(journal, "splunk")
    [claimed] = await source.claim("splunk", 10)
    remove = journal.remove_dead_letters
    failures = [JournalUnavailable("database or disk is full")]

    async def failing_once(ids: Sequence[str]) -> int:
        if failures:
            raise failures.pop()
        return await remove(ids)

    monkeypatch.setattr(journal, "remove_dead_letters", failing_once)
    with pytest.raises(JournalUnavailable):
        await source.ack("splunk", claimed.seq)
    await source.ack("splunk", claimed.seq)  # as the pipeline's journal retry does
    assert await journal.dead_letters(None, 10) == []
