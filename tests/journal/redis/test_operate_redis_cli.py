"""``deadletters retry`` and ``replay`` from the command line on a Redis journal, while
``auditstream run`` delivers from it in another process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from auditstream.server.hec import running_hec
from tests.journal.redis.server import RedisServer, redis_journal_config
from tests.relay.operate import cli, cli_json, ids_at, post_events, start_run, write_config
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def test_on_redis_retry_and_replay_from_the_cli_reach_the_running_relays_sink(
        tmp_path: Path, redis_server: RedisServer) -> None:
    journal = redis_journal_config(redis_server)
    assert journal.redis is not None
    async with running_hec() as hec:
        config = write_config(tmp_path, hec, journal=(
            f'backend = "redis"\nurl = "{journal.redis.url}"\n'
            f'key_prefix = "{journal.redis.key_prefix}"'))
        poison = hec.faults.bad_event(0, code=6)
        process = await start_run(config, hec)
        try:
            await post_events(process.url, range(1, 2))

            async def dead_lettered() -> bool:
                return bool(await cli_json("deadletters", "list", "--config", str(config),
                                           hec=hec))

            await eventually(dead_lettered, within=20)
            hec.faults.clear(poison)
            await post_events(process.url, range(2, 6))
            await hec.received.wait_until(lambda: set(ids_at(hec)) == {2, 3, 4, 5}, within=15)
            retried = await cli("deadletters", "retry", "--config", str(config), hec=hec)
            assert retried.returncode == 0, retried.stderr
            await hec.received.wait_until(lambda: 1 in ids_at(hec), within=15)

            async def no_dead_letters() -> bool:
                return await cli_json("deadletters", "list", "--config", str(config),
                                      hec=hec) == []

            await eventually(no_dead_letters, within=20)
            replayed: Any = await cli_json("replay", "--config", str(config), "--sink",
                                           "splunk", "--from-id", "3", hec=hec)
            assert (replayed["events"], replayed["delivered"]) == (3, 3)
            counts = hec.received.count_by()
            assert [counts[str(i)] for i in range(1, 6)] == [1, 1, 2, 2, 2]
            stats: Any = await cli_json("journal", "stats", "--config", str(config), hec=hec)
            assert {s["sink"]: s["cursor"] for s in stats["sinks"]} == {"splunk": 5,
                                                                       "archive": 5}
        finally:
            await asyncio.to_thread(process.kill)

