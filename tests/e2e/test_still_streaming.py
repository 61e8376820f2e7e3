"""Knowing that GitLab still streams, as a user runs it: the GitLab stand-in in this process,
``auditstream receive`` and ``auditstream destinations ...`` as real processes on 127.0.0.1.

Token drift fixed by ``destinations sync``; GitLab's circuit breaker caught by the silence
alarm; ``destinations check`` finding each kind of difference; canaries that arrive through
a receiver that is up and go missing through one that is down or filtered. No token in any
log line."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from auditstream.server.gitlab import Knobs, Result, RunningGitLab, running_gitlab
from tests.helpers.ports import port_of
from tests.processes import ServerProcess, run_cli, serve_held
from tests.waiting import eventually

NEW_TOKEN = "rotated-in-gitlab-0123"
UPDATE = """
mutation Update($input: GroupAuditEventStreamingDestinationsUpdateInput!) {
  groupAuditEventStreamingDestinationsUpdate(input: $input) { errors }
}
"""


@pytest.fixture
async def gitlab() -> AsyncIterator[RunningGitLab]:
    async with running_gitlab() as running:
        yield running


async def cli(gitlab: RunningGitLab, *args: str) -> subprocess.CompletedProcess[str]:
    """One command in a thread: the stand-in in this loop must stay free to answer."""
    env = {"GITLAB_URL": gitlab.url, "GITLAB_TOKEN": gitlab.token_for("owner"),
           "AUDITSTREAM_GITLAB_API": "consolidated"}
    return await asyncio.to_thread(run_cli, *args, env=env)


async def create(gitlab: RunningGitLab, config: Path, url: str, name: str) -> str:
    """A destination in GitLab, written into the receiver's config; its id."""
    done = await cli(gitlab, "destinations", "create", "--group", "acme", "--url", url,
                     "--name", name, "--write-config", str(config), "--output", "json")
    assert done.returncode == 0, done.stderr
    created: str = orjson.loads(done.stdout)[0]["id"]
    return created


async def update_in_gitlab(gitlab: RunningGitLab, destination_id: str, **values: Any) -> None:
    async with aiohttp.ClientSession() as http, http.post(
            gitlab.graphql_url, headers=gitlab.headers_for("owner"),
            json={"query": UPDATE, "variables": {"input": {"id": destination_id, **values}}},
    ) as response:
        answer = await response.json()
    assert answer["data"]["groupAuditEventStreamingDestinationsUpdate"]["errors"] == [], answer


def receiver_config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "auditstream.toml"
    config.write_text(f'[receiver]\nlisten = "127.0.0.1:{port}"\ntoken_drift_refusals = 3\n'
                      f'token_drift_interval = 60\n[journal]\npath = "journal.db"\n')
    return config


def expect_within(config: Path, name: str, seconds: float) -> None:
    """Add expect_event_within to the entry written for ``name``."""
    text = config.read_text()
    marker = f'name = "{name}"\n'
    assert marker in text
    config.write_text(text.replace(marker, f"{marker}expect_event_within = {seconds}\n"))


