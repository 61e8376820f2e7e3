"""How the parts start and change, as a user runs them: real processes, real sockets.

The receiver listens before anything that is not its own journal (GitLab never retries: an
event sent while a sink's check hangs is gone); each command reads only the secrets of the
parts it runs; destinations and tokens change without a restart.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import ServerProcess, run_cli
from tests.waiting import eventually

TOKEN = "startup-token-0123456789"
OTHER_TOKEN = "startup-other-token-98765"


def post(url: str, token: str, event_id: int) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 (a loopback server the test started)
        url, data=json.dumps({"id": event_id}).encode(),
        headers={"X-Gitlab-Event-Streaming-Token": token,
                 "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status), json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.fixture
def silent_sink() -> Iterator[str]:
    """A sink URL whose server takes connections (the kernel's backlog) and never answers,
    as a Splunk that hangs at start-up does."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_the_receiver_takes_events_while_a_sinks_check_hangs(tmp_path: Path,
                                                             silent_sink: str) -> None:
    env = {"STREAM_TOKEN": TOKEN, "HEC_TOKEN": "hec-token-for-a-silent-sink"}
    with ServerProcess("run", "--listen", "127.0.0.1:0", "--journal", str(tmp_path / "j.db"),
                       "--token-env", "STREAM_TOKEN", "--hec-url", silent_sink,
                       "--hec-token-env", "HEC_TOKEN", env=env) as run:
        assert post(run.url, TOKEN, 1) == (200, {"accepted": 1, "duplicates": 0})
        # The check cannot have finished: the sink has not answered anything yet.
        assert "sink hec" not in run.stderr
        # Stopping does not wait for the check either (it would take the sink's timeout);
        # terminate() fails the test if the process is not gone within its bound.
        assert run.terminate(timeout=15) == 0


def _config(tmp_path: Path, destinations: str, extra: str = "") -> Path:
    config = tmp_path / "auditstream.toml"
    config.write_text('[receiver]\nlisten = "127.0.0.1:0"\n[journal]\npath = "j.db"\n'
                      + destinations + extra)
    return config


ACME = '[[receiver.destinations]]\nname = "acme"\ntoken_env = "STREAM_TOKEN"\n'
OTHER = ('[[receiver.destinations]]\nname = "other"\ntoken_file = "other.token"\n'
         'path = "/other"\n')
HEC_SINK = ('[[sinks]]\nname = "splunk"\ntype = "hec"\nurl = "http://127.0.0.1:9"\n'
            'token_env = "SPLUNK_HEC_TOKEN_NOT_HERE"\n')


def test_receive_needs_no_sink_secret_and_names_no_sink(tmp_path: Path) -> None:
    config = _config(tmp_path, ACME, HEC_SINK)
    with ServerProcess("receive", "--config", str(config), env={"STREAM_TOKEN": TOKEN}) as rx:
        assert post(rx.url, TOKEN, 1)[0] == 200
        assert rx.terminate() == 0
    assert "splunk" not in rx.stderr


def test_relay_needs_no_destination_secret(tmp_path: Path) -> None:
    config = _config(tmp_path, ACME,
                     '[[sinks]]\nname = "archive"\ntype = "file"\npath = "out.jsonl"\n')
    # STREAM_TOKEN is not set: the relay never reads it.
    env = {k: v for k, v in os.environ.items() if k != "STREAM_TOKEN"}
    with ServerProcess("relay", "--config", str(config), "--listen", "127.0.0.1:0",
                       env=env) as relay:
        assert relay.terminate() == 0


def test_the_relays_settings_are_checked_even_without_sinks(tmp_path: Path) -> None:
    config = _config(tmp_path, ACME, "[relay]\nmax_requests_in_flight = 0\n")
    result = run_cli("receive", "--config", str(config), env={"STREAM_TOKEN": TOKEN})
    assert result.returncode == 2
    assert "relay.max_requests_in_flight: must be a whole number of at least 1" in result.stderr


def test_a_receivers_secrets_form_is_still_checked_by_the_relay(tmp_path: Path) -> None:
    config = _config(tmp_path, '[[receiver.destinations]]\nname = "acme"\n',
                     '[[sinks]]\nname = "archive"\ntype = "file"\npath = "out.jsonl"\n')
    result = run_cli("relay", "--config", str(config))
    assert result.returncode == 2
    assert "a destination needs token_env or token_file" in result.stderr


async def test_sighup_adds_a_destination_without_dropping_the_running_one(tmp_path: Path) -> None:
    config = _config(tmp_path, ACME)
    (tmp_path / "other.token").write_text(OTHER_TOKEN + "\n")
    with ServerProcess("receive", "--config", str(config), env={"STREAM_TOKEN": TOKEN}) as rx:
        assert post(rx.url + "/other", OTHER_TOKEN, 1)[0] == 401
        config.write_text(config.read_text() + OTHER)
        rx.process.send_signal(signal.SIGHUP)
        await eventually(lambda: "reloaded (SIGHUP): destinations acme, other" in rx.stderr)
        assert post(rx.url + "/other", OTHER_TOKEN, 2)[0] == 200
        assert post(rx.url, TOKEN, 3)[0] == 200
        assert rx.terminate() == 0


async def test_a_broken_file_keeps_the_running_settings_and_says_why(tmp_path: Path) -> None:
    config = _config(tmp_path, ACME)
    with ServerProcess("receive", "--config", str(config), env={"STREAM_TOKEN": TOKEN}) as rx:
        config.write_text(config.read_text() + "[[receiver.destinations]]\nname = 5\n")
        rx.process.send_signal(signal.SIGHUP)
        # The file watch may see the change before the signal arrives: either says why.
        await eventually(lambda: "failed, keeping the running settings" in rx.stderr)
        assert "receiver.destinations[1]" in rx.stderr
        assert post(rx.url, TOKEN, 1)[0] == 200
        assert rx.terminate() == 0


async def test_a_changed_config_file_is_taken_without_a_signal(tmp_path: Path) -> None:
    """As after 'destinations create --write-config': the file changes, nobody signals."""
    config = _config(tmp_path, ACME)
    (tmp_path / "other.token").write_text(OTHER_TOKEN + "\n")
    with ServerProcess("receive", "--config", str(config), env={"STREAM_TOKEN": TOKEN}) as rx:
        staged = tmp_path / "staged.toml"
        staged.write_text(config.read_text() + OTHER)
        os.replace(staged, config)  # as the config writer saves: whole, at once
        await eventually(lambda: "reloaded (a watched file changed)" in rx.stderr, within=20)
        assert post(rx.url + "/other", OTHER_TOKEN, 1)[0] == 200
        assert rx.terminate() == 0
    assert OTHER_TOKEN not in rx.stderr
    assert TOKEN not in rx.stderr
