"""What only the Redis journal has: key expiry, shared sinks, take-over, WAIT, one hash tag."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from auditstream.journal import (
    AppendOutcome,
    IncomingEvent,
    JournalConfig,
    JournalUnavailable,
    StoredEvent,
    open_journal,
)
from auditstream.journal.config import RedisSettings
from auditstream.journal.redis_journal import RedisJournal
from auditstream.journal.redis_layout import Keys
from tests.journal.redis.server import RedisServer, redis_journal_config, running_redis
from tests.waiting import POLL_SECONDS, eventually

ACCEPTED, DUPLICATE = AppendOutcome.ACCEPTED, AppendOutcome.DUPLICATE
OpenJournal = Callable[..., Awaitable[RedisJournal]]


def event(event_id: int, *, instance: str = "default") -> IncomingEvent:
    return IncomingEvent(instance=instance, event_id=str(event_id),
                         dedup_keys=(f"id:{event_id}", f"hash:{event_id:x}"),
                         destination="acme", received_at=1_795_000_000.0,
                         body=b'{"id":%d}' % event_id)


@pytest.fixture
def config(redis_server: RedisServer) -> JournalConfig:
    return redis_journal_config(redis_server, claim_idle_seconds=0.3)


@pytest.fixture
async def open_redis(config: JournalConfig) -> AsyncIterator[OpenJournal]:
    """Open journals on one Redis and one key prefix: each is a receiver or a relay."""
    opened: list[RedisJournal] = []

    async def open_one(**changes: Any) -> RedisJournal:
        settings = config.redis
        assert settings is not None
        journal = await RedisJournal.open(replace(config, redis=replace(settings, **changes)))
        opened.append(journal)
        return journal

    yield open_one
    for journal in opened:
        await journal.close()


async def test_an_id_is_forgotten_when_its_key_expires(redis_server: RedisServer) -> None:
    config = redis_journal_config(redis_server)
    journal = await open_journal(replace(config, dedup_window_seconds=0.2))
    try:
        assert await journal.append([event(1)]) == [ACCEPTED]
        assert await journal.append([event(1)]) == [DUPLICATE]

        async def accepted_again() -> bool:  # once Redis has expired the id's key
            return await journal.append([event(1)]) == [ACCEPTED]

        await eventually(accepted_again, within=5)
        assert [e.seq for e in await journal.tail(10)] == [1, 2]
    finally:
        await journal.close()


async def test_appends_from_two_receivers_store_each_id_once(open_redis: OpenJournal) -> None:
    first, second = await open_redis(), await open_redis()
    outcomes = await asyncio.gather(*(
        (first if i % 2 else second).append([event(i % 150)]) for i in range(600)))
    assert sum(o == [ACCEPTED] for o in outcomes) == 150
    stored = await first.tail(1000)
    assert sorted(int(e.event_id) for e in stored) == list(range(150))
    assert (await second.stats()).duplicates_refused == 450


async def test_concurrent_appends_share_script_calls(open_redis: OpenJournal) -> None:
    journal = await open_redis()
    outcomes = await asyncio.gather(*(journal.append([event(i)]) for i in range(300)))
    assert all(o == [ACCEPTED] for o in outcomes)
    assert journal.script_calls < 150


async def test_two_relays_share_a_sink_without_overlap(open_redis: OpenJournal) -> None:
    receiver, relay_a, relay_b = await open_redis(), await open_redis(), await open_redis()
    await receiver.append([event(i) for i in range(1, 11)])
    for relay in (relay_a, relay_b):
        await relay.register_sink("hec")
    a = await relay_a.claim("hec", 4)
    b = await relay_b.claim("hec", 4)
    rest = await relay_a.claim("hec", 10)
    assert [e.event_id for e in a + b + rest] == [str(i) for i in range(1, 11)]
    assert await relay_b.claim("hec", 10) == []
    await relay_b.ack("hec", b[-1].seq)
    [position] = (await receiver.stats()).sinks
    assert (position.cursor, position.backlog, position.pending) == (0, 10, 6)
    await relay_a.ack("hec", rest[-1].seq)
    [position] = (await receiver.stats()).sinks
    assert (position.cursor, position.backlog, position.pending) == (10, 0, 0)


async def test_a_dead_relays_claims_go_to_another_after_the_idle_time(
        open_redis: OpenJournal, config: JournalConfig) -> None:
    receiver, alive = await open_redis(), await open_redis()
    await receiver.append([event(i) for i in range(1, 6)])
    await alive.register_sink("hec")
    assert config.redis is not None
    client = Redis.from_url(config.redis.url)
    try:  # a relay that claims three events and dies: never acks, renews or hands them back
        await client.xreadgroup("hec", "dead-relay", {
            "{" + config.redis.key_prefix + "}:events": ">"}, count=3)
    finally:
        await client.aclose()
    assert [e.event_id for e in await alive.claim("hec", 10)] == ["4", "5"]
    assert await alive.claim("hec", 10) == []  # not yet idle long enough
    taken: list[StoredEvent] = []

    async def handed_over() -> bool:  # once the dead relay's claims are idle long enough
        taken.extend(await alive.claim("hec", 10))
        return bool(taken)

    await eventually(handed_over, within=5)
    assert [e.event_id for e in taken] == ["1", "2", "3"]
    await alive.ack("hec", taken[-1].seq)
    [position] = (await receiver.stats()).sinks
    assert (position.cursor, position.pending) == (5, 0)


async def test_a_relay_that_closes_hands_its_claims_over_at_once(
        open_redis: OpenJournal) -> None:
    receiver, leaving, staying = await open_redis(), await open_redis(claim_idle_seconds=60), \
        await open_redis(claim_idle_seconds=60)
    await receiver.append([event(i) for i in range(1, 4)])
    for relay in (leaving, staying):
        await relay.register_sink("hec")
    held = await leaving.claim("hec", 10)
    await leaving.close()  # a clean stop, with events sent but not confirmed
    taken = await staying.claim("hec", 10)
    assert [e.event_id for e in taken] == [e.event_id for e in held]


async def test_a_slow_but_live_relay_keeps_its_claims(open_redis: OpenJournal,
                                                      config: JournalConfig) -> None:
    receiver, slow, other = await open_redis(), await open_redis(), await open_redis()
    await receiver.append([event(i) for i in range(1, 4)])
    for relay in (slow, other):
        await relay.register_sink("hec")
    held = await slow.claim("hec", 10)
    # The other relay's sweeps take claims idle past claim_idle (0.3 s); the slow relay's
    # renewals set their idle time back to 0 before that. Watch three renewals happen (in
    # the group's pending list), the other relay asking all along and getting nothing.
    assert config.redis is not None
    client = Redis.from_url(config.redis.url)
    stream = Keys.for_prefix(config.redis.key_prefix).events
    renewals, last_idle = 0, 0
    try:
        async with asyncio.timeout(10):
            while renewals < 3:
                assert await other.claim("hec", 10) == []
                pending = await client.xpending_range(stream, "hec", min="-", max="+",
                                                      count=10)
                assert len(pending) == 3
                idle = max(int(entry["time_since_delivered"]) for entry in pending)
                renewals += idle < last_idle
                last_idle = idle
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await client.aclose()
    await slow.ack("hec", held[-1].seq)
    assert (await receiver.stats()).sinks[0].cursor == 3


async def test_every_key_shares_one_hash_tag(open_redis: OpenJournal,
                                            config: JournalConfig) -> None:
    journal = await open_redis()
    await journal.append([event(1), event(2, instance="gitlab.example.com:8443")])
    await journal.register_sink("hec")
    [stored, _] = await journal.claim("hec", 10)
    await journal.dead_letter("hec", stored, "Incorrect index")
    assert config.redis is not None
    client = Redis.from_url(config.redis.url)
    try:
        keys = [key.decode() async for key in client.scan_iter(
            match=f"*{config.redis.key_prefix}*")]
    finally:
        await client.aclose()
    assert len(keys) >= 6
    # Redis Cluster hashes only the text inside the first {...}: the same for every key.
    assert {re.search(r"\{([^}]*)\}", key).group(1) for key in keys} == {  # type: ignore[union-attr]
        config.redis.key_prefix}


async def test_wait_for_a_missing_replica_fails_the_append(open_redis: OpenJournal) -> None:
    journal = await open_redis(wait_replicas=1, wait_timeout_seconds=0.1)
    with pytest.raises(JournalUnavailable, match="0 of 1 Redis replicas"):
        await journal.append([event(1)])
    # The primary has it: a retry is a duplicate, and the relay will deliver it.
    assert [e.event_id for e in await journal.tail(5)] == ["1"]


async def test_wait_for_a_live_replica_accepts(tmp_path: Path) -> None:
    with running_redis(tmp_path / "primary", "--repl-diskless-sync-delay", "0",
                       tcp=True) as primary, \
            running_redis(tmp_path / "replica", "--replicaof", "127.0.0.1",
                          str(primary.port)) as replica:
        await _until_replica_is_in_sync(primary)
        config = redis_journal_config(primary, wait_replicas=1, wait_timeout_seconds=5.0)
        journal = await open_journal(config)
        try:
            assert await journal.append([event(1), event(1)]) == [ACCEPTED, DUPLICATE]
        finally:
            await journal.close()
        client = Redis.from_url(replica.url)
        try:
            assert config.redis is not None
            assert await client.xlen("{" + config.redis.key_prefix + "}:events") == 1
        finally:
            await client.aclose()


async def _until_replica_is_in_sync(primary: RedisServer) -> None:
    client = Redis.from_url(primary.url)
    try:
        async with asyncio.timeout(10):
            while True:
                replica = (await client.info("replication")).get("slave0")
                if isinstance(replica, dict) and replica.get("state") == "online":
                    return
                await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def test_an_unreachable_redis_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    with running_redis(tmp_path / "gone") as server:
        journal = await open_journal(redis_journal_config(server))
        await journal.append([event(1)])
        server.kill()
        with pytest.raises(JournalUnavailable, match="cannot append"):
            await journal.append([event(2)])
        with pytest.raises(JournalUnavailable):
            await journal.check_writable()
        await journal.close()


async def test_nothing_listening_is_unavailable_at_open(tmp_path: Path) -> None:
    with running_redis(tmp_path / "short") as server:
        url = server.url
    with pytest.raises(JournalUnavailable, match="cannot connect"):
        await open_journal(JournalConfig(backend="redis", redis=RedisSettings(url=url)))


async def test_stats_hold_when_another_relay_acks_the_last_pending_entries_meanwhile(
        open_redis: OpenJournal, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 15: the sink's position was read in two calls (the group's pending count, then
    # the pending summary); another relay acknowledging in between left the summary empty,
    # and the read failed on it, ending that relay's pipeline.
    receiver, holder, reader = await open_redis(), await open_redis(), await open_redis()
    await receiver.append([event(i) for i in range(1, 6)])
    await holder.register_sink("hec")
    claimed = await holder.claim("hec", 10)
    client = reader._groups._client  # the seam where the race happens
    read_groups = client.xinfo_groups

    async def groups_then_the_other_relay_acks(name: Any) -> Any:
        groups = await read_groups(name)
        assert any(int(g["pending"]) == 5 for g in groups)  # the race is set up
        await holder.ack("hec", claimed[-1].seq)
        return groups

    monkeypatch.setattr(client, "xinfo_groups", groups_then_the_other_relay_acks)
    [position] = (await reader.stats()).sinks
    assert (position.cursor, position.backlog, position.pending) == (5, 0, 0)
