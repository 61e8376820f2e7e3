"""Scale-out on one Redis: two receivers and two relays as separate processes, one of each
killed mid-run (SIGKILL), and still every event answered 200 reaches the sink, and no id is
stored twice."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from auditstream.journal import JournalConfig, open_journal_readonly
from auditstream.server.hec import RunningHec, running_hec
from tests.processes import ServerProcess
from tests.waiting import eventually

pytestmark = pytest.mark.slow

TOKEN = "scale-out-token-0123456789"
EVENTS = 400
CLAIM_IDLE_SECONDS = 1.0
# The sink answers this late, so relays always hold claims when one of them is killed.
SINK_DELAY_SECONDS = 0.1


def write_config(folder: Path, journal: JournalConfig, hec: RunningHec) -> Path:
    assert journal.redis is not None
    path = folder / "auditstream.toml"
    path.write_text(f"""
[receiver]
listen = "127.0.0.1:0"
[[receiver.destinations]]
name = "acme"
instance = "gitlab.example.com"
token_env = "SCALE_TOKEN"

[journal]
backend = "redis"
url = "{journal.redis.url}"
key_prefix = "{journal.redis.key_prefix}"
claim_idle_seconds = {CLAIM_IDLE_SECONDS}

[relay]
poll_seconds = 0.2
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.2

[[sinks]]
name = "splunk"
url = "{hec.url}"
token_env = "SCALE_HEC_TOKEN"
index = "main"
batch_max_events = 20
batch_max_wait_seconds = 0
""")
    return path


class Cluster:
    """The four processes, by role."""

    def __init__(self, receivers: list[ServerProcess], relays: list[ServerProcess]) -> None:
        self.receivers, self.relays = receivers, relays

    @classmethod
    async def start(cls, stack: ExitStack, config: Path, hec: RunningHec) -> Cluster:
        # In threads: starting blocks until the process listens, and a relay first asks the
        # HEC stand-in, which answers from this event loop.
        env = {"SCALE_TOKEN": TOKEN, "SCALE_HEC_TOKEN": hec.token}

        async def start(*args: str) -> ServerProcess:
            process = await asyncio.to_thread(ServerProcess, *args, "--config", str(config),
                                              env=env)
            return stack.enter_context(process)

        receivers = [await start("receive") for _ in range(2)]
        relays = [await start("relay", "--listen", "127.0.0.1:0") for _ in range(2)]
        return cls(receivers, relays)


async def test_killed_receiver_and_relay_lose_nothing_and_store_nothing_twice(
        tmp_path: Path, shared_config: JournalConfig, stack: ExitStack) -> None:
    async with running_hec() as hec:
        hec.faults.slow(SINK_DELAY_SECONDS)
        cluster = await Cluster.start(stack, write_config(tmp_path, shared_config, hec),
                                      hec)
        answered: set[str] = set()
        async with aiohttp.ClientSession() as http:
            posting = asyncio.create_task(
                post_events(http, cluster, range(1, EVENTS // 2), answered))
            await eventually(lambda: len(answered) >= EVENTS // 4, within=30)
            await asyncio.to_thread(cluster.receivers[0].kill)  # requests in flight fail
            await posting
            await kill_while_holding_claims(cluster.relays[0], shared_config)
            # Everything from now on goes to the surviving receiver, repeats included.
            await post_events(http, cluster, range(EVENTS // 2, EVENTS + 1), answered)
            await post_events(http, cluster, range(1, 50), answered)

        def all_delivered() -> bool:
            return answered <= {str(key) for key in hec.received.count_by()}

        await eventually(all_delivered, within=60)
        await eventually(lambda: nothing_pending(shared_config), within=30)
        # Sent again: at most what the killed relay held (two windows of one batch each).
        duplicates = hec.received.duplicates()
        assert len(duplicates) <= 2 * 20, duplicates
        print(f"{len(answered)} answered 200, {len(duplicates)} delivered twice")

    stored = await stored_ids(shared_config)
    assert len(stored) == len(set(stored)), "an id was stored twice"
    assert answered <= set(stored)
    assert len(answered) >= EVENTS * 3 // 4  # most requests reached a live receiver
    assert cluster.relays[1].process.poll() is None
    assert cluster.receivers[1].process.poll() is None


async def post_events(http: aiohttp.ClientSession, cluster: Cluster, ids: range,
                      answered: set[str]) -> None:
    """POST each id (eight at a time) to a live receiver, alternating; note the 200s."""
    live = [r for r in cluster.receivers if r.process.poll() is None]
    gate = asyncio.Semaphore(8)

    async def post(event_id: int) -> None:
        receiver = live[event_id % len(live)]
        body = b'{"id": %d, "event_type": "user_created", "entity_path": "acme"}' % event_id
        async with gate:
            try:
                async with http.post(receiver.url, data=body, headers={
                        "X-Gitlab-Event-Streaming-Token": TOKEN},
                        timeout=aiohttp.ClientTimeout(total=10)) as answer:
                    if answer.status == 200:
                        answered.add(str(event_id))
            except aiohttp.ClientError:
                pass  # a killed receiver: not answered, so not owed

    await asyncio.gather(*(post(i) for i in ids))


async def kill_while_holding_claims(relay: ServerProcess, journal: JournalConfig) -> None:
    """SIGKILL ``relay`` at a moment it holds claimed, unacknowledged events."""
    assert journal.redis is not None
    client = Redis.from_url(journal.redis.url)
    events = "{" + journal.redis.key_prefix + "}:events"

    async def holds_claims() -> bool:
        consumers = await client.xinfo_consumers(events, "splunk")
        return any(f":{relay.process.pid}:" in c["name"].decode() and int(c["pending"]) > 0
                   for c in consumers)

    try:
        await eventually(holds_claims, within=20)
        relay.process.kill()
        relay.process.wait(10)
        assert await holds_claims(), "the killed relay's claims are left for another"
    finally:
        await client.aclose()


async def nothing_pending(config: JournalConfig) -> bool:
    journal = await open_journal_readonly(config)
    try:
        [position] = (await journal.stats()).sinks
    finally:
        await journal.close()
    return position.pending == 0 and position.backlog == 0


async def stored_ids(config: JournalConfig) -> list[str]:
    journal = await open_journal_readonly(config)
    try:
        return [event.event_id for event in await journal.tail(10 * EVENTS)]
    finally:
        await journal.close()

