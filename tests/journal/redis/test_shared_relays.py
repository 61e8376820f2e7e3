"""Two relays on one Redis journal deliver everything between them, under a steady stream,
and neither ends the other (issue 15: one relay's acknowledgement, landing between the other's
two reads of the sink's position, made that read fail and the relay exit with status 1).

Real processes: one ``auditstream receive`` and two ``auditstream relay`` on one Redis, GitLab's
pace of ~150 events a second, one relay killed (SIGKILL) mid-flow; every event answered 200
reaches the HEC stand-in.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import pytest

from auditstream.journal import JournalConfig
from auditstream.server.hec import RunningHec, running_hec
from tests.journal.redis.test_scale_out import kill_while_holding_claims, nothing_pending
from tests.processes import ServerProcess
from tests.waiting import eventually

pytestmark = pytest.mark.slow

TOKEN = "shared-relays-token-0123456789"
EVENTS_PER_SECOND = 150
# Enough for the race to show. Before the fix, with one event a batch (every event its own
# claim, ack and position read), a relay exited 1 before the kill in 3 of 3 runs; with ten a
# batch in 1 of 3. With the fix: 0 of 5, ~15 s each, on a shared 2-core machine.
EVENTS_BEFORE_KILL = 1200
EVENTS_AFTER_KILL = 300
# The sink answers this late around the kill, so that the relay holds claims when killed.
SINK_DELAY_SECONDS = 0.1


def write_config(folder: Path, journal: JournalConfig, hec: RunningHec) -> Path:
    assert journal.redis is not None
    path = folder / "auditstream.toml"
    path.write_text(f"""
[receiver]
listen = "127.0.0.1:0"
[[receiver.destinations]]
name = "acme"
token_env = "STREAM_TOKEN"

[journal]
backend = "redis"
url = "{journal.redis.url}"
key_prefix = "{journal.redis.key_prefix}"
claim_idle_seconds = 1.0

[relay]
poll_seconds = 0.05
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.2

[[sinks]]
name = "splunk"
url = "{hec.url}"
token_env = "HEC_TOKEN"
index = "main"
batch_max_events = 1
batch_max_wait_seconds = 0
""")
    return path


async def test_two_relays_on_one_redis_survive_each_other_and_lose_nothing(
        tmp_path: Path, shared_config: JournalConfig, stack: ExitStack) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, shared_config, hec)
        env = {"STREAM_TOKEN": TOKEN, "HEC_TOKEN": hec.token}

        async def start(*args: str) -> ServerProcess:
            # In a thread: a relay first checks the HEC stand-in, which answers from this loop.
            process = await asyncio.to_thread(ServerProcess, *args, "--config", str(config),
                                              env=env)
            return stack.enter_context(process)

        receiver = await start("receive")
        relays = [await start("relay", "--listen", "127.0.0.1:0") for _ in range(2)]
        posted: list[int] = []
        total = EVENTS_BEFORE_KILL + EVENTS_AFTER_KILL
        async with aiohttp.ClientSession() as http:
            streaming = asyncio.create_task(stream(http, receiver.url, range(1, total + 1),
                                                   posted))
            await eventually(lambda: len(posted) >= EVENTS_BEFORE_KILL or streaming.done(),
                             within=60)
            assert all(r.process.poll() is None for r in relays), relays_said(relays)
            slow = hec.faults.slow(SINK_DELAY_SECONDS)  # so that the relay holds claims
            await kill_while_holding_claims(relays[0], shared_config)
            hec.faults.clear(slow)
            await streaming
        every = {str(i) for i in range(1, total + 1)}
        await eventually(lambda: every <= {str(k) for k in hec.received.count_by()}, within=60)
        await eventually(lambda: nothing_pending(shared_config), within=30)
        assert relays[1].process.poll() is None, relays_said(relays)
        assert "Traceback" not in relays[1].stderr
        print(f"{len(every)} events delivered, {len(hec.received.duplicates())} twice")


async def stream(http: aiohttp.ClientSession, url: str, ids: range, posted: list[int]) -> None:
    """POST one event per request at GitLab's pace; each must be answered 200."""
    started = time.monotonic()
    for n, event_id in enumerate(ids):
        body = b'{"id": %d, "event_type": "user_created", "entity_path": "acme"}' % event_id
        async with http.post(url, data=body, headers={
                "X-Gitlab-Event-Streaming-Token": TOKEN}) as answer:
            assert answer.status == 200
        posted.append(event_id)
        ahead = started + (n + 1) / EVENTS_PER_SECOND - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)  # pacing the stream, not waiting for an outcome


def relays_said(relays: list[ServerProcess]) -> str:
    return "\n".join(f"relay {n} (exit {r.process.poll()}):\n{r.stderr[-3000:]}"
                     for n, r in enumerate(relays))
