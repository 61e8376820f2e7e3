"""Continuous reconcile with two receivers on one Redis journal, as separate processes: they
share the progress and take turns, so one of them walks GitLab's API each period, not both;
and when that one is killed, the other takes over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from auditstream.journal import JournalConfig, open_journal_readonly
from auditstream.server.gitlab import RunningGitLab, running_gitlab
from tests.journal.redis.server import RedisServer, redis_journal_config
from tests.processes import ServerProcess
from tests.waiting import eventually

pytestmark = pytest.mark.slow

STREAM_TOKEN = "shared-reconcile-token-0123"
PERIOD_MINUTES = 0.03  # 1.8 s: a turn lasts two periods, 3.6 s


def write_config(folder: Path, journal: JournalConfig, gitlab: RunningGitLab) -> Path:
    assert journal.redis is not None
    config = folder / "auditstream.toml"
    config.write_text(f"""
[receiver]
listen = "127.0.0.1:0"
[[receiver.destinations]]
name = "siem"
token_env = "STREAM_TOKEN"
gitlab_url = "{gitlab.url}"
group = "acme"
gitlab_token_env = "GITLAB_TOKEN"
reconcile_every_minutes = {PERIOD_MINUTES}

[journal]
backend = "redis"
url = "{journal.redis.url}"
key_prefix = "{journal.redis.key_prefix}"
""")
    return config


def passes(receiver: ServerProcess) -> list[str]:
    return [line for line in receiver.stderr_lines if "reconcile siem: " in line]


async def test_two_receivers_on_one_redis_reconcile_in_turns_and_take_over(
        redis_server: RedisServer, tmp_path: Path) -> None:
    async with running_gitlab() as gitlab:
        journal_config = redis_journal_config(redis_server)
        config = write_config(tmp_path, journal_config, gitlab)
        env = {"STREAM_TOKEN": STREAM_TOKEN, "GITLAB_TOKEN": gitlab.token_for("owner")}
        await gitlab.make_activity(3, event_types=("member_created",), on=("acme/website",))
        receivers = [await asyncio.to_thread(ServerProcess, "receive", "--config",
                                             str(config), env=env) for _ in range(2)]
        try:
            await eventually(lambda: sum(len(passes(r)) for r in receivers) >= 3, within=30)
            holder, other = sorted(receivers, key=lambda r: len(passes(r)), reverse=True)
            assert passes(other) == []  # the holder renewed its turn at every pass
            assert " 3 found" in passes(holder)[0]
            await asyncio.to_thread(holder.kill)  # it can no longer renew its turn
            await eventually(lambda: bool(passes(other)), within=30)  # ... so it is taken over
            assert " 3 found, 3 already held, 0 added" in passes(other)[0]
        finally:
            for receiver in receivers:
                await asyncio.to_thread(receiver.kill)
        journal = await open_journal_readonly(journal_config)
        try:
            assert sorted(e.event_id for e in await journal.tail(10)) == sorted(
                e.key for e in gitlab.events.stored)  # each once
        finally:
            await journal.close()
