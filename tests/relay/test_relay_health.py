"""What a relay says about its sinks (/metrics, /readyz, the log) matches what is happening.

Real processes and real servers on 127.0.0.1: ``auditstream run`` with a config file, the HEC
stand-in with scripted faults, and /metrics and /readyz read over HTTP as a scraper would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from auditstream.common.secrets import Secret
from auditstream.journal import Journal, JournalUnavailable, SinkPosition
from auditstream.relay.backlog import BacklogWatch
from auditstream.relay.batch import Batch
from auditstream.relay.config import BatchSettings, FileSinkConfig, HecSinkConfig
from auditstream.relay.decision import Decision, Delivered
from auditstream.relay.service import Relay
from auditstream.relay.sinks.base import Sink, SinkHealth
from auditstream.relay.status import create_status_app
from auditstream.server.hec import RunningHec, running_hec
from auditstream.server.hec.config import DEFAULT_TOKEN
from tests.helpers.metrics import sample_in
from tests.helpers.ports import held_port, port_of
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
    return sample_in(text, "auditstream_relay_backlog_events", sink=sink)


async def readiness(url: str, path: str = "/readyz") -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url + path) as response:
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


async def backlog_is(url: str, expected: int, sink: str = "hec") -> None:
    async def shows() -> bool:
        return await scraped_backlog(url, sink) == expected

    await eventually(shows, within=10)


async def test_a_failing_statistics_read_never_stops_delivery(
        journal: Journal, hec: RunningHec, start_relay: StartRelay,
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


async def test_run_with_a_refused_token_is_not_ready_before_any_event(tmp_path: Path) -> None:
    async with running_hec() as hec:
        process = await start_run(tmp_path, hec.url, "not-the-hec-token")
        try:
            async def token_reported() -> bool:
                status, ready = await readiness(process.url)
                reason = str(ready["components"].get("sink:hec"))  # type: ignore[attr-defined]
                return status == 503 and "HTTP 403" in reason and "token_env" in reason

            await eventually(token_reported, within=10)  # the check may land after listening
            # What a load balancer asks: this receiver takes events (the journal keeps them
            # for the sink), so it must not be taken out while only the sink is down.
            status, ready = await readiness(process.url, "/readyz/receiver")
            assert (status, ready["status"]) == (200, "ready")
            components = ready["components"]
            assert isinstance(components, dict)
            assert set(components) == {"journal"}
        finally:
            await asyncio.to_thread(process.kill)
    assert " ERROR auditstream.relay sink hec is not usable: HTTP 403" in process.stderr
    assert "not-the-hec-token" not in process.stderr


# -- what the start-up check finds is the sink's state from the start -------------------------


@contextlib.asynccontextmanager
async def status_server(relay: Relay) -> AsyncIterator[str]:
    """The relay's status server (/readyz, /metrics) on 127.0.0.1, an ephemeral port."""
    runner = web.AppRunner(create_status_app(relay.registry, relay.probes()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = next(a for a in runner.addresses if isinstance(a, tuple))[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
def relay_logs_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "auditstream.relay")


def logged(caplog: pytest.LogCaptureFixture, sink: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(f"sink {sink} ")]


async def is_ready(url: str) -> bool:
    return (await readiness(url))[0] == 200


async def test_a_refused_token_is_not_ready_from_the_start_and_names_the_setting(
        hec: RunningHec, start_relay: StartRelay, caplog: pytest.LogCaptureFixture) -> None:
    relay = await start_relay(relay_config(hec_sink(hec, token=Secret("wrong-token"))))
    async with status_server(relay) as url:
        await relay.check_sinks()  # no event yet: only the check knows
        status, ready = await readiness(url)
    assert status == 503
    component = ready["components"]["sink:splunk"]  # type: ignore[index]
    assert component["ok"] is False
    assert "HTTP 403" in component["reason"]
    assert "token_env" in component["reason"]
    [record] = logged(caplog, "splunk")
    assert record.levelname == "ERROR"
    assert "is not usable" in record.getMessage()
    assert "token_env" in record.getMessage()
    assert "wrong-token" not in caplog.text


async def test_a_wrong_url_is_not_ready_from_the_start_and_names_the_url(
        hec: RunningHec, start_relay: StartRelay, caplog: pytest.LogCaptureFixture) -> None:
    relay = await start_relay(relay_config(hec_sink(hec, url=hec.url + "/no/collector")))
    async with status_server(relay) as url:
        await relay.check_sinks()
        status, ready = await readiness(url)
    assert status == 503
    assert "HTTP 404" in ready["components"]["sink:splunk"]["reason"]  # type: ignore[index]
    [record] = logged(caplog, "splunk")
    assert record.levelname == "ERROR"
    assert "fix its url" in record.getMessage()


async def test_an_unreachable_sink_is_a_warning_and_ready_once_a_later_check_reaches_it(
        start_relay: StartRelay, caplog: pytest.LogCaptureFixture) -> None:
    with held_port() as down:  # refused until the stand-in serves on it
        sink = HecSinkConfig(name="later", url=f"http://127.0.0.1:{port_of(down)}",
                             token=Secret(DEFAULT_TOKEN), timeout_seconds=1.0)
        relay = await start_relay(relay_config(sink))
        async with status_server(relay) as url:
            await relay.check_sinks()
            status, ready = await readiness(url)
            assert status == 503
            reason = ready["components"]["sink:later"]["reason"]  # type: ignore[index]
            assert "unreachable" in reason
            [record] = logged(caplog, "later")
            assert record.levelname == "WARNING"
            assert "will be retried" in record.getMessage()
            async with running_hec(listener=down):  # the sink comes up, nothing is sent
                await eventually(lambda: is_ready(url), within=10)
    assert logged(caplog, "later")[-1].getMessage() == (
        "sink later is reachable and takes our token")


async def test_a_busy_sink_at_start_is_a_warning_and_ready_once_it_delivers(
        journal: Journal, hec: RunningHec, start_relay: StartRelay,
        caplog: pytest.LogCaptureFixture) -> None:
    busy = hec.faults.busy()  # 503, HEC code 9: it may pass by itself
    relay = await start_relay(relay_config(hec_sink(hec)))
    async with status_server(relay) as url:
        await relay.check_sinks()
        status, ready = await readiness(url)
        assert status == 503
        assert "retried" in ready["components"]["sink:splunk"]["reason"]  # type: ignore[index]
        [record] = logged(caplog, "splunk")
        assert record.levelname == "WARNING"
        assert "will be retried" in record.getMessage()
        assert "not usable" not in caplog.text
        hec.faults.clear(busy)
        await fill(journal, 5)
        await hec.received.wait_for(5, within=10)
        await eventually(lambda: is_ready(url), within=10)


async def test_a_file_sink_says_it_is_writable_or_which_path_to_fix(
        tmp_path: Path, start_relay: StartRelay, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    good = FileSinkConfig(name="archive", path=tmp_path / "archive" / "events.jsonl")
    bad = FileSinkConfig(name="nowhere", path=tmp_path / "a-file" / "events.jsonl")
    relay = await start_relay(relay_config(good, bad))  # type: ignore[arg-type]
    health = await relay.check_sinks()
    assert health["archive"].ok
    assert not health["nowhere"].ok
    [fine] = logged(caplog, "archive")
    assert (fine.levelname, fine.getMessage()) == (
        "INFO", f"sink archive is writable ({good.path})")
    [broken] = logged(caplog, "nowhere")
    assert broken.levelname == "ERROR"
    assert "fix its path" in broken.getMessage()
    assert "token" not in caplog.text


async def test_a_paused_sink_shows_its_backlog_at_every_scrape(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 30)
    relay = await start_relay(relay_config(hec_sink(hec, token=Secret("wrong-token"))))
    async with status_server(relay) as url:
        await eventually(lambda: relay.pipelines[0].state == "paused")
        await backlog_is(url, 30, sink="splunk")


class SlowToCheckSink(Sink):
    """Takes every batch; its check answers "unreachable", but only once released."""

    name = "slow"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.taken = 0

    async def send(self, batch: Batch) -> Decision:
        self.taken += len(batch)
        return Delivered()

    async def health(self) -> SinkHealth:
        await self.release.wait()
        return SinkHealth(False, "unreachable: no answer in time")

    async def close(self) -> None:
        pass


async def test_a_check_that_fails_after_a_delivery_began_does_not_make_the_sink_unready(
        journal: Journal, start_relay: StartRelay, tmp_path: Path) -> None:
    # check_sinks runs in the background, after the receiver listens: a slow check may land
    # after deliveries went through; those say more about the sink than it does.
    sink = SlowToCheckSink()
    config = relay_config(FileSinkConfig(name="slow", path=tmp_path / "unused"))  # type: ignore[arg-type]
    relay = await start_relay(config, sinks=[sink])
    checking = asyncio.create_task(relay.check_sinks())
    await fill(journal, 5)
    await eventually(lambda: sink.taken == 5)
    sink.release.set()
    assert not (await checking)["slow"].ok
    [probe] = relay.probes()
    assert await probe() == ("sink:slow", True, "running")


async def test_metrics_show_the_last_known_backlog_while_the_journal_cannot_be_read(
        journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CollectorRegistry()
    watch = BacklogWatch(journal, ["splunk"], registry)
    await journal.register_sink("splunk")
    await fill(journal, 7)
    await watch.refresh()
    line = 'auditstream_relay_backlog_events{sink="splunk"} 7.0'
    assert line in generate_latest(registry).decode()

    async def unreadable() -> tuple[SinkPosition, ...]:
        raise JournalUnavailable("cannot read journal: disk I/O error")

    monkeypatch.setattr(journal, "positions", unreadable)
    await fill(journal, 3, start=8)
    await watch.refresh()
    assert line in generate_latest(registry).decode()
