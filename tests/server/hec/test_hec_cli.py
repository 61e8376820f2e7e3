"""``auditstream serve hec`` as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from tests.processes import ServerProcess, run_cli

TOKEN = "cli-hec-token-5e1f0c2a"
ENV = {"HEC_TOKEN": TOKEN}
CHANNEL = "0f2b7c1e-6d8a-4b1c-9e3f-5a7d2c4b6e80"


async def test_serve_hec_prints_its_url_takes_an_event_and_exits_zero_on_sigterm() -> None:
    server = ServerProcess("serve", "hec", "--listen", "127.0.0.1:0", "--token-env",
                           "HEC_TOKEN", "--ack", "--index", "audit", "--index", "main",
                           env=ENV, ready_timeout=20)
    try:
        headers = {"Authorization": f"Splunk {TOKEN}", "X-Splunk-Request-Channel": CHANNEL}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.post(f"{server.url}/services/collector/event",
                                    data=b'{"event":{"id":1}}{"event":{"id":2}}',
                                    headers=headers) as response:
                assert (response.status, await response.json()) == (
                    200, {"text": "Success", "code": 0, "ackId": 0})
            async with session.post(f"{server.url}/services/collector/event",
                                    data=b'{"event":3,"index":"other"}',
                                    headers=headers) as response:
                assert (await response.json())["code"] == 7
            async with session.get(f"{server.url}/_stand-in/received") as response:
                received = await response.json()
        assert [e["index"] for e in received["envelopes"]] == ["audit", "audit"]
        assert server.terminate(timeout=10) == 0
    finally:
        server.kill()
    assert TOKEN not in server.stderr
    assert "Traceback" not in server.stderr


@pytest.mark.parametrize(("args", "env", "words"), [
    (["--listen", "nowhere"], ENV, "--listen"),
    ([], {}, "--token-env"),
    (["--token-env", "HEC_TOKEN_UNSET_FOR_TEST"], {}, "HEC_TOKEN_UNSET_FOR_TEST"),
    (["--index", " "], ENV, "--index"),
    (["--max-content-length", "0"], ENV, "--max-content-length"),
])
def test_bad_option_is_a_usage_error_naming_it(args: list[str], env: dict[str, str],
                                               words: str) -> None:
    token = ["--token-env", "HEC_TOKEN"] if env and "--token-env" not in args else []
    result = run_cli("serve", "hec", "--listen", "127.0.0.1:0", *token, *args, env=env,
                     timeout=20)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_port_already_taken_is_a_clean_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "hec", "--listen", f"127.0.0.1:{port}", "--token-env",
                         "HEC_TOKEN", env=ENV, timeout=20)
    assert result.returncode == 1
    assert "cannot serve on" in result.stderr
    assert "Traceback" not in result.stderr
