"""``GET /_stand-in/`` on each stand-in lists its own endpoints, every one of them, and
``serve gitlab|hec --help`` points there."""

from __future__ import annotations

import aiohttp
import pytest
from click.testing import CliRunner

from auditstream.cli.serve import serve
from auditstream.server.gitlab import running_gitlab
from auditstream.server.hec import running_hec
from auditstream.server.standin import PREFIX


async def listed_and_routed(url: str, app_routes: list[tuple[str, str]]) -> None:
    async with aiohttp.ClientSession() as session, session.get(url + PREFIX + "/") as answer:
        assert answer.status == 200
        index = await answer.json()
    listed = {(e["method"], e["path"]) for e in index["endpoints"]}
    assert all(e["does"] for e in index["endpoints"])
    routed = {(method, path) for method, path in app_routes if path.startswith(PREFIX)}
    assert listed == routed
    assert ("POST", PREFIX + "/activity") in listed or ("POST", PREFIX + "/faults") in listed


def routes_of(app: object) -> list[tuple[str, str]]:
    found = []
    for route in app.router.routes():  # type: ignore[attr-defined]
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and path:
            found.append((route.method, path))
    return found


async def test_gitlab_stand_in_lists_every_one_of_its_own_endpoints() -> None:
    async with running_gitlab() as gitlab:
        await listed_and_routed(gitlab.url, routes_of(gitlab.runner.app))


async def test_hec_stand_in_lists_every_one_of_its_own_endpoints() -> None:
    async with running_hec() as hec:
        await listed_and_routed(hec.url, routes_of(hec.runner.app))


@pytest.mark.parametrize("stand_in", ["gitlab", "hec"])
def test_serve_help_points_to_the_stand_in_index(stand_in: str) -> None:
    result = CliRunner().invoke(serve, [stand_in, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "GET URL/_stand-in/" in " ".join(result.output.split())
