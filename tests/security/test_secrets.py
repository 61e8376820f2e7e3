"""Tokens are compared in constant time and never logged.

The log test runs a whole `auditstream run` at debug level against the GitLab and HEC
stand-ins, with a token rotation under way, wrong and partial tokens knocking, a sink whose
token is wrong (paused, loudly) and sink faults causing retries, then scans every line it
wrote for every secret used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import socket
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.receiver.auth import TokenVerifier
from auditstream.server.gitlab import DEFAULT_SEED, GitLabConfig, running_gitlab
from auditstream.server.gitlab.seed import SeedDestination
from auditstream.server.hec import running_hec
from tests.conftest import destination
from tests.helpers.metrics import sample_in
from tests.helpers.ports import port_of
from tests.processes import serve_held
from tests.waiting import eventually

NEW_TOKEN = "new-stream-token-4f8a2c"
OLD_TOKEN = "old-stream-token-9d1e7b"
BAD_HEC_TOKEN = "wrong-hec-token-5c3b1a9e"


def test_every_candidate_is_compared_as_a_fixed_size_digest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The work done for a token never depends on it: the same number of comparisons of
    32-byte digests for a wrong token, a right one, or one right but for its last letter."""
    verifier = TokenVerifier([destination("a", "token-a-0123456789ab"),
                              destination("b", "token-b-0123456789ab",
                                          previous_token="token-b-old-456789ab"),
                              destination("c", "token-c-0123456789ab")])
    calls: list[tuple[int, int]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    shapes = []
    for presented in ("token-a-0123456789ab", "token-c-0123456789ab", "token-c-0123456789aX",
                      "x", "token-b-old-456789ab" * 50, ""):
        calls.clear()
        verifier.destination_for("/", presented)
        shapes.append(list(calls))
    assert all(shape == [(32, 32)] * 4 for shape in shapes), shapes
    assert verifier.destination_for("/", "token-c-0123456789ab") is not None


@pytest.mark.slow
async def test_a_full_run_at_debug_level_logs_no_secret(
        tmp_path: Path, held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    seed = dataclasses.replace(DEFAULT_SEED, destinations=(SeedDestination(
        url=f"http://127.0.0.1:{port}/gitlab", group="acme", token=NEW_TOKEN),))
    async with running_hec() as hec, running_gitlab(seed, GitLabConfig()) as gitlab:
        config = tmp_path / "auditstream.toml"
        config.write_text(f"""
[receiver]
listen = "127.0.0.1:{port}"
[[receiver.destinations]]
name = "acme"
token_env = ["NEW_TOKEN", "OLD_TOKEN"]
path = "/gitlab"
[journal]
path = "journal.db"
[relay]
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.2
pause_retry_seconds = 0.2
[[sinks]]
name = "splunk"
url = "{hec.url}"
token_env = "HEC_TOKEN"
[[sinks]]
name = "misconfigured"
url = "{hec.url}"
token_env = "BAD_HEC_TOKEN"
""")
        secrets = {"NEW_TOKEN": NEW_TOKEN, "OLD_TOKEN": OLD_TOKEN, "HEC_TOKEN": hec.token,
                   "BAD_HEC_TOKEN": BAD_HEC_TOKEN}
        hec.faults.busy(next=2, retry_after=0)
        hec.faults.reset(next=2)
        process = await asyncio.to_thread(serve_held, held_listener, "--log-level", "debug",
                                          "run", "--config", str(config), env=secrets)
        presented = [NEW_TOKEN[:-1], NEW_TOKEN + "x", NEW_TOKEN.upper(), OLD_TOKEN[:12],
                     "glpat-" + NEW_TOKEN]
        try:
            await gitlab.make_activity(20, on=("acme/website",))
            async with aiohttp.ClientSession() as session:
                for number, token in enumerate([*presented, OLD_TOKEN]):
                    async with session.post(
                            process.url + "/gitlab", headers={
                                "X-Gitlab-Event-Streaming-Token": token},
                            data=orjson.dumps({"id": f"probe-{number}"})) as response:
                        assert response.status == (200 if token == OLD_TOKEN else 401)
            await hec.received.wait_until(lambda: len(hec.received.count_by()) >= 21,
                                          within=30)
            # The misconfigured sink pauses on its first answer, which may come after the good
            # sink has everything: stop only once it has, or its log line may never be written.
            # (Not /readyz: it fails as soon as the start-up check finds the token refused,
            # which can be before the pipeline's first attempt.)
            await eventually(lambda: _sink_paused(process.url, "misconfigured"), within=30)
            assert await asyncio.to_thread(process.terminate) == 0
        finally:
            await asyncio.to_thread(process.kill)
    logged = process.stderr
    assert len(logged.splitlines()) > 20, logged  # debug level: there is plenty to scan
    assert "sink paused" in logged  # the wrong HEC token was reported, by name only
    for secret in [*secrets.values(), *presented]:
        for form in (secret, secret.strip(), hashlib.sha256(secret.encode()).hexdigest()):
            assert form not in logged, f"a secret ({secret[:4]}...) is in the log"


async def _sink_paused(url: str, sink: str) -> bool:
    """The pipeline paused (its state metric, set right after the pause is logged)."""
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        text = await response.text()
    return sample_in(text, "auditstream_relay_sink_state", sink=sink, state="paused") == 1.0


def test_a_destination_from_gitlab_never_shows_its_token_in_a_repr() -> None:
    from auditstream.client.models import Destination

    destination = Destination(id="gid://gitlab/x/1", name="siem", url="https://r.example.com",
                              verification_token="destination-token-0123456789",
                              event_type_filters=(), headers=(), scope="group:acme")
    assert "destination-token-0123456789" not in repr(destination)
    assert "destination-token-0123456789" not in str(destination)
