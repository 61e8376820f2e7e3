"""A server that redirects every request to a second one that would answer 200 to anything.

Redirects are never followed (sinks, GitLab client): tests assert that the second server,
``Recorded.requests``, received nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

REDIRECTS = [301, 302, 307, 308]
# What the second server answers: Success for HEC, data for GraphQL.
_ANSWER = {"text": "Success", "code": 0, "data": {"__typename": "Query"}}


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on 127.0.0.1, an ephemeral port; its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Recorded:
    """The second server: its URL and every (method, path) it received."""

    url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)


@asynccontextmanager
async def redirecting(status: int) -> AsyncIterator[tuple[str, Recorded]]:
    """A server that redirects every request to a second server answering 200 to anything."""
    target = Recorded()

    async def accept_anything(request: web.Request) -> web.Response:
        target.requests.append((request.method, request.path))
        return web.json_response(_ANSWER)

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status,
                            headers={"Location": target.url + request.path_qs})

    sink_app, target_app = web.Application(), web.Application()
    target_app.router.add_route("*", "/{tail:.*}", accept_anything)
    sink_app.router.add_route("*", "/{tail:.*}", redirect)
    async with serving(target_app) as target_url, serving(sink_app) as sink_url:
        target.url = target_url
        yield sink_url, target
