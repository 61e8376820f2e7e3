"""The REST client against a server that misbehaves: a next link off GitLab's origin, an
answer that is not JSON, a 429 that never ends. Clear errors, the token never sent astray."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from auditstream.client.errors import GitLabUnavailable, RateLimited
from auditstream.client.rest import RestSession

pytestmark = pytest.mark.timeout(30)
Server = Callable[[web.Application], Awaitable[TestServer]]


async def start(aiohttp_server: Server, answer: Callable[[web.Request], web.Response],
                ) -> tuple[TestServer, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return answer(request)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return await aiohttp_server(app), seen


async def pages(server: TestServer, **options: Any) -> list[list[dict[str, Any]]]:
    async with RestSession(str(server.make_url("")), "glpat-secret", **options) as rest:
        return [page async for page in rest.pages("/audit_events", {}, what="events",
                                                  role="an administrator")]


async def test_a_next_link_off_gitlabs_origin_is_not_followed(aiohttp_server: Server) -> None:
    server, seen = await start(aiohttp_server, lambda _: web.json_response(
        [{"id": 1}], headers={"Link": '<https://evil.example/api/v4/x?cursor=a>; rel="next"'}))
    with pytest.raises(GitLabUnavailable, match="off its origin"):
        await pages(server)
    assert len(seen) == 1


async def test_an_answer_that_is_not_json_is_a_clear_error(aiohttp_server: Server) -> None:
    server, _ = await start(aiohttp_server, lambda _: web.Response(text="<html>proxy</html>"))
    with pytest.raises(GitLabUnavailable, match="JSON list"):
        await pages(server)


async def test_endless_429s_give_up_after_the_bounded_waits(aiohttp_server: Server) -> None:
    server, seen = await start(aiohttp_server, lambda _: web.Response(
        status=429, text="Retry later\n", headers={"Retry-After": "0"}))
    with pytest.raises(RateLimited, match="try again later"):
        await pages(server, rate_limit_waits=3)
    assert len(seen) == 4
    assert all(headers["PRIVATE-TOKEN"] == "glpat-secret" for headers in seen)
