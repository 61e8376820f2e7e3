"""The whole flow as a user runs it: CLI commands and `auditstream run` as real processes,
the GitLab and HEC stand-ins in the test's process, everything on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import tomlkit

from auditstream.journal import JournalConfig, open_journal_readonly
from auditstream.server.gitlab import GitLabConfig, RunningGitLab, running_gitlab
from auditstream.server.gitlab.deliveries import Result
from auditstream.server.gitlab.streaming import Knobs
from auditstream.server.hec import HecConfig, HecToken, RunningHec, running_hec
from tests.helpers.ports import held_port, port_of
from tests.processes import ServerProcess, run_cli, serve_held
from tests.waiting import eventually

HEC_TOKEN = "e2e-hec-token-0000-4000-8000-000000000001"


@dataclass(slots=True)
class Flow:
    """GitLab, a HEC sink, and a receiver URL that a destination will point at.

    ``listener`` holds the receiver's port from the start; the first ``start`` hands it to
    ``auditstream run``. A later ``start`` (after an outage, which is what those tests are
    about) binds the same port again by the config's ``listen``."""

    gitlab: RunningGitLab
    hec: RunningHec
    workdir: Path
    port: int
    listener: socket.socket | None

    @property
    def receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/acme"

    @property
    def config(self) -> Path:
        return self.workdir / "auditstream.toml"

    async def cli(self, *args: str, user: str = "owner") -> subprocess.CompletedProcess[str]:
        env = {"GITLAB_URL": self.gitlab.url, "GITLAB_TOKEN": self.gitlab.token_for(user)}
        result = await asyncio.to_thread(run_cli, *args, env=env)
        assert result.returncode == 0, result.stderr
        return result

    async def create_destination(self, *extra: str) -> str:
        """``destinations create --write-config`` as a user runs it; the new destination's id."""
        result = await self.cli("destinations", "create", "--group", "acme", "--url",
                                self.receiver_url, "--name", "siem", "--output", "json",
                                "--write-config", str(self.config), *extra)
        [created] = orjson.loads(result.stdout)
        return str(created["id"])

    def add_sink_and_journal(self) -> None:
        """What an operator adds by hand next to the destinations the CLI wrote."""
        document = tomlkit.parse(self.config.read_text())
        document["receiver"]["listen"] = self.receiver_url.split("/")[2]
        document["journal"] = {"path": "journal.db"}
        document["relay"] = {"backoff_base_seconds": 0.1, "backoff_cap_seconds": 0.5}
        sinks = tomlkit.aot()
        sinks.append(tomlkit.item({"name": "splunk", "type": "hec", "url": self.hec.url,
                                   "token_env": "HEC_TOKEN", "index": "main",
                                   "batch_max_wait_seconds": 0.1}))
        document["sinks"] = sinks
        self.config.write_text(tomlkit.dumps(document))

    async def start_run(self) -> ServerProcess:
        return await self.start("run", "--config", str(self.config),
                                env={"HEC_TOKEN": HEC_TOKEN})

    async def start(self, *args: str, env: dict[str, str]) -> ServerProcess:
        """``auditstream *args`` on the receiver's port: on the held socket the first time."""
        listener, self.listener = self.listener, None
        if listener is None:
            return await asyncio.to_thread(ServerProcess, *args, env=env)
        return await asyncio.to_thread(serve_held, listener, *args, env=env)

    def answered_200(self) -> list[str]:
        """Event ids GitLab delivered to the receiver and that were answered 200."""
        return [d.event_id for d in self.gitlab.deliveries.to(self.receiver_url)
                if d.result is Result.DELIVERED]

    def at_sink(self) -> list[str]:
        return [str(e.fields.get("event_id")) for e in self.hec.received.envelopes]

    async def wait_for_sink(self, ids: set[str] | None = None, within: float = 30) -> None:
        """Until ``ids`` (default: every event answered 200) are all at the sink."""
        await self.gitlab.settle()
        wanted = set(self.answered_200()) if ids is None else ids
        await self.hec.received.wait_until(lambda: wanted <= set(self.at_sink()), within=within)

    async def wait_for_relay_to_catch_up(self, within: float = 30) -> None:
        """Until GitLab has nothing in flight and the relay has confirmed every event the
        journal holds: from then on nothing more can reach the sink, so what is there is
        all that ever will be (the proof a test of "nothing extra arrived" waits for)."""
        await self.gitlab.settle()
        config = JournalConfig(path=self.workdir / "journal.db")

        async def caught_up() -> bool:
            journal = await open_journal_readonly(config)
            try:
                sinks = (await journal.stats()).sinks
            finally:
                await journal.close()
            return bool(sinks) and all(s.backlog == 0 and not s.pending for s in sinks)

        await eventually(caught_up, within=within)


@pytest.fixture
def knobs() -> Knobs:
    """Override in a test module for GitLab's duplicates and re-sends."""
    return Knobs()


@pytest.fixture
async def flow(tmp_path: Path, knobs: Knobs) -> AsyncIterator[Flow]:
    async with running_gitlab(config=GitLabConfig(knobs=knobs, activity_seed=11)) as gitlab, \
            running_hec(HecConfig(tokens=(HecToken(HEC_TOKEN),))) as hec:
        with held_port() as held:
            yield Flow(gitlab, hec, tmp_path, port_of(held), held)
