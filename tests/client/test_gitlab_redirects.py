"""A GitLab URL that redirects is refused, never followed: an answer from elsewhere is not GitLab's.

Followed, a 301/302 turned a mutation into a GET and a 307/308 re-posted it (the access token
with it, when the redirect stays on the origin) to wherever the Location pointed, whose answer
was then taken as GitLab's.
"""

from __future__ import annotations

import asyncio

import pytest

from auditstream.client.documents_newer import API_PROBE
from auditstream.client.errors import GitLabRedirected
from auditstream.client.session import GitLabSession
from tests.processes import run_cli
from tests.redirecting import REDIRECTS, redirecting

TOKEN = "glpat-redirect-probe-0000"


@pytest.mark.parametrize("status", REDIRECTS)
async def test_redirecting_gitlab_raises_a_clear_error_naming_the_location(status: int) -> None:
    async with redirecting(status) as (url, target):
        async with GitLabSession(url, TOKEN, attempts=3, backoff_seconds=0.01) as session:
            with pytest.raises(GitLabRedirected) as raised:
                await session.execute(API_PROBE)
        message = str(raised.value)
        assert f"HTTP {status}" in message
        assert f"{target.url}/api/graphql" in message
        assert "--gitlab-url" in message
        assert TOKEN not in message
        assert target.requests == []


async def test_cli_against_a_redirecting_gitlab_exits_1_without_a_traceback() -> None:
    async with redirecting(308) as (url, target):
        result = await asyncio.to_thread(
            run_cli, "destinations", "list", "--group", "acme", "--gitlab-url", url,
            "--token", TOKEN)
        assert result.returncode == 1
        assert f"redirect to {target.url}/api/graphql" in result.stderr
        assert "Traceback" not in result.stderr
        assert TOKEN not in result.stderr
        assert target.requests == []