async def status_of(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(url + "/status") as response:
        answer: dict[str, Any] = await response.json()
        return answer


async def activity(gitlab: RunningGitLab, count: int = 1) -> None:
    await gitlab.make_activity(count, event_types=("audit_operation",), on=("acme/website",))


def tokens_in(config: Path) -> list[str]:
    return [p.read_text().strip() for p in (config.parent / "tokens").glob("*.token")]


def assert_no_token_logged(lines: list[str], tokens: list[str]) -> None:
    for token in tokens:
        assert not any(token in line for line in lines), f"a token was logged: {token[:4]}..."


async def start_receiver(config: Path, listener: socket.socket) -> ServerProcess:
    return await asyncio.to_thread(serve_held, listener, "receive", "--config", str(config))


async def test_a_token_rotated_in_gitlab_only_is_reported_and_sync_clears_it(
        gitlab: RunningGitLab, tmp_path: Path,
        held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    config = receiver_config(tmp_path, port)
    destination = await create(gitlab, config, f"http://127.0.0.1:{port}/acme", "acme-siem")
    old_tokens = tokens_in(config)
    receiver = await start_receiver(config, held_listener)
    try:
        await activity(gitlab)
        await update_in_gitlab(gitlab, destination, secretToken=NEW_TOKEN)
        await activity(gitlab, 4)
        assert [d.status for d in gitlab.deliveries.to(f"http://127.0.0.1:{port}/acme")][-4:] \
            == [401] * 4
        drift = (await status_of(receiver.url))["token_drift"]
        assert list(drift) == ["/acme"]
        assert drift["/acme"]["destinations"] == ["acme-siem"]
        await eventually(lambda: any("token drift" in line for line in receiver.stderr_lines))
        [line] = [line for line in receiver.stderr_lines if "token drift" in line]
        assert f"auditstream destinations sync --group acme --gitlab-url https://127.0.0.1 " \
               f"--config {config}" in line
        synced = await cli(gitlab, "destinations", "sync", "--group", "acme", "--config",
                           str(config))
        assert synced.returncode == 0, synced.stderr
        await eventually(lambda: any("reloaded" in line for line in receiver.stderr_lines))

        async def accepted_again() -> bool:
            await activity(gitlab)
            return gitlab.deliveries.to(f"http://127.0.0.1:{port}/acme")[-1].status == 200

        await eventually(accepted_again, within=15)
        assert (await status_of(receiver.url))["token_drift"] == {}
    finally:
        await asyncio.to_thread(receiver.terminate)
    assert_no_token_logged(receiver.stderr_lines, [*old_tokens, NEW_TOKEN])


async def test_gitlabs_circuit_breaker_is_caught_by_the_silence_alarm(
        gitlab: RunningGitLab, tmp_path: Path,
        held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    url = f"http://127.0.0.1:{port}/acme"
    config = receiver_config(tmp_path, port)
    destination = await create(gitlab, config, url, "acme-siem")
    expect_within(config, "acme-siem", 1.5)
    receiver = await start_receiver(config, held_listener)
    try:
        await activity(gitlab)
        assert gitlab.deliveries.to(url)[-1].result is Result.DELIVERED
        # Five refusals within GitLab's (scaled) 5 minutes open its breaker for (scaled) 15.
        gitlab.knobs = Knobs(circuit_breaker=True, circuit_time_scale=0.02)  # 6 s, 18 s
        await update_in_gitlab(gitlab, destination, secretToken=NEW_TOKEN)
        await activity(gitlab, 5)
        synced = await cli(gitlab, "destinations", "sync", "--group", "acme", "--config",
                           str(config))
        assert synced.returncode == 0, synced.stderr
        await eventually(lambda: any("reloaded" in line for line in receiver.stderr_lines))

        async def silent_while_gitlab_skips() -> bool:
            await activity(gitlab)
            silent: list[str] = (await status_of(receiver.url))["silent"]
            return silent == ["acme-siem"]

        await eventually(silent_while_gitlab_skips, within=15)
        assert gitlab.deliveries.to(url)[-1].result is Result.CIRCUIT_OPEN
        await eventually(lambda: any("'acme-siem' is silent" in line
                                     for line in receiver.stderr_lines))
        [warning] = [line for line in receiver.stderr_lines if "is silent" in line]
        assert "circuit breaker" in warning
    finally:
        await asyncio.to_thread(receiver.terminate)
    assert_no_token_logged(receiver.stderr_lines, [*tokens_in(config), NEW_TOKEN])


async def check(gitlab: RunningGitLab, config: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = await cli(gitlab, "destinations", "check", "--group", "acme", "--config",
                     str(config), "--output", "json", *extra)
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    return done.returncode, orjson.loads(done.stdout)


def differences(report: dict[str, Any]) -> dict[str, list[str]]:
    return {d["name"]: [x["what"] for x in d["differences"]] for d in report["destinations"]}


async def test_check_finds_each_kind_of_difference(
        gitlab: RunningGitLab, tmp_path: Path, held_listener: socket.socket) -> None:
    config = receiver_config(tmp_path, port_of(held_listener))
    base = "https://receiver.example.com"
    # GitLab allows 5 destinations a group: some differ in several ways.
    ids = {name: await create(gitlab, config, f"{base}/{name}", name)
           for name in ("same", "token", "moved", "filtered", "gone")}
    code, report = await check(gitlab, config)
    assert (code, report["agrees"]) == (0, True), report
    await update_in_gitlab(gitlab, ids["token"], secretToken=NEW_TOKEN)
    await update_in_gitlab(gitlab, ids["moved"], config={"url": f"{base}/elsewhere"},
                           active=False)
    for args in (("filters", "add", ids["filtered"], "--event-type", "audit_operation"),
                 ("filters", "add", ids["filtered"], "--namespace", "acme/website",
                  "--namespace-kind", "project"),
                 ("headers", "add", ids["filtered"], "X-Proxy-Auth", "v")):
        done = await cli(gitlab, *args, "--group", "acme")
        assert done.returncode == 0, done.stderr
    done = await cli(gitlab, "destinations", "delete", ids["gone"], "--group", "acme")
    assert done.returncode == 0, done.stderr
    await create(gitlab, tmp_path / "elsewhere.toml", f"{base}/new", "new")
    code, report = await check(gitlab, config)
    assert code == 1
    assert differences(report) == {
        "same": [], "token": ["token"], "moved": ["url", "active"],
        "filtered": ["event_type_filters", "namespace_filter", "headers"],
        "gone": ["presence"], "new": ["presence"]}
    by_name = {d["name"]: d for d in report["destinations"]}
    assert (by_name["gone"]["in_gitlab"], by_name["new"]["in_config"]) == (False, False)
    assert NEW_TOKEN not in orjson.dumps(report).decode()
    table = await cli(gitlab, "destinations", "check", "--group", "acme", "--config",
                      str(config))
    assert table.returncode == 1
    assert "token: GitLab a token the config does not hold" in table.stdout
    assert not any(token in table.stdout + table.stderr for token in tokens_in(config))


async def test_the_canary_arrives_through_a_receiver_that_is_up(
        gitlab: RunningGitLab, tmp_path: Path, held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    config = receiver_config(tmp_path, port)
    await create(gitlab, config, f"http://127.0.0.1:{port}/acme", "acme-siem")
    receiver = await start_receiver(config, held_listener)
    try:
        code, report = await check(gitlab, config, "--canary", "--canary-timeout", "20")
    finally:
        await asyncio.to_thread(receiver.terminate)
    assert code == 0, report
    [entry] = report["destinations"]
    assert entry["canary"]["arrived"] is True
    assert 0 <= entry["canary"]["seconds"] < 20
    # The header was removed again: the destination is as it was.
    code, report = await check(gitlab, config)
    assert code == 0, report


async def test_the_canary_is_missing_through_a_receiver_that_is_down(
        gitlab: RunningGitLab, tmp_path: Path,
        held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    config = receiver_config(tmp_path, port)
    await create(gitlab, config, f"http://127.0.0.1:{port}/acme", "acme-siem")
    stopped = await start_receiver(config, held_listener)  # the journal exists; nobody listens now
    assert await asyncio.to_thread(stopped.terminate, 15) == 0
    code, report = await check(gitlab, config, "--canary", "--canary-timeout", "1")
    assert code == 1
    [entry] = report["destinations"]
    assert entry["differences"] == []
    assert entry["canary"]["arrived"] is False
    assert "receiver down" in entry["canary"]["reason"]


async def test_the_canary_is_missing_through_a_filtered_destination(
        gitlab: RunningGitLab, tmp_path: Path,
        held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    config = receiver_config(tmp_path, port)
    destination = await create(gitlab, config, f"http://127.0.0.1:{port}/acme", "acme-siem")
    done = await cli(gitlab, "filters", "add", destination, "--event-type", "audit_operation",
                     "--group", "acme")
    assert done.returncode == 0, done.stderr
    text = config.read_text().replace('name = "acme-siem"\n', 'name = "acme-siem"\n'
                                      'event_type_filters = ["audit_operation"]\n')
    config.write_text(text)
    receiver = await start_receiver(config, held_listener)
    try:
        code, report = await check(gitlab, config, "--canary", "--canary-timeout", "1.5")
    finally:
        await asyncio.to_thread(receiver.terminate)
    assert code == 1
    [entry] = report["destinations"]
    assert entry["differences"] == []  # the config expects the filter: only the canary fails
    assert entry["canary"]["arrived"] is False


def test_check_with_a_config_that_cannot_be_read_says_so(tmp_path: Path) -> None:
    result = run_cli("destinations", "check", "--group", "acme", "--token", "x",
                     "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 1
    assert "cannot read config file" in result.stderr
    assert "Traceback" not in result.stderr


async def metrics_of(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as response:
        return await response.text()


async def test_the_continuous_canary_reports_its_latency_and_its_failures(
        gitlab: RunningGitLab, tmp_path: Path,
        held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    config = receiver_config(tmp_path, port)
    destination = await create(gitlab, config, f"http://127.0.0.1:{port}/acme", "acme-siem")
    owner_token = gitlab.token_for("owner")
    (tmp_path / "gitlab.token").write_text(owner_token)
    with config.open("a") as appended:
        appended.write(f'[canary]\ngitlab_url = "{gitlab.url}"\ntoken_file = "gitlab.token"\n'
                       f'group = "acme"\nevery = 1.5\nwait = 1\napi = "consolidated"\n')
    receiver = await start_receiver(config, held_listener)
    try:
        await eventually(lambda: any("canary for 'acme-siem' arrived" in line
                                     for line in receiver.stderr_lines), within=20)

        async def latency_shown() -> bool:
            return 'auditstream_canary_arrived{destination="acme-siem"} 1.0' in \
                await metrics_of(receiver.url)

        await eventually(latency_shown)
        assert 'auditstream_canary_latency_seconds{destination="acme-siem"}' in \
            await metrics_of(receiver.url)
        # A filter that keeps the canary's events out: the next rounds report it missing.
        done = await cli(gitlab, "filters", "add", destination, "--event-type",
                         "audit_operation", "--group", "acme")
        assert done.returncode == 0, done.stderr

        async def failure_counted() -> bool:
            return 'auditstream_canary_failures_total{destination="acme-siem"}' in \
                await metrics_of(receiver.url)

        await eventually(failure_counted, within=20)
        assert any("canary for 'acme-siem' missing" in line for line in receiver.stderr_lines)
    finally:
        await asyncio.to_thread(receiver.terminate)
    assert_no_token_logged(receiver.stderr_lines, [*tokens_in(config), owner_token])


def test_a_canary_without_a_group_or_instance_is_refused_with_its_key(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("stream-token-0123456789")
    config = tmp_path / "c.toml"
    config.write_text('[receiver]\n[[receiver.destinations]]\nname = "a"\ntoken_file = "t"\n'
                      '[canary]\ngitlab_url = "https://gitlab.example.com"\n'
                      'token_file = "t"\nevery = "30m"\n')
    result = run_cli("receive", "--config", str(config))
    assert result.returncode == 2
    assert "canary.group: give exactly one of group = PATH and instance = true" in result.stderr
