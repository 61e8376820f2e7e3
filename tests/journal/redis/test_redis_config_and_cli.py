"""``[journal] backend = "redis"``: read from the config file, used by the receiver and the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.config.app import load_config, load_journal_config
from auditstream.config.errors import ConfigError
from auditstream.journal import IncomingEvent, JournalConfig, open_journal
from auditstream.receiver.service import start_receiver
from tests.conftest import TOKEN, receiver_config
from tests.journal.redis.server import RedisServer, redis_journal_config, running_redis
from tests.processes import run_cli

ENV = {"REDIS_PASSWORD": "s3cret-redis-password"}


def write(tmp_path: Path, journal: str) -> Path:
    path = tmp_path / "auditstream.toml"
    path.write_text("[journal]\n" + journal)
    return path


def test_redis_journal_is_read_from_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """backend = "redis"
url = "redis://redis.internal:6380/2"
password_env = "REDIS_PASSWORD"
key_prefix = "acme"
wait_replicas = 1
wait_timeout_seconds = 0.5
claim_idle_seconds = 30
dedup_window_days = 10
"""), ENV).journal
    assert (config.backend, config.dedup_window_seconds) == ("redis", 10 * 86400.0)
    assert config.redis is not None
    assert config.redis.password is not None
    assert (config.redis.url, config.redis.password.reveal(), config.redis.key_prefix) == (
        "redis://redis.internal:6380/2", "s3cret-redis-password", "acme")
    assert (config.redis.wait_replicas, config.redis.wait_timeout_seconds,
            config.redis.claim_idle_seconds) == (1, 0.5, 30.0)
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(("journal", "message"), [
    ('backend = "redis"\n', "journal.url: is required"),
    ('backend = "redis"\nurl = "http://redis:6379"\n', "journal.url: expected redis://"),
    ('backend = "redis"\nurl = "redis://:pw@redis:6379"\n', "journal.url: put no password"),
    ('backend = "redis"\nurl = "redis://r"\nkey_prefix = "a{b}"\n', "journal.key_prefix"),
    ('backend = "redis"\nurl = "redis://r"\nwait_replicas = 1.5\n', "journal.wait_replicas"),
    ('backend = "redis"\nurl = "redis://r"\npassword_env = "UNSET_VAR"\n', "UNSET_VAR"),
    ('url = "redis://r"\n', 'journal.url: only for backend = "redis"'),
    ('backend = "postgres"\n', "must be one of sqlite, redis, got 'postgres'"),
])
def test_bad_redis_settings_name_the_key(tmp_path: Path, journal: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_journal_config(write(tmp_path, journal), ENV)


def test_a_user_name_in_the_url_is_fine(tmp_path: Path) -> None:
    config = load_journal_config(write(tmp_path, 'backend = "redis"\n'
                                                 'url = "redis://relay@redis:6379/0"\n'), ENV)
    assert config.redis is not None
    assert config.redis.url == "redis://relay@redis:6379/0"


async def test_receiver_answers_200_on_redis_and_503_when_it_is_gone(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as server:
        journal = await open_journal(redis_journal_config(server))
        running = await start_receiver(receiver_config(), journal)
        try:
            async with aiohttp.ClientSession() as http:
                headers = {"X-Gitlab-Event-Streaming-Token": TOKEN}
                for expected in ({"accepted": 1, "duplicates": 0},
                                 {"accepted": 0, "duplicates": 1}):
                    async with http.post(running.url, data=b'{"id": 1}',
                                         headers=headers) as answer:
                        assert (answer.status, await answer.json()) == (200, expected)
                server.kill()
                async with http.post(running.url, data=b'{"id": 2}', headers=headers) as answer:
                    assert answer.status == 503
                    assert answer.headers["Retry-After"] == "7"
                async with http.get(running.url + "/readyz") as ready:
                    assert ready.status == 503
        finally:
            await running.stop()
            await journal.close()


def _fill(config: JournalConfig) -> None:
    async def fill() -> None:
        journal = await open_journal(config)
        try:
            await journal.append([IncomingEvent(
                instance="default", event_id=str(i), dedup_keys=(f"id:{i}",),
                destination="acme", received_at=1_700_000_000.0 + i, body=b'{"id":%d}' % i,
                event_type="user_created") for i in (1, 2, 3, 2)])
            await journal.register_sink("hec")
            await journal.ack("hec", (await journal.claim("hec", 1))[-1].seq)
        finally:
            await journal.close()

    asyncio.run(fill())


def test_journal_stats_and_tail_read_the_configured_redis(tmp_path: Path,
                                                          redis_server: RedisServer) -> None:
    config = redis_journal_config(redis_server)
    assert config.redis is not None
    _fill(config)
    path = write(tmp_path, f'backend = "redis"\nurl = "{redis_server.url}"\n'
                           f'key_prefix = "{config.redis.key_prefix}"\n')
    result = run_cli("journal", "stats", "--config", str(path), "--output", "json")
    assert result.returncode == 0, result.stderr
    stats = orjson.loads(result.stdout)
    assert (stats["events"], stats["duplicates_refused"], stats["remembered_ids"]) == (3, 1, 3)
    assert stats["sinks"] == [{"sink": "hec", "cursor": 1, "backlog": 2, "pending": 0}]
    assert config.redis.key_prefix in stats["journal"]
    tail = run_cli("journal", "tail", "--config", str(path), "-n", "2", "--output", "json")
    assert tail.returncode == 0, tail.stderr
    assert [e["event_id"] for e in orjson.loads(tail.stdout)] == ["2", "3"]
    table = run_cli("journal", "stats", "--config", str(path))
    assert table.returncode == 0
    assert "hec" in table.stdout


def test_journal_stats_names_an_unreachable_redis(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as server:
        url = server.url
    path = write(tmp_path, f'backend = "redis"\nurl = "{url}"\n')
    result = run_cli("journal", "stats", "--config", str(path))
    assert result.returncode == 1
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.stderr
