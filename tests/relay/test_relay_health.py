"""What a relay says about its sinks (/metrics, /readyz, the log) matches what is happening.

Real processes and real servers on 127.0.0.1: ``auditstream run`` with a config file, the HEC
stand-in with scripted faults, and /metrics and /readyz read over HTTP as a scraper would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from auditstream.journal import SinkPosition
from auditstream.journal.sqlite import SqliteJournal
from auditstream.relay.config import BatchSettings
from auditstream.server.hec import RunningHec, running_hec
from tests.processes import ServerProcess
from tests.relay.conftest import StartRelay, fill, hec_sink, relay_config
from tests.waiting import eventually

STREAM_TOKEN = "stream-token-0123456789"


def write_config(folder: Path, hec_url: str) -> Path:
    path = folder / "auditstream.toml"
    path.write_text(f"""
[receiver]
listen = "127.0.0.1:0"
[[receiver.destinations]]
name = "acme"
token_env = "STREAM"

[journal]
path = "journal.db"

[relay]
poll_seconds = 0.05
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.2
pause_retry_seconds = 0.2

[[sinks]]
name = "hec"
url = "{hec_url}"
token_env = "HEC"
index = "main"
timeout_seconds = 2
batch_max_wait_seconds = 0
""")
    return path


async def start_run(folder: Path, hec_url: str, hec_token: str) -> ServerProcess:
    config = write_config(folder, hec_url)
    # In a thread: the HEC stand-in in this loop must answer the process's start-up check.
    return await asyncio.to_thread(ServerProcess, "run", "--config", str(config),
                                   env={"STREAM": STREAM_TOKEN, "HEC": hec_token})


async def post_events(url: str, ids: range) -> None:
    async with aiohttp.ClientSession() as session:
        for event_id in ids:
            body = orjson.dumps({"id": event_id, "event_type": "user_created"})
            async with session.post(url, data=body, headers={
                    "X-Gitlab-Event-Streaming-Token": STREAM_TOKEN}) as response:
                assert response.status == 200


async def scraped_backlog(url: str, sink: str = "hec") -> float | None:
    """``auditstream_relay_backlog_events`` for ``sink`` as a scraper reads it, or None."""
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "auditstream_relay_backlog_events" and \
                    sample.labels == {"sink": sink}:
                return sample.value
    return None


async def readiness(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url + "/readyz") as response:
        return response.status, await response.json()


async def test_backlog_counts_the_events_waiting_through_a_sink_outage(tmp_path: Path) -> None:
    async with running_hec() as hec:
        outage = hec.faults.busy()  # every request 503 (code 9) until cleared
        process = await start_run(tmp_path, hec.url, hec.token)
        try:
            await post_events(process.url, range(1, 16))
            await eventually(lambda: outage.fired >= 2, within=10)  # the check, then a batch
            await backlog_is(process.url, 15)
            hec.faults.clear(outage)
            await hec.received.wait_for(15, within=15)
            await backlog_is(process.url, 0)
        finally:
            await asyncio.to_thread(process.kill)


async def backlog_is(url: str, expected: int) -> None:
    async def shows() -> bool:
        return await scraped_backlog(url) == expected

    await eventually(shows, within=10)


async def test_a_failing_statistics_read_never_stops_delivery(
        journal: SqliteJournal, hec: RunningHec, start_relay: StartRelay,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    reads = 0

    async def broken_positions() -> tuple[SinkPosition, ...]:
        nonlocal reads
        reads += 1
        raise AttributeError("'NoneType' object has no attribute 'partition'")  # issue 15's

    monkeypatch.setattr(journal, "positions", broken_positions)
    await fill(journal, 60)
    relay = await start_relay(relay_config(hec_sink(hec, batch=BatchSettings(
        max_events=10, max_wait_seconds=0.0))))
    await hec.received.wait_for(60, within=10)
    await eventually(lambda: reads >= 3)  # read after cursor moves, failed every time
    assert relay.failed() is None
    assert all(p.state == "running" for p in relay.pipelines)
    failures = [r for r in caplog.records if "backlog" in r.getMessage()]
    assert len(failures) == 1, "logged once per interval, not once per read"
    assert failures[0].levelname == "WARNING"
