"""What the operating tests share: a config with a HEC sink and a file archive, ``run`` as a
real process, and the journal read as the CLI reads it."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import aiohttp
import orjson

from auditstream.journal import JournalConfig, SinkPosition
from auditstream.journal.sqlite import SqliteJournal
from auditstream.server.hec import RunningHec
from tests.processes import AUDITSTREAM, ServerProcess, run_cli

STREAM_TOKEN = "stream-token-0123456789"


def write_config(tmp_path: Path, hec: RunningHec, *, hec_batch: int = 50,
                 journal: str = 'path = "journal.db"') -> Path:
    """``journal``: the [journal] table's keys (a SQLite file beside the config by default)."""
    config = tmp_path / "auditstream.toml"
    config.write_text(f"""
[receiver]
listen = "127.0.0.1:0"

[[receiver.destinations]]
name = "acme"
token_env = "STREAM"

[journal]
{journal}

[relay]
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.2
pause_retry_seconds = 0.2
poll_seconds = 0.05

[[sinks]]
name = "splunk"
type = "hec"
url = "{hec.url}"
token_env = "HEC"
index = "main"
batch_max_events = {hec_batch}
batch_max_wait_seconds = 0

[[sinks]]
name = "archive"
type = "file"
path = "archive.jsonl"
batch_max_wait_seconds = 0
""")
    return config


def env(hec: RunningHec) -> dict[str, str]:
    return {"STREAM": STREAM_TOKEN, "HEC": hec.token}


async def start_run(config: Path, hec: RunningHec) -> ServerProcess:
    # In a thread: the HEC stand-in in this loop must keep answering the process's checks.
    return await asyncio.to_thread(ServerProcess, "run", "--config", str(config), env=env(hec))


async def cli(*args: str, hec: RunningHec, stdin: str | None = None,
              ) -> subprocess.CompletedProcess[str]:
    if stdin is None:
        return await asyncio.to_thread(run_cli, *args, env=env(hec))
    return await asyncio.to_thread(
        subprocess.run, [AUDITSTREAM, *args], input=stdin, capture_output=True, text=True,
        timeout=60, env={**os.environ, **env(hec)}, check=False)


async def cli_json(*args: str, hec: RunningHec) -> object:
    result = await cli(*args, "--output", "json", hec=hec)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


async def post_events(url: str, ids: range) -> None:
    headers = {"X-Gitlab-Event-Streaming-Token": STREAM_TOKEN,
               "Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession() as session:
        for event_id in ids:
            body = orjson.dumps({"id": event_id, "event_type": "user_created",
                                 "created_at": "2026-11-29T10:00:00.000Z"})
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200


async def positions(config: Path) -> dict[str, SinkPosition]:
    journal = await SqliteJournal.open_readonly(JournalConfig(path=config.parent / "journal.db"))
    try:
        return {p.sink: p for p in await journal.positions()}
    finally:
        await journal.close()


async def dead_letter_count(config: Path) -> int:
    journal = await SqliteJournal.open_readonly(JournalConfig(path=config.parent / "journal.db"))
    try:
        return len(await journal.dead_letters(None, 100))
    finally:
        await journal.close()


def archived_ids(config: Path) -> list[int]:
    archive = config.parent / "archive.jsonl"
    if not archive.exists():
        return []
    return [orjson.loads(line)["event"]["id"] for line in archive.read_bytes().splitlines()]


def ids_at(hec: RunningHec) -> list[int]:
    return [int(envelope.event["id"]) for envelope in hec.received.envelopes]
