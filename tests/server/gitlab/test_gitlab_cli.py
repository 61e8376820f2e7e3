"""``auditstream serve gitlab`` as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from auditstream.server.gitlab import DEFAULT_SEED
from tests.processes import ServerProcess, run_cli
from tests.server.gitlab import operations as ops
from tests.server.gitlab.conftest import Collector
from tests.waiting import eventually

OWNER = DEFAULT_SEED.token_for("owner")

pytestmark = pytest.mark.slow


async def test_serve_gitlab_prints_tokens_manages_destinations_and_streams(
        collector: Collector) -> None:
    server = ServerProcess("serve", "gitlab", "--listen", "127.0.0.1:0",
                           "--delivery-timeout", "2", ready_timeout=20)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            created = await _graphql(session, server.url, ops.CREATE, {"input": {
                "groupPath": "acme", "destinationUrl": collector.url_for("acme")}})
            destination = created["data"]["externalAuditEventDestinationCreate"][
                "externalAuditEventDestination"]
            async with session.post(f"{server.url}/_stand-in/activity", json={
                    "count": 2, "on": ["acme/website"]}) as response:
                assert response.status == 201
        assert server.terminate(timeout=10) == 0
    finally:
        server.kill()
    assert [a.event["event_type"] for a in collector.to("acme")] == [
        "create_event_streaming_destination", "repository_git_operation",
        "merge_request_create"]
    assert {a.headers["X-Gitlab-Event-Streaming-Token"] for a in collector.arrivals} == {
        destination["verificationToken"]}
    assert "Traceback" not in server.stderr


def test_the_demo_seed_users_are_printed_with_tokens_and_roles() -> None:
    server = ServerProcess("serve", "gitlab", "--listen", "127.0.0.1:0", ready_timeout=20)
    try:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
        assert server.process.stdout is not None
        printed = server.process.stdout.read()
    finally:
        server.kill()
    for user in DEFAULT_SEED.users:
        assert user.token in printed
    assert "owner of acme" in printed
    assert "administrator" in printed


async def test_a_seed_file_with_a_destination_and_activity_at_start(
        tmp_path: Path, collector: Collector) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text(f"""
[[users]]
username = "root"
token = "cli-root-token-000000"
admin = true

[[groups]]
path = "corp"

[[projects]]
path = "corp/app"

[[destinations]]
url = "{collector.url_for('all')}"
token = "cli-seeded-token-0001"
""")
    server = ServerProcess("serve", "gitlab", "--listen", "127.0.0.1:0", "--seed", str(seed),
                           "--activity", "3", "--event-type", "audit_operation", "--on",
                           "corp/app", ready_timeout=20)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await eventually(lambda: len(collector.to("all")) == 3)
            async with session.get(f"{server.url}/_stand-in/deliveries") as response:
                deliveries = (await response.json())["deliveries"]
        assert server.terminate(timeout=10) == 0
    finally:
        server.kill()
    assert [d["event_type"] for d in deliveries] == ["audit_operation"] * 3
    assert {a.headers["X-Gitlab-Event-Streaming-Token"] for a in collector.arrivals} == {
        "cli-seeded-token-0001"}
    assert "cli-root-token-000000" not in server.stderr


async def test_strict_urls_refuses_loopback_as_gitlab_does() -> None:
    server = ServerProcess("serve", "gitlab", "--listen", "127.0.0.1:0", "--strict-urls",
                           ready_timeout=20)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            refused = await _graphql(session, server.url, ops.CREATE, {"input": {
                "groupPath": "acme", "destinationUrl": "http://127.0.0.1:9/x"}})
        assert server.terminate(timeout=10) == 0
    finally:
        server.kill()
    assert refused["data"]["externalAuditEventDestinationCreate"]["errors"] == [
        "Destination url is blocked: Requests to localhost are not allowed"]


@pytest.mark.parametrize(("args", "words"), [
    (["--listen", "nowhere"], "--listen"),
    (["--seed", "/nonexistent/seed.toml"], "cannot read seed file"),
    (["--knobs", "{"], "--knobs: not JSON"),
    (["--knobs", '{"drop_rate": 3}'], "drop_rate"),
    (["--event-type", "nothing"], "--event-type: unknown type 'nothing'"),
    (["--on", "nowhere"], "--on: no group or project 'nowhere'"),
    (["--delivery-timeout", "0"], "--delivery-timeout"),
])
def test_a_bad_option_is_a_usage_error_naming_it(args: list[str], words: str) -> None:
    result = run_cli("serve", "gitlab", "--listen", "127.0.0.1:0", *args, timeout=20)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_port_already_taken_is_a_clean_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "gitlab", "--listen", f"127.0.0.1:{port}", timeout=20)
    assert result.returncode == 1
    assert "cannot serve on" in result.stderr
    assert "Traceback" not in result.stderr


async def _graphql(session: aiohttp.ClientSession, url: str, document: str,
                   variables: dict[str, object], token: str = OWNER) -> Any:
    async with session.post(f"{url}/api/graphql", json={"query": document,
                                                        "variables": variables},
                            headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
        return await response.json()
