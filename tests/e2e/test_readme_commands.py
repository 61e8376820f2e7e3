"""Every command the README shows runs as written, against the stand-ins.

The README's ``sh`` blocks and its inline ``auditstream ...`` commands are read in order and
run as real ``auditstream`` subprocesses in one working directory, so each sees what the ones
before it left (the config file ``destinations create --write-config`` wrote, the journal).
Only addresses and secrets are replaced: GitLab, Splunk and the receiver's public URL point at
the stand-ins and a free loopback port, ``glpat-...`` and ``SPLUNK_HEC_TOKEN=...`` become the
stand-ins' tokens. Commands that keep running (run, receive, relay, serve, demo
--keep-running) are started, checked to answer, and stopped with SIGTERM (exit 0).

What cannot run here is listed below with the reason, command by command: a command the README
gains is run, or this test fails until it is listed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from auditstream.receiver.connections import reserve
from tests.helpers.ports import LOOPBACK, held_again, port_of
from tests.processes import AUDITSTREAM, ServerProcess

ROOT = Path(__file__).resolve().parent.parent.parent
README = ROOT / "README.md"

BUILDS_THE_ENVIRONMENT = ("makes the environment this test runs in; "
                          "tests/e2e/test_installed_wheel.py installs the wheel in a fresh one")
NEEDS_ROOT = ("needs root, a system user and systemd; tests/test_service_files.py parses the "
              "unit and runs systemd-analyze verify")
NEEDS_DOCKER = ("needs a Docker daemon; tests/test_service_files.py checks what the "
                "Dockerfile runs")
BENCHMARK = "a benchmark: minutes of full load on every core, never part of the tests"
NOT_RUN = {
    "python3 -m venv .venv": BUILDS_THE_ENVIRONMENT,
    ".venv/bin/pip install .": BUILDS_THE_ENVIRONMENT,
    ".venv/bin/pip install -e '.[test]' --config-settings editable_mode=strict":
        BUILDS_THE_ENVIRONMENT,
    "pip install -e": BUILDS_THE_ENVIRONMENT,
    ".venv/bin/python -m pytest": "the test suite itself, this test included",
    ".ci/run": "CI itself: the test suite, ruff and mypy",
    "sudo useradd --system --home-dir /var/lib/auditstream --shell /usr/sbin/nologin "
    "auditstream": NEEDS_ROOT,
    "sudo python3 -m venv /opt/auditstream": NEEDS_ROOT,
    "sudo /opt/auditstream/bin/pip install .": NEEDS_ROOT,
    "sudo install -d -m 0700 --owner=auditstream --group=auditstream /var/lib/auditstream":
        NEEDS_ROOT,
    "sudo -u auditstream GITLAB_URL=https://gitlab.example.com GITLAB_TOKEN=glpat-... "
    "/opt/auditstream/bin/auditstream destinations create --group acme "
    "--url https://audit.example.com/acme "
    "--write-config /var/lib/auditstream/auditstream.toml": NEEDS_ROOT,
    "sudo install -m 0644 docs/auditstream.socket docs/auditstream.service /etc/systemd/system/":
        NEEDS_ROOT,
    "sudo systemctl daemon-reload": NEEDS_ROOT,
    "systemctl reload auditstream": NEEDS_ROOT,
    "sudo systemctl enable --now auditstream": NEEDS_ROOT,
    "docker build -t auditstream .": NEEDS_DOCKER,
    "docker run --rm -v auditstream:/var/lib/auditstream -e GITLAB_URL=https://gitlab.example.com"
    " -e GITLAB_TOKEN=glpat-... auditstream destinations create --group acme "
    "--url https://audit.example.com/acme "
    "--write-config /var/lib/auditstream/auditstream.toml": NEEDS_DOCKER,
    "docker run -d --restart on-failure --stop-timeout 30 --name auditstream -p 8080:8080 "
    "-v auditstream:/var/lib/auditstream -e SPLUNK_HEC_TOKEN auditstream": NEEDS_DOCKER,
    "python -m bench.receiver_bench --rev HEAD": BENCHMARK,
    "auditstream destinations check --group acme --config auditstream.toml --canary":
        "needs a receiver up while it waits for its canary, and this walk-through's filter "
        "examples (rightly) make it exit 1; tests/e2e/test_still_streaming.py runs it against "
        "a running receiver, agreeing and differing",
    "python -m bench.receiver_bench --rev HEAD --prefill-ids 10000000": BENCHMARK,
    "python -m bench.relay_bench --rev HEAD": BENCHMARK,
    "python -m bench.redis_bench": BENCHMARK,
}
# Inline mentions that name a command in a sentence rather than show one to type; each runs
# in full elsewhere in the README.
NAMES = {
    "auditstream run": "named in prose; `auditstream run --config auditstream.toml` runs",
    "auditstream serve gitlab": "named in prose; the Commands section's one runs",
    "auditstream serve hec": "named in prose; the Commands section's one runs",
}
LONG_RUNNING = {"run", "receive", "relay", "serve"}
COMMAND = re.compile(r"^(auditstream [a-z]|\.venv/bin/|\.ci/|python3? |pip |sudo |docker "
                     r"|systemctl )")
READY = re.compile(r"listening on (http://\S+)|relay running|^Ctrl-C to stop")
HEC_TOKEN = "readme-hec-token-0123456789"


def readme_commands() -> Iterator[str]:
    """Each command of the README's sh blocks and inline code, in the README's order."""
    text = README.read_text()
    for match in re.finditer(r"```(\w*)\n(.*?)```|`([^`]+)`", text, re.S):
        language, block, span = match.groups()
        if span is not None:
            span = " ".join(span.split())
            if COMMAND.match(span):
                yield span
        elif language == "sh":
            for line in block.replace("\\\n", " ").splitlines():
                for command in line.split(" && "):
                    if command.strip():
                        yield " ".join(command.split())


@dataclass
class Session:
    """The shell the README's commands run in: one directory, exported variables."""

    cwd: Path
    gitlab_url: str
    owner_token: str
    hec_url: str
    receiver_socket: socket.socket  # held all along; served by run and receive (fd:N)
    env: dict[str, str] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    @property
    def receiver_port(self) -> int:
        return port_of(self.receiver_socket)

    def substitute(self, command: str) -> str:
        """Addresses and secrets for the stand-ins'; nothing else changes."""
        ports = {"8080": str(self.receiver_port), "3000": "0", "8088": "0"}
        for port in re.findall(r"127\.0\.0\.1:(\d+)", command):
            assert port in ports, f"README uses 127.0.0.1:{port}; map it here"
        command = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: "127.0.0.1:" + ports[m[1]], command)
        for example, here in (
                ("https://gitlab.example.com", self.gitlab_url),
                ("glpat-...", self.owner_token),
                ("https://audit.example.com", f"http://127.0.0.1:{self.receiver_port}"),
                ("https://splunk.example.com:8088", self.hec_url),
                ("SPLUNK_HEC_TOKEN=...", f"SPLUNK_HEC_TOKEN={HEC_TOKEN}")):
            command = command.replace(example, here)
        return command

    def run(self, command: str) -> None:
        words = shlex.split(self.substitute(command))
        if words[0] == "export":
            self.env.update(word.split("=", 1) for word in words[1:])  # type: ignore[misc]
            return
        env = dict(self.env)
        while "=" in words[0]:
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        assert words[0] in ("auditstream", ".venv/bin/auditstream"), (
            f"{command!r}: not an auditstream command; run it here or list it in NOT_RUN")
        argv = [AUDITSTREAM, *words[1:]]
        if words[1] in LONG_RUNNING or (words[1] == "demo" and "--keep-running" in words):
            self.run_until_stopped(argv, env, command)
        else:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                    env={**os.environ, **env}, cwd=self.cwd, check=False)
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        self.ran.append(command)
        if "--write-config auditstream.toml" in command:
            text = (self.cwd / "auditstream.toml").read_text()
            assert f'listen = "0.0.0.0:{self.receiver_port}"' in text
            assert 'path = "auditstream.db"' in text
        self.config_listens_on_loopback()

    def run_until_stopped(self, argv: list[str], env: dict[str, str], command: str) -> None:
        receives = argv[1] in ("run", "receive")
        if receives:  # on the held socket, in place of the address the command names
            argv = [*argv, "--listen", f"fd:{self.receiver_socket.fileno()}"]
        with Started(argv, {**os.environ, **env}, self.cwd,
                     (self.receiver_socket.fileno(),) if receives else ()) as started:
            assert started.ready.wait(60), f"{command}: not ready in time\n{started.output}"
            self.check_it_answers(argv[1], started.stdout, started.process)
            if argv[1] in ("run", "receive") and "--config" in argv:
                self.check_gitlab_streams_to_it()
            if argv[1] == "run" and "--hec-url" in argv:
                self.wait_for_events_at_the_sink()
            started.process.send_signal(signal.SIGTERM)
            code = started.process.wait(60)
            assert code == 0, f"{command}: exit {code}\n{started.output}"
        if receives:
            self.receiver_socket = held_again(self.receiver_socket)

    def check_it_answers(self, subcommand: str, lines: list[str],
                         process: subprocess.Popen[str]) -> None:
        urls = re.findall(r"http://127\.0\.0\.1:\d+", "".join(lines))
        if subcommand == "relay" and not urls:  # no --listen: nothing to ask, but it runs
            assert process.poll() is None
            return
        path = "/healthz" if subcommand in ("run", "receive", "relay") else "/_stand-in/"
        assert _get(urls[0] + path)[0] == 200

    def check_gitlab_streams_to_it(self) -> None:
        """GitLab's events reach the receiver the config describes (within the filters the
        README sets: git operations under acme/platform)."""
        def delivered() -> int:
            found: list[dict[str, Any]] = _get(
                self.gitlab_url + "/_stand-in/deliveries")[1]["deliveries"]
            return sum(1 for d in found if d["url"].startswith(f"http://127.0.0.1:{self.receiver_port}/")
                       and d["result"] == "delivered")

        before = delivered()
        activity = {"count": 3, "event_types": ["repository_git_operation"],
                    "on": ["acme/platform/api"], "wait": True}
        request = urllib.request.Request(  # noqa: S310 (the stand-in, on loopback)
            self.gitlab_url + "/_stand-in/activity", data=json.dumps(activity).encode(),
            method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
            assert answer.status == 201
        assert delivered() == before + 3

    def wait_for_events_at_the_sink(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _get(self.hec_url + "/_stand-in/received")[1]["envelopes"]:
                return
            time.sleep(0.2)
        raise AssertionError("no event reached the HEC stand-in")

    def config_listens_on_loopback(self) -> None:
        """The written config listens on every interface, as it should for GitLab to reach
        it; here the tests keep to loopback."""
        config = self.cwd / "auditstream.toml"
        if config.exists():
            text = config.read_text()
            config.write_text(text.replace(f'"0.0.0.0:{self.receiver_port}"',
                                           f'"127.0.0.1:{self.receiver_port}"'))


class Started:
    """A long-running command; its output read all along (a full pipe would stall it)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path,
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=env, cwd=cwd, pass_fds=pass_fds)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.ready = threading.Event()
        self._readers = [threading.Thread(target=self._read, args=(pipe, lines), daemon=True)
                         for pipe, lines in ((self.process.stdout, self.stdout),
                                             (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    def _read(self, pipe: Any, lines: list[str]) -> None:
        for line in pipe:
            lines.append(line)
            if lines is self.stdout and READY.search(line):
                self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "\n" + "".join(self.stderr)

    def __enter__(self) -> Started:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for reader in self._readers:
            reader.join(5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _get(url: str) -> tuple[int, dict[str, Any]]:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback http)
        body = answer.read()
        return answer.status, json.loads(body) if body.startswith((b"{", b"[")) else {}


def test_every_command_not_run_is_still_in_the_readme() -> None:
    shown = set(readme_commands())
    assert sorted(set(NOT_RUN) - shown) == []
    assert sorted(set(NAMES) - shown) == []


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_every_command_the_readme_shows_runs_against_the_stand_ins(tmp_path: Path) -> None:
    with ServerProcess("serve", "gitlab", "--listen", "127.0.0.1:0") as gitlab, \
            ServerProcess("serve", "hec", "--listen", "127.0.0.1:0", "--token-env",
                          "HEC_TOKEN", "--ack", env={"HEC_TOKEN": HEC_TOKEN}) as hec:
        seed = _get(gitlab.url + "/_stand-in/seed")[1]
        owner = next(u for u in seed["users"] if u["username"] == "owner")
        session = Session(cwd=tmp_path, gitlab_url=gitlab.url, owner_token=owner["token"],
                          hec_url=hec.url, receiver_socket=reserve(LOOPBACK, 0))
        try:
            for command in readme_commands():
                if command not in NOT_RUN and command not in NAMES:
                    session.run(command)
        finally:
            session.receiver_socket.close()
    print("\n".join(session.ran))
    assert len(session.ran) >= 20, session.ran
    assert any(c.startswith("auditstream destinations create") for c in session.ran)
    assert any(c.startswith("auditstream headers add") for c in session.ran)
