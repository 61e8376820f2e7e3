"""``auditstream run`` and ``auditstream relay`` as real processes against the HEC stand-in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.journal import JournalConfig
from auditstream.journal.sqlite import SqliteJournal
from auditstream.server.hec import running_hec
from tests.processes import ServerProcess, run_cli
from tests.relay.conftest import fill
from tests.relay.operate import STREAM_TOKEN, post_events
from tests.waiting import eventually


async def start(*args: str, env: dict[str, str]) -> ServerProcess:
    # In a thread: the HEC stand-in in this loop must keep answering the process's health check.
    return await asyncio.to_thread(ServerProcess, *args, env=env)


async def test_run_receives_and_relays_to_hec_then_stops_cleanly(tmp_path: Path) -> None:
    async with running_hec() as hec:
        env = {"STREAM": STREAM_TOKEN, "HEC": hec.token}
        process = await start("run", "--listen", "127.0.0.1:0", "--journal",
                              str(tmp_path / "j.db"), "--token-env", "STREAM",
                              "--hec-url", hec.url, "--hec-token-env", "HEC",
                              "--hec-index", "main", env=env)
        try:
            await post_events(process.url, range(1, 41))
            await post_events(process.url, range(1, 11))  # GitLab's duplicates
            await hec.received.wait_for(40, within=15)
            async with aiohttp.ClientSession() as session, session.get(
                    process.url + "/readyz") as response:
                ready = await response.json()
            assert ready["components"]["sink:hec"] == {"ok": True}
            assert await asyncio.to_thread(process.terminate) == 0
        finally:
            await asyncio.to_thread(process.kill)
    assert sorted(e.event["id"] for e in hec.received.envelopes) == list(range(1, 41))
    assert hec.token not in process.stderr
    assert STREAM_TOKEN not in process.stderr


async def test_run_without_a_sink_archives_beside_the_journal(tmp_path: Path) -> None:
    process = await start("run", "--listen", "127.0.0.1:0", "--journal",
                          str(tmp_path / "j.db"), "--token-env", "STREAM",
                          env={"STREAM": STREAM_TOKEN})
    try:
        await post_events(process.url, range(1, 6))
        archive = tmp_path / "events.jsonl"
        await eventually(lambda: archive.exists() and len(archive.read_bytes().splitlines()) == 5)
        assert await asyncio.to_thread(process.terminate) == 0
    finally:
        await asyncio.to_thread(process.kill)
    assert "no sink configured: relaying to the JSON-lines file" in process.stderr


@pytest.mark.slow
async def test_relay_killed_mid_stream_delivers_everything_on_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = await SqliteJournal.open(JournalConfig(path=path))
    await fill(journal, 3000)
    await journal.close()
    async with running_hec() as hec:
        hec.faults.slow(0.05)  # keep the stream going long enough to kill it in the middle
        env = {"HEC": hec.token}
        args = ("relay", "--journal", str(path), "--listen", "127.0.0.1:0", "--hec-url", hec.url,
                "--hec-token-env", "HEC")
        first = await start(*args, env=env)
        try:
            await hec.received.wait_for(500, within=30)
        finally:
            await asyncio.to_thread(first.kill)
        at_kill = len(hec.received.envelopes)
        assert at_kill < 3000, "the kill must land mid-stream"
        hec.faults.clear()
        second = await start(*args, env=env)
        try:
            await hec.received.wait_until(
                lambda: len(hec.received.count_by()) == 3000, within=60)
        finally:
            await asyncio.to_thread(second.terminate)
    counts = hec.received.count_by()
    assert sorted(int(str(k)) for k in counts) == list(range(1, 3001))
    duplicates = sum(n - 1 for n in counts.values())
    # Only unconfirmed windows are resent: at most two windows of 1,000 events in flight.
    assert duplicates <= 2000, duplicates


def test_bad_hec_url_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("run", "--token-env", "STREAM", "--journal", str(tmp_path / "j.db"),
                     "--hec-url", "splunk:8088", "--hec-token-env", "HEC",
                     env={"STREAM": STREAM_TOKEN, "HEC": "x"})
    assert result.returncode == 2
    assert "--hec-url: expected an http(s) URL" in result.stderr


def test_relay_without_a_sink_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("relay", "--journal", str(tmp_path / "j.db"))
    assert result.returncode == 2
    assert "no sink" in result.stderr


async def test_relay_with_format_ocsf_writes_valid_ocsf_lines_to_the_file_sink(
        tmp_path: Path) -> None:
    from tests.relay.ocsf_schema import validate

    journal_path = tmp_path / "j.db"
    journal = await SqliteJournal.open(JournalConfig(path=journal_path))
    try:
        await fill(journal, 5)
    finally:
        await journal.close()
    archive = tmp_path / "ocsf.jsonl"
    process = await start("relay", "--journal", str(journal_path), "--file-sink", str(archive),
                          "--format", "ocsf", "--listen", "127.0.0.1:0", env={})
    try:
        await eventually(lambda: archive.exists() and len(archive.read_bytes().splitlines()) == 5)
    finally:
        await asyncio.to_thread(process.kill)
    events = [orjson.loads(line) for line in archive.read_bytes().splitlines()]
    assert [e["metadata"]["original_event_uid"] for e in events] == ["1", "2", "3", "4", "5"]
    for event in events:
        validate(event)


def test_cim_fields_without_a_hec_sink_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("relay", "--journal", str(tmp_path / "j.db"), "--file-sink",
                     str(tmp_path / "o.jsonl"), "--cim-fields")
    assert result.returncode == 2
    assert "--cim-fields goes with --hec-url" in result.stderr
