"""Running the stand-in: start it on a port (0: any free one), use it, stop it.

    async with running_gitlab() as gitlab:                 # the built-in demo seed
        token = gitlab.token_for("owner")
        ... POST gitlab.graphql_url with gitlab.headers_for("owner") ...
        await gitlab.make_activity(10, event_types=("repository_git_operation",))
        gitlab.deliveries.to(url)                           # what was sent, and how it went
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from auditstream.server.gitlab.activity import DEFAULT_TYPES, ActivitySpec
from auditstream.server.gitlab.admin import make_activity
from auditstream.server.gitlab.app import GRAPHQL_PATH, create_app
from auditstream.server.gitlab.config import GitLabConfig
from auditstream.server.gitlab.core import GitLabCore
from auditstream.server.gitlab.deliveries import Deliveries
from auditstream.server.gitlab.delivery import Streamer
from auditstream.server.gitlab.directory import Directory
from auditstream.server.gitlab.events import AuditEvent, EventLog
from auditstream.server.gitlab.preload import preload_destinations
from auditstream.server.gitlab.schema import gitlab_schema
from auditstream.server.gitlab.seed import DEFAULT_SEED, Seed
from auditstream.server.gitlab.state import GitLabState
from auditstream.server.gitlab.streaming import Knobs


@dataclass(slots=True)
class RunningGitLab:
    """A stand-in listening on ``url``: its seed, its GitLab, and what it streamed."""

    config: GitLabConfig
    seed: Seed
    state: GitLabState
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123`` (what ``--gitlab-url`` takes)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def graphql_url(self) -> str:
        return self.url + GRAPHQL_PATH

    @property
    def core(self) -> GitLabCore:
        return self.state.core

    @property
    def events(self) -> EventLog:
        return self.state.core.events

    @property
    def deliveries(self) -> Deliveries:
        return self.state.deliveries

    @property
    def knobs(self) -> Knobs:
        return self.state.streamer.knobs

    @knobs.setter
    def knobs(self, knobs: Knobs) -> None:
        self.state.streamer.knobs = knobs

    def token_for(self, username: str) -> str:
        """The personal access token of a seeded user (KeyError for an unknown one)."""
        return self.seed.token_for(username)

    def headers_for(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(username)}"}

    async def make_activity(self, count: int, *, event_types: Sequence[str] = DEFAULT_TYPES,
                            on: Sequence[str] = (), author: str | None = None,
                            wait: bool = True) -> list[AuditEvent]:
        """Make ``count`` events (cycling through the types and places), record and stream
        them; with ``wait``, return once every delivery they caused has finished."""
        before = len(self.events.made)
        await make_activity(self.state, ActivitySpec(count, tuple(event_types), tuple(on),
                                                     author), wait=wait)
        return list(self.events.made[before:])

    async def settle(self) -> None:
        """Wait until every delivery started so far has finished."""
        await self.state.streamer.settle()

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.state.streamer.close()


async def start_gitlab(seed: Seed | None = None,
                       config: GitLabConfig | None = None) -> RunningGitLab:
    """Start listening; with port 0 (the default) the system picks a free port."""
    seed = seed if seed is not None else DEFAULT_SEED
    config = config if config is not None else GitLabConfig()
    core = GitLabCore(Directory.from_seed(seed), strict_urls=config.strict_urls)
    deliveries = Deliveries()
    streamer = Streamer(core, deliveries, timeout=config.delivery_timeout_seconds,
                        max_concurrency=config.max_concurrent_deliveries, knobs=config.knobs)
    state = GitLabState(config=config, core=core, deliveries=deliveries, streamer=streamer,
                        schema=gitlab_schema(config.legacy_api),
                        rng=random.Random(config.activity_seed))  # noqa: S311 (not secret)
    preload_destinations(core, seed)
    await streamer.start()
    runner = web.AppRunner(create_app(state), access_log=None, handle_signals=False,
                           shutdown_timeout=config.shutdown_timeout_seconds)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        await streamer.close()
        raise
    host, port = _bound_address(runner)
    return RunningGitLab(config=config, seed=seed, state=state, runner=runner, host=host,
                         port=port)


@asynccontextmanager
async def running_gitlab(seed: Seed | None = None,
                         config: GitLabConfig | None = None) -> AsyncIterator[RunningGitLab]:
    """The stand-in for the length of an ``async with`` block."""
    gitlab = await start_gitlab(seed, config)
    try:
        yield gitlab
    finally:
        await gitlab.stop()


def _bound_address(runner: web.AppRunner) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return str(address[0]), int(address[1])
    raise RuntimeError("the GitLab stand-in is not listening on a TCP address")
