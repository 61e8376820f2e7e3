"""The REST audit event lists: stored events only, newest first, GitLab's pagination headers,
date filters, and who may list what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from auditstream.server.gitlab import RunningGitLab


async def get(http: aiohttp.ClientSession, gitlab: RunningGitLab, path: str,
              user: str | None = "owner", **params: Any) -> tuple[int, Any, dict[str, str]]:
    headers = {"PRIVATE-TOKEN": gitlab.token_for(user)} if user else {}
    async with http.get(gitlab.url + path, headers=headers,
                        params={k: str(v) for k, v in params.items()}) as response:
        return response.status, await response.json(), dict(response.headers)


async def test_a_few_hundred_events_page_through_completely_newest_first(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    made = await gitlab.make_activity(300, event_types=["audit_operation"], on=["acme"])
    seen: list[int] = []
    page = 1
    while page:
        status, items, headers = await get(http, gitlab, "/api/v4/groups/acme/audit_events",
                                           page=page, per_page=100)
        assert status == 200
        assert (headers["X-Total"], headers["X-Total-Pages"], headers["X-Per-Page"]) == (
            "300", "3", "100")
        assert headers["X-Page"] == str(page)
        seen += [item["id"] for item in items]
        page = int(headers["X-Next-Page"]) if headers["X-Next-Page"] else 0
    assert seen == sorted((int(e.id) for e in made), reverse=True)


async def test_link_header_points_to_next_prev_first_and_last(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    await gitlab.make_activity(45, event_types=["audit_operation"], on=["acme"])
    _, items, headers = await get(http, gitlab, "/api/v4/groups/1/audit_events", page=2)
    assert len(items) == 20  # GitLab's default per_page
    assert (headers["X-Prev-Page"], headers["X-Next-Page"]) == ("1", "3")
    links = {rel: url for url, rel in (part.split("; ") for part in headers["Link"].split(", "))}
    assert set(links) == {'rel="prev"', 'rel="next"', 'rel="first"', 'rel="last"'}
    assert "page=3" in links['rel="next"']
    assert "per_page=20" in links['rel="next"']
    assert "page=3" in links['rel="last"']
    async with http.get(links['rel="last"'].strip("<>"),
                        headers=gitlab.headers_for("owner")) as response:
        assert len(await response.json()) == 5


async def test_per_page_is_capped_at_100(gitlab: RunningGitLab,
                                         http: aiohttp.ClientSession) -> None:
    await gitlab.make_activity(120, event_types=["audit_operation"], on=["acme"])
    _, items, headers = await get(http, gitlab, "/api/v4/groups/acme/audit_events",
                                  per_page=500)
    assert (len(items), headers["X-Per-Page"]) == (100, "100")


async def test_items_carry_gitlabs_fields(gitlab: RunningGitLab,
                                          http: aiohttp.ClientSession) -> None:
    [event] = await gitlab.make_activity(1, event_types=["member_created"],
                                         on=["acme/website"], author="maintainer")
    _, [item], _ = await get(http, gitlab, "/api/v4/projects/acme%2Fwebsite/audit_events",
                             user="maintainer")
    assert item["id"] == event.id
    assert (item["author_id"], item["entity_id"], item["entity_type"]) == (3, 1, "Project")
    assert item["event_name"] == "member_created"
    assert item["details"]["add"] == "user_access"
    assert item["created_at"].endswith("Z")


async def test_stream_only_events_are_not_listed(gitlab: RunningGitLab,
                                                 http: aiohttp.ClientSession) -> None:
    await gitlab.make_activity(6, event_types=["repository_git_operation",
                                               "merge_request_create", "audit_operation"],
                               on=["acme/website"])
    _, items, _ = await get(http, gitlab, "/api/v4/projects/1/audit_events")
    assert [item["event_name"] for item in items] == ["audit_operation"] * 2


async def test_a_group_lists_its_own_events_and_the_instance_lists_all(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    await gitlab.make_activity(4, event_types=["audit_operation"],
                               on=["acme", "acme/website", "acme/platform", "globex"])
    _, group, _ = await get(http, gitlab, "/api/v4/groups/acme/audit_events")
    assert len(group) == 1
    _, everything, _ = await get(http, gitlab, "/api/v4/audit_events", user="admin")
    assert len(everything) == 4


async def test_created_after_and_before_narrow_the_list(gitlab: RunningGitLab,
                                                        http: aiohttp.ClientSession) -> None:
    moments = iter(datetime(2026, 1, day, 12, tzinfo=UTC) for day in range(1, 11))
    gitlab.core.clock = lambda: next(moments)
    await gitlab.make_activity(10, event_types=["audit_operation"], on=["acme"])
    _, items, headers = await get(http, gitlab, "/api/v4/groups/acme/audit_events",
                                  created_after="2026-01-03T00:00:00Z",
                                  created_before="2026-01-06T00:00:00Z")
    assert [item["created_at"][:10] for item in items] == [
        "2026-01-05", "2026-01-04", "2026-01-03"]
    assert headers["X-Total"] == "3"
    future = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    _, none, _ = await get(http, gitlab, "/api/v4/groups/acme/audit_events",
                           created_after=future)
    assert none == []


@pytest.mark.parametrize(("path", "user", "status", "body"), [
    ("/api/v4/groups/acme/audit_events", None, 401, {"message": "401 Unauthorized"}),
    ("/api/v4/groups/acme/audit_events", "maintainer", 403, {"message": "403 Forbidden"}),
    ("/api/v4/groups/acme/audit_events", "outsider", 404, {"message": "404 Group Not Found"}),
    ("/api/v4/groups/nowhere/audit_events", "admin", 404, {"message": "404 Group Not Found"}),
    ("/api/v4/projects/1/audit_events", "developer", 403, {"message": "403 Forbidden"}),
    ("/api/v4/projects/99/audit_events", "admin", 404, {"message": "404 Project Not Found"}),
    ("/api/v4/audit_events", "owner", 403, {"message": "403 Forbidden"}),
])
async def test_who_may_list_what(gitlab: RunningGitLab, http: aiohttp.ClientSession,
                                 path: str, user: str | None, status: int,
                                 body: dict[str, str]) -> None:
    assert (await get(http, gitlab, path, user))[:2] == (status, body)


async def test_a_token_nobody_holds_is_401(gitlab: RunningGitLab,
                                           http: aiohttp.ClientSession) -> None:
    async with http.get(gitlab.url + "/api/v4/audit_events",
                        headers={"Authorization": "Bearer nope"}) as response:
        assert (response.status, await response.json()) == (
            401, {"message": "401 Unauthorized"})


@pytest.mark.parametrize(("params", "error"), [
    ({"created_after": "yesterday"}, "created_after is invalid"),
    ({"created_before": "2026-13-01"}, "created_before is invalid"),
    ({"page": "first"}, "page is invalid"),
    ({"per_page": "-3"}, "per_page is invalid"),
])
async def test_bad_parameters_are_400_naming_them(gitlab: RunningGitLab,
                                                  http: aiohttp.ClientSession,
                                                  params: dict[str, str], error: str) -> None:
    status, body, _ = await get(http, gitlab, "/api/v4/audit_events", "admin", **params)
    assert (status, body) == (400, {"error": error})
