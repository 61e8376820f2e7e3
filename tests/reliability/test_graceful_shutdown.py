"""SIGTERM under load: nothing answered 200 is lost, no half-written batch anywhere.

`auditstream run` with a HEC sink (slow, so a batch is always in hand) and a file sink takes
a steady concurrent load, then gets SIGTERM while the load goes on. It must exit 0 with the
journal intact and holding every event it answered 200; the archive must end on a whole
line; and after a restart each sink must have every such event exactly once: a graceful
stop finishes the batch in hand and saves the cursor, so it sends nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.server.hec import running_hec
from tests.conftest import TOKEN
from tests.processes import ServerProcess
from tests.waiting import eventually

HEADERS = {"X-Gitlab-Event-Streaming-Token": TOKEN}


async def load(url: str, first_id: int, ok: set[int], stop: asyncio.Event) -> None:
    event_id = first_id
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while not stop.is_set():
            body = orjson.dumps({"id": event_id, "event_type": "user_created"})
            try:
                async with session.post(url + "/", data=body, headers=HEADERS) as response:
                    if response.status == 200:
                        ok.add(event_id)
            except aiohttp.ClientError:
                await asyncio.sleep(0.01)  # the server is going or gone: expected
            event_id += 1


@pytest.mark.slow
async def test_sigterm_under_load_loses_nothing_and_leaves_no_half_written_batch(
        tmp_path: Path) -> None:
    archive = tmp_path / "archive.jsonl"
    async with running_hec() as hec:
        hec.faults.slow(0.2)  # every batch takes a while: SIGTERM lands mid-batch
        config = tmp_path / "auditstream.toml"
        config.write_text(f"""
[receiver]
listen = "127.0.0.1:0"
[[receiver.destinations]]
name = "acme"
token_env = "STREAM_TOKEN"
[journal]
path = "journal.db"
[[sinks]]
name = "splunk"
url = "{hec.url}"
token_env = "HEC_TOKEN"
batch_max_events = 100
batch_max_wait_seconds = 0.05
[[sinks]]
name = "archive"
type = "file"
path = "{archive.name}"
batch_max_events = 100
""")
        env = {"STREAM_TOKEN": TOKEN, "HEC_TOKEN": hec.token}
        process = await asyncio.to_thread(ServerProcess, "run", "--config", str(config),
                                          env=env)
        ok: set[int] = set()
        stop = asyncio.Event()
        posters = [asyncio.create_task(load(process.url, n * 1_000_000, ok, stop))
                   for n in range(1, 9)]
        try:
            await eventually(lambda: len(ok) > 100, within=30)  # SIGTERM under load
            code = await asyncio.to_thread(process.terminate)
        finally:
            stop.set()
            await asyncio.gather(*posters)
            await asyncio.to_thread(process.kill)
        assert code == 0, process.stderr
        stored = journal_ids(tmp_path / "journal.db")
        assert ok <= stored  # every 200 is in the journal
        text = archive.read_bytes()
        assert text.endswith(b"\n")  # no half-written line
        lines = [orjson.loads(line) for line in text.splitlines()]
        assert all(isinstance(line["event"]["id"], int) for line in lines)

        hec.faults.clear()
        restarted = await asyncio.to_thread(ServerProcess, "run", "--config", str(config),
                                            env=env)
        try:
            await hec.received.wait_until(
                lambda: len(hec.received.count_by()) >= len(stored), within=60)
            await eventually(lambda: len(archive.read_bytes().splitlines()) >= len(stored),
                             within=30)
            assert await asyncio.to_thread(restarted.terminate) == 0
        finally:
            await asyncio.to_thread(restarted.kill)
    at_hec = hec.received.count_by()
    assert {int(str(k)) for k in at_hec} == stored
    assert [k for k, n in at_hec.items() if n > 1] == []  # graceful: nothing sent twice
    archived = [orjson.loads(line)["event"]["id"] for line in archive.read_bytes().splitlines()]
    assert sorted(archived) == sorted(stored)  # each once


def journal_ids(path: Path) -> set[int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {int(row[0]) for row in conn.execute("SELECT event_id FROM events")}
