"""``auditstream deadletters`` and ``auditstream replay`` as an operator runs them: real
processes beside a running ``auditstream run``, a HEC stand-in and a file archive."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from auditstream.server.hec import running_hec
from tests.processes import AUDITSTREAM
from tests.relay.operate import (
    archived_ids,
    cli,
    cli_json,
    dead_letter_count,
    env,
    ids_at,
    positions,
    post_events,
    start_run,
    write_config,
)
from tests.waiting import eventually


async def test_a_poison_event_is_retried_once_the_sink_is_fixed_then_gone_from_the_list(
        tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec)
        poison = hec.faults.bad_event(0, code=6)  # the sink refuses every first envelope
        process = await start_run(config, hec)
        try:
            await post_events(process.url, range(1, 2))
            await eventually(lambda: _dead_letters_at_least(config, 1), within=15)
            letters: Any = await cli_json("deadletters", "list", "--config", str(config),
                                          hec=hec)
            [letter] = letters
            assert (letter["sink"], letter["event_id"], letter["destination"]) == (
                "splunk", "1", "acme")
            assert "code 6" in letter["reason"]
            assert letter["event"] == {"id": 1, "event_type": "user_created",
                                       "created_at": "2026-11-29T10:00:00.000Z"}
            table = await cli("deadletters", "list", "--config", str(config), hec=hec)
            assert "code 6" in table.stdout
            assert letter["id"] in table.stdout
            hec.faults.clear(poison)  # the cause is fixed
            retried = await cli("deadletters", "retry", "--config", str(config), "--sink",
                                "splunk", hec=hec)
            assert retried.returncode == 0, retried.stderr
            assert "retry requested: 1 of sink splunk" in retried.stdout
            await hec.received.wait_until(lambda: 1 in ids_at(hec), within=15)
            await eventually(lambda: _dead_letters_at_most(config, 0), within=15)
            assert await cli_json("deadletters", "list", "--config", str(config),
                                  hec=hec) == []
            assert archived_ids(config) == [1]  # the archive took it once, and only once
        finally:
            await asyncio.to_thread(process.kill)


async def test_drop_removes_only_what_it_names_and_asks_first(tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec)
        hec.faults.bad_event(0, code=6)  # every first envelope is refused
        process = await start_run(config, hec)
        try:
            await post_events(process.url, range(1, 2))
            await eventually(lambda: _dead_letters_at_least(config, 1), within=15)
            await post_events(process.url, range(2, 3))
            await eventually(lambda: _dead_letters_at_least(config, 2), within=15)
        finally:
            await asyncio.to_thread(process.kill)
        letters: Any = await cli_json("deadletters", "list", "--config", str(config), hec=hec)
        first, second = letters
        args = ("deadletters", "drop", "--config", str(config), "--id", first["id"])
        refused = await cli(*args, hec=hec, stdin="n\n")
        assert refused.returncode == 1
        assert "Aborted" in refused.stderr
        assert await dead_letter_count(config) == 2
        confirmed = await cli(*args, hec=hec, stdin="y\n")
        assert confirmed.returncode == 0, confirmed.stderr
        assert "dropped: 1 of sink splunk" in confirmed.stdout
        left: Any = await cli_json("deadletters", "list", "--config", str(config), hec=hec)
        assert [d["id"] for d in left] == [second["id"]]
        nothing = await cli("deadletters", "drop", "--config", str(config), "--reason",
                            "no such reason", "--yes", hec=hec)
        assert "no dead letters match" in nothing.stdout
        assert await dead_letter_count(config) == 1
        unknown = await cli("deadletters", "list", "--config", str(tmp_path / "none.toml"),
                            hec=hec)
        assert unknown.returncode == 2
        assert "Traceback" not in unknown.stderr


async def test_replay_of_a_range_while_the_relay_delivers_touches_nothing_else(
        tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec, hec_batch=5)
        process = await start_run(config, hec)
        try:
            await post_events(process.url, range(1, 31))
            await eventually(lambda: len(archived_ids(config)) == 30, within=15)
            await hec.received.wait_until(lambda: len(set(ids_at(hec))) == 30, within=15)
            dry: Any = await cli_json("replay", "--config", str(config), "--sink", "splunk",
                                      "--from-id", "11", "--dry-run", hec=hec)
            assert (dry["events"], dry["first_seq"], dry["last_seq"]) == (20, 11, 30)
            # A replay slowed down by the sink, killed half-way while events keep flowing.
            hec.faults.slow(0.1)
            killed = await asyncio.to_thread(
                subprocess.Popen, [AUDITSTREAM, "replay", "--config", str(config), "--sink",
                                   "splunk", "--since", "1h"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, **env(hec)})
            try:
                await hec.received.wait_until(lambda: len(ids_at(hec)) >= 40, within=15)
                await post_events(process.url, range(31, 41))
                assert killed.poll() is None, "the kill must land mid-replay"
            finally:
                killed.send_signal(signal.SIGKILL)
                await asyncio.to_thread(killed.wait, 10)
            hec.faults.clear()
            await eventually(lambda: len(archived_ids(config)) >= 40, within=15)
            await hec.received.wait_until(lambda: set(ids_at(hec)) >= set(range(1, 41)),
                                          within=15)
            await eventually(lambda: _cursors_at(config, 40), within=15)
            before = len(ids_at(hec))
            done = await cli("replay", "--config", str(config), "--sink", "splunk",
                             "--from-id", "11", "--output", "json", hec=hec)
            assert done.returncode == 0, done.stderr
            assert '"delivered": 30' in done.stdout
            counts = hec.received.count_by()
            assert all(counts[str(i)] >= 2 for i in range(11, 41))
            assert len(ids_at(hec)) - before == 30
            assert archived_ids(config) == list(range(1, 41))  # the other sink: nothing extra
            assert {name: p.cursor for name, p in (await positions(config)).items()} == {
                "splunk": 40, "archive": 40}  # no cursor went back
        finally:
            await asyncio.to_thread(process.kill)


async def test_replay_refuses_what_it_cannot_do_with_a_message(tmp_path: Path) -> None:
    async with running_hec() as hec:
        config = write_config(tmp_path, hec)
        cases = [
            (("--sink", "nope", "--since", "1h"), 2, "no sink 'nope'"),
            (("--sink", "splunk", "--since", "yesterday"), 2, "is not a time"),
            (("--sink", "splunk"), 2, "give either --since"),
            (("--sink", "splunk", "--since", "1h", "--from-id", "3"), 2, "give either"),
            (("--sink", "splunk", "--until", "1h", "--from-id", "3"), 2, "--until goes with"),
            (("--sink", "splunk", "--since", "1h", "--until", "2h"), 2, "is before --since"),
            (("--sink", "splunk", "--from-id", "3"), 1, "no journal at"),
        ]
        for args, code, message in cases:
            result = await cli("replay", "--config", str(config), *args, hec=hec)
            assert (result.returncode, message in result.stderr) == (code, True), result.stderr
            assert "Traceback" not in result.stderr


async def _dead_letters_at_least(config: Path, count: int) -> bool:
    return (config.parent / "journal.db").exists() and await dead_letter_count(config) >= count


async def _dead_letters_at_most(config: Path, count: int) -> bool:
    return await dead_letter_count(config) <= count


async def _cursors_at(config: Path, upto: int) -> bool:
    return all(p.cursor >= upto for p in (await positions(config)).values())
