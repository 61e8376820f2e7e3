"""The REST lists as reconcile meets them: keyset pages, the instance's 30 days, a group's
tree (subgroups and projects), the rate-limit knob, and the REST entity's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from auditstream.server.gitlab import RunningGitLab
from tests.server.gitlab.test_gitlab_rest import get


async def test_keyset_pages_follow_the_link_header_to_the_end_with_no_totals(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    made = await gitlab.make_activity(45, event_types=["audit_operation"], on=["acme"])
    status, items, headers = await get(http, gitlab, "/api/v4/groups/acme/audit_events",
                                       pagination="keyset", order_by="id", sort="asc",
                                       per_page=20)
    seen = [item["id"] for item in items]
    assert status == 200
    assert "X-Total" not in headers
    while "Link" in headers:
        url, rel = headers["Link"].split("; ")
        assert rel == 'rel="next"'
        assert "cursor=" in url
        async with http.get(url.strip("<>"), headers=gitlab.headers_for("owner")) as response:
            items, headers = await response.json(), dict(response.headers)
        seen += [item["id"] for item in items]
    assert seen == sorted(int(e.id) for e in made)


async def test_keyset_pages_stay_exact_while_new_events_arrive(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    await gitlab.make_activity(30, event_types=["audit_operation"], on=["acme"])
    _, first, headers = await get(http, gitlab, "/api/v4/groups/acme/audit_events",
                                  pagination="keyset", per_page=20)  # newest first
    await gitlab.make_activity(5, event_types=["audit_operation"], on=["acme"])
    async with http.get(headers["Link"].split("; ")[0].strip("<>"),
                        headers=gitlab.headers_for("owner")) as response:
        rest = await response.json()
    assert [i["id"] for i in first + rest] == list(range(30, 0, -1))


async def test_the_instance_list_refuses_more_than_30_days_per_query(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    end = datetime(2026, 3, 1, tzinfo=UTC)
    status, body, _ = await get(http, gitlab, "/api/v4/audit_events", "admin",
                                created_after=(end - timedelta(days=31)).isoformat(),
                                created_before=end.isoformat())
    assert status == 400
    assert "30 days" in body["message"]
    status, _, _ = await get(http, gitlab, "/api/v4/audit_events", "admin",
                             created_after=(end - timedelta(days=30)).isoformat(),
                             created_before=end.isoformat())
    assert status == 200


async def test_a_groups_tree_is_listed_by_its_subgroups_and_projects(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    _, group, _ = await get(http, gitlab, "/api/v4/groups/acme")
    assert (group["id"], group["full_path"]) == (1, "acme")
    _, below, _ = await get(http, gitlab, "/api/v4/groups/1/descendant_groups")
    assert [g["full_path"] for g in below] == ["acme/platform"]
    _, direct, _ = await get(http, gitlab, "/api/v4/groups/acme/projects")
    _, deep, _ = await get(http, gitlab, "/api/v4/groups/acme/projects",
                           include_subgroups="true")
    assert [p["path_with_namespace"] for p in direct] == ["acme/website"]
    assert [p["path_with_namespace"] for p in deep] == ["acme/website", "acme/platform/api"]


async def test_the_throttle_knob_answers_429_with_gitlabs_rate_limit_headers(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    gitlab.state.throttle.refuse_next = 1
    headers = gitlab.headers_for("owner")
    async with http.get(gitlab.url + "/api/v4/groups/acme/audit_events",
                        headers=headers) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
        assert response.headers["RateLimit-Remaining"] == "0"
        assert int(response.headers["RateLimit-Reset"]) > 0
    status, _, _ = await get(http, gitlab, "/api/v4/groups/acme/audit_events")
    assert status == 200


async def test_rest_items_keep_author_target_ip_and_path_inside_details(
        gitlab: RunningGitLab, http: aiohttp.ClientSession) -> None:
    await gitlab.make_activity(1, event_types=["member_created"], on=["acme/website"],
                               author="maintainer")
    _, [item], _ = await get(http, gitlab, "/api/v4/projects/1/audit_events")
    details: dict[str, Any] = item["details"]
    assert set(item) == {"id", "author_id", "entity_id", "entity_type", "event_name",
                         "details", "created_at"}
    assert details["author_email"] == "maintainer@example.com"
    assert {"author_name", "target_id", "target_type", "target_details", "ip_address",
            "entity_path"} <= set(details)
