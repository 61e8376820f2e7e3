"""``auditstream status`` as an operator runs it: against a running ``run``, a stopped one,
and one whose sink is paused, in both output forms."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

from auditstream.server.hec import running_hec
from tests.processes import AUDITSTREAM
from tests.relay.operate import (
    STREAM_TOKEN,
    archived_ids,
    cli,
    cli_json,
    ids_at,
    post_events,
    start_run,
    write_config,
)
from tests.waiting import eventually


async def post_with_a_wrong_token(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            url, data=b'{"id": 99}', headers={"X-Gitlab-Event-Streaming-Token": "wrong"}) as r:
        assert r.status == 401


async def test_status_reads_a_running_process_and_then_the_journal_alone(
        tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec)
        process = await start_run(config, hec)
        args = ("status", "--config", str(config), "--url", process.url)
        try:
            await post_events(process.url, range(1, 6))
            await post_with_a_wrong_token(process.url)
            await eventually(lambda: len(archived_ids(config)) == 5, within=15)
            await hec.received.wait_until(lambda: len(ids_at(hec)) == 5, within=15)
            report: Any = await cli_json(*args, hec=hec)
            assert report["source"] == "process"
            assert report["receiver"]["listening"] is True
            assert report["receiver"]["requests_recent"] == {"ok": 5, "unauthorized": 1}
            assert report["journal"]["events"] == 5
            assert report["journal"]["free_disk_bytes"] > 0
            sinks = {s["sink"]: s for s in report["sinks"]}
            assert {name: (s["state"], s["backlog"], s["lag_seconds"])
                    for name, s in sinks.items()} == {"splunk": ("running", 0, 0.0),
                                                      "archive": ("running", 0, 0.0)}
            assert sinks["splunk"]["last_success_at"] is not None
            assert sinks["splunk"]["in_flight"] == 0
            [destination] = report["destinations"]
            assert destination["destination"] == "acme"
            assert destination["last_event_at"] is not None
            table = await cli(*args, hec=hec)
            assert table.returncode == 0, table.stderr
            assert f"receiver: listening at {process.url}, ready" in table.stdout
            assert "unauthorized 1" in table.stdout
            assert "and the journal" in table.stdout
        finally:
            await asyncio.to_thread(process.terminate)
        stopped: Any = await cli_json(*args, hec=hec)
        assert stopped["source"] == "journal"
        assert stopped["receiver"] == {"listening": False}
        assert {s["sink"]: (s["state"], s["backlog"]) for s in stopped["sinks"]} == {
            "splunk": ("not running", 0), "archive": ("not running", 0)}
        assert stopped["journal"]["events"] == 5
        table = await cli(*args, hec=hec)
        assert "receiver: not running" in table.stdout
        assert "the journal alone was read" in table.stdout
        assert hec.token not in table.stdout + table.stderr
        assert STREAM_TOKEN not in table.stdout + table.stderr


async def test_status_shows_a_paused_sink_with_its_reason_and_backlog(tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec)
        hec.faults.bad_event(0, code=7)  # "Incorrect index": a configuration error, paused
        process = await start_run(config, hec)
        args = ("status", "--config", str(config), "--url", process.url)
        try:
            await post_events(process.url, range(1, 4))

            async def paused() -> bool:
                report: Any = await cli_json(*args, hec=hec)
                return bool({s["sink"]: s["state"] for s in report["sinks"]}["splunk"] == "paused")

            await eventually(paused, within=20)
            report: Any = await cli_json(*args, hec=hec)
            splunk = next(s for s in report["sinks"] if s["sink"] == "splunk")
            assert "code 7" in splunk["reason"]
            assert splunk["backlog"] >= 1
            assert splunk["lag_seconds"] is not None
            assert report["ready"] is False
            table = await cli(*args, hec=hec)
            assert "paused" in table.stdout
            assert "NOT ready" in table.stdout
            assert "code 7" in table.stdout
        finally:
            await asyncio.to_thread(process.kill)


async def test_status_watch_without_a_terminal_prints_each_refresh_after_the_last(
        tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec)
        watching = await asyncio.to_thread(
            subprocess.Popen, [AUDITSTREAM, "status", "--config", str(config), "--url",
                               "http://127.0.0.1:9", "--watch", "--interval", "0.5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert watching.stdout is not None
            heads: list[str] = []

            def read_two_screens() -> None:
                assert watching.stdout is not None
                for line in watching.stdout:
                    if line.startswith("status at "):
                        heads.append(line)
                        if len(heads) == 2:
                            return

            await asyncio.wait_for(asyncio.to_thread(read_two_screens), 20)
            assert all("the journal alone was read" in head for head in heads)
        finally:
            watching.kill()
            await asyncio.to_thread(watching.communicate)


async def test_status_of_a_receiver_on_an_inherited_socket_asks_for_its_address(
        tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec)
        config.write_text(config.read_text().replace('listen = "127.0.0.1:0"',
                                                     'listen = "fd:3"'))
        table = await cli("status", "--config", str(config), hec=hec)
    assert table.returncode == 0, table.stderr
    assert ("no process URL (the config's receiver serves an inherited socket, fd:3; give "
            "--url with its address): the journal alone was read") in table.stdout
