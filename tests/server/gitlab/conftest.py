"""Fixtures for the GitLab stand-in's tests: the stand-in on port 0, a GraphQL client that
speaks real HTTP, and a collector standing in for a streaming destination."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from auditstream.server.gitlab import GitLabConfig, RunningGitLab, running_gitlab
from tests.server.gitlab import operations as ops

FAST = GitLabConfig(delivery_timeout_seconds=2.0)


@dataclass(frozen=True, slots=True)
class Answer:
    """A GraphQL answer: the HTTP status, ``data`` and the top-level errors' messages."""

    status: int
    body: Any

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[str]:
        return [error["message"] for error in self.body.get("errors") or []]

    def payload(self, field_name: str) -> Any:
        """A mutation's payload; fails the test on top-level errors."""
        assert self.status == 200, self.body
        assert not self.errors, self.errors
        return self.data[field_name]


class GraphQL:
    """Real HTTP to ``POST /api/graphql``, as a user of the seed (or anonymous)."""

    def __init__(self, session: aiohttp.ClientSession, gitlab: RunningGitLab) -> None:
        self.session, self.gitlab = session, gitlab

    async def run(self, document: str, variables: Mapping[str, Any] | None = None, *,
                  as_user: str | None = "owner",
                  headers: Mapping[str, str] | None = None) -> Answer:
        sent = dict(self.gitlab.headers_for(as_user) if as_user else {})
        sent.update(headers or {})
        body = {"query": document, "variables": dict(variables or {})}
        async with self.session.post(self.gitlab.graphql_url, json=body,
                                     headers=sent) as response:
            return Answer(response.status, await response.json(content_type=None))

    async def create(self, group: str = "acme", url: str = "http://127.0.0.1:9/x", *,
                     as_user: str = "owner", **more: Any) -> dict[str, Any]:
        """A legacy group destination that must be created (the test fails otherwise)."""
        answer = await self.run(ops.CREATE, {"input": {"groupPath": group,
                                                       "destinationUrl": url, **more}},
                                as_user=as_user)
        created = answer.payload("externalAuditEventDestinationCreate")
        assert created["errors"] == [], created["errors"]
        result: dict[str, Any] = created["externalAuditEventDestination"]
        return result

    async def mutate(self, document: str, *, as_user: str | None = "owner",
                     **input_values: Any) -> Answer:
        """A mutation with ``input_values`` as its ``input`` variable."""
        return await self.run(document, {"input": input_values}, as_user=as_user)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request the collector received."""

    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass(slots=True)
class Collector:
    """A destination on 127.0.0.1: records what arrives and answers ``status`` after
    ``delay`` seconds. ``in_flight_peak`` is how many requests it held at once."""

    url: str = ""
    status: int = 200
    delay: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    in_flight: int = 0
    in_flight_peak: int = 0

    def url_for(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"

    def to(self, path: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.path == "/" + path.lstrip("/")]

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        try:
            body = await request.read()
            self.arrivals.append(Arrival(request.path, dict(request.headers), body))
            if self.delay:
                await asyncio.sleep(self.delay)
            moved = {"Location": self.url_for("redirected")} if 300 <= self.status < 400 else {}
            return web.Response(status=self.status, text="ok", headers=moved)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    found = Collector()
    app = web.Application()
    app.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = next(a for a in runner.addresses if isinstance(a, tuple))[:2]
    found.url = f"http://{host}:{port}"
    try:
        yield found
    finally:
        await runner.cleanup()


@pytest.fixture
async def gitlab() -> AsyncIterator[RunningGitLab]:
    async with running_gitlab(config=FAST) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as opened:
        yield opened


@pytest.fixture
def api(http: aiohttp.ClientSession, gitlab: RunningGitLab) -> GraphQL:
    return GraphQL(http, gitlab)
