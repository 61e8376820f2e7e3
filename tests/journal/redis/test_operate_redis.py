"""Dead letters retried and ranges replayed on the Redis journal, as on SQLite
(``tests/relay/test_relay_operate.py``): the same sources over the same contract."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from auditstream.journal import IncomingEvent, Journal, JournalConfig, open_journal
from auditstream.journal.redis_layout import Keys
from auditstream.relay.replay import RangeRequest, find_range, replay
from auditstream.relay.service import Relay, build_sink, pipeline_settings
from auditstream.server.hec import RunningHec
from tests.helpers.bodies import gitlab_body
from tests.journal.redis.server import RedisServer, redis_journal_config
from tests.relay.conftest import hec_sink, relay_config
from tests.waiting import eventually

# How long a relay holds a dead letter it retries (claim_idle_seconds) in these tests.
HOLD_SECONDS = 2.0


@pytest.fixture
def held_config(redis_server: RedisServer) -> JournalConfig:
    return redis_journal_config(redis_server, claim_idle_seconds=HOLD_SECONDS)


@pytest.fixture
async def redis_journal(held_config: JournalConfig) -> AsyncIterator[Journal]:
    opened = await open_journal(held_config)
    try:
        yield opened
    finally:
        await opened.close()


async def fill(redis_journal: Journal, ids: range) -> None:
    await redis_journal.append([IncomingEvent(
        instance="gitlab.example.com", event_id=str(i), dedup_keys=(f"id:{i}",),
        destination="acme", received_at=time.time(), body=gitlab_body(i)) for i in ids])


async def cursor_at(redis_journal: Journal, upto: int) -> bool:
    positions = await redis_journal.positions()
    return bool(positions) and all(p.cursor >= upto for p in positions)


async def test_a_relay_stopped_while_it_registers_its_sinks_stops_at_once(
        redis_journal: Journal, hec: RunningHec) -> None:
    await fill(redis_journal, range(1, 3))
    relay = Relay(relay_config(hec_sink(hec)), redis_journal, rng=random.Random(3))
    relay.start()
    await asyncio.sleep(0)
    await asyncio.wait_for(relay.stop(1.0), 5)  # the register on Redis takes a round trip


async def test_on_redis_a_retried_dead_letter_is_delivered_and_a_replay_leaves_the_cursor(
        redis_journal: Journal, hec: RunningHec) -> None:
    await fill(redis_journal, range(1, 21))
    hec.faults.bad_event(0, code=6, next=1)
    config = relay_config(hec_sink(hec))
    relay = Relay(config, redis_journal, rng=random.Random(3))
    relay.start()
    try:
        await eventually(lambda: cursor_at(redis_journal, 20))

        [letter] = await redis_journal.dead_letters("splunk", 10)
        await redis_journal.retry_dead_letters([letter.id], time.time())

        async def retried() -> bool:
            return not await redis_journal.dead_letters(None, 10)

        await eventually(retried)
        assert set(hec.received.count_by()) == {str(i) for i in range(1, 21)}
        found = await find_range(redis_journal, RangeRequest(from_id="11"), last_seq=20)
        sink = build_sink(config.sinks[0])
        try:
            result = await replay(sink, redis_journal, pipeline_settings(config, config.sinks[0]),
                                  found.span)
        finally:
            await sink.close()
        assert (result.delivered, result.purged) == (10, 0)
        counts = hec.received.count_by()
        assert [counts[str(i)] for i in range(9, 13)] == [1, 1, 2, 2]
        assert [p.cursor for p in await redis_journal.positions()] == [20]
    finally:
        await relay.stop(1.0)


async def hold_ends_within(config: JournalConfig, letter_id: str, seconds: float) -> bool:
    """Whether the hold on a dead letter has less than ``seconds`` left (its Redis PTTL)."""
    assert config.redis is not None
    client = Redis.from_url(config.redis.url)
    try:
        hold = Keys.for_prefix(config.redis.key_prefix).dead_held_prefix + letter_id
        left = int(await client.pttl(hold))
    finally:
        await client.aclose()
    assert left > 0, "the hold is gone"
    return left < seconds * 1000


async def test_relays_sharing_a_sink_retry_a_dead_letter_one_at_a_time(
        redis_journal: Journal, held_config: JournalConfig) -> None:
    await fill(redis_journal, range(1, 2))
    [event] = await redis_journal.read("splunk", 1)
    await redis_journal.dead_letter("splunk", event, "Invalid data format (code 6)")
    [letter] = await redis_journal.dead_letters(None, 1)
    await redis_journal.retry_dead_letters([letter.id], time.time())
    other = await open_journal(held_config)
    try:
        held = await redis_journal.dead_letters_to_retry("splunk", 10)
        assert [d.id for d in held] == [letter.id]
        assert await other.dead_letters_to_retry("splunk", 10) == []
        # The hold runs down (Redis expires it); asking again sets it back to the whole hold,
        # so the first hold's end no longer applies and the other still gets nothing.
        await eventually(lambda: hold_ends_within(held_config, letter.id, HOLD_SECONDS / 2),
                         within=HOLD_SECONDS * 2)
        held = await redis_journal.dead_letters_to_retry("splunk", 10)
        assert [d.id for d in held] == [letter.id]
        assert not await hold_ends_within(held_config, letter.id, HOLD_SECONDS * 0.9)
        assert await other.dead_letters_to_retry("splunk", 10) == []

        async def taken_over() -> bool:  # the holder stopped asking (it died)
            return bool(await other.dead_letters_to_retry("splunk", 10))

        await eventually(taken_over, within=HOLD_SECONDS * 3)
        assert await redis_journal.dead_letters_to_retry("splunk", 10) == []
    finally:
        await other.close()
