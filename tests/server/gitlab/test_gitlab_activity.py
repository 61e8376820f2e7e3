"""Activity on demand: the events have GitLab's payload shape, stored ones integer ids and
stream-only ones UUIDs, and the endpoint and in-process API make the same."""

from __future__ import annotations

import re
import uuid

import aiohttp
import pytest

from auditstream.server.gitlab import KINDS, RunningGitLab
from tests.server.gitlab.conftest import Collector, GraphQL

CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = {"id", "author_id", "author_name", "entity_id", "entity_type", "entity_path",
          "details", "ip_address", "target_id", "target_type", "target_details",
          "created_at", "event_type"}


@pytest.mark.parametrize("event_type", sorted(KINDS))
async def test_each_event_type_has_gitlabs_payload_fields(gitlab: RunningGitLab,
                                                          event_type: str) -> None:
    [event] = await gitlab.make_activity(1, event_types=[event_type], on=["acme/website"])
    payload = event.payload()
    assert set(payload) == FIELDS
    assert payload["event_type"] == event_type
    assert CREATED_AT.match(payload["created_at"])
    assert (payload["entity_type"], payload["entity_path"]) == ("Project", "acme/website")
    details = payload["details"]
    assert {"author_name", "author_class", "target_id", "target_type", "target_details",
            "ip_address", "entity_path"} <= set(details)
    if KINDS[event_type].stored:
        assert isinstance(payload["id"], int)
    else:
        assert uuid.UUID(payload["id"]).version == 4


async def test_git_operations_carry_a_custom_message_object(gitlab: RunningGitLab) -> None:
    events = await gitlab.make_activity(20, event_types=["repository_git_operation"],
                                        on=["acme/website"])
    messages = [e.payload()["details"]["custom_message"] for e in events]
    assert all(set(m) == {"protocol", "action"} for m in messages)
    assert {m["protocol"] for m in messages} <= {"http", "ssh"}
    assert {m["action"] for m in messages} <= {"git-upload-pack", "git-receive-pack"}


async def test_member_changes_say_what_changed(gitlab: RunningGitLab) -> None:
    added, changed, removed = await gitlab.make_activity(
        3, event_types=["member_created", "member_updated", "member_destroyed"], on=["acme"])
    assert added.payload()["details"]["add"] == "user_access"
    assert {"change", "from", "to"} <= set(changed.payload()["details"])
    assert removed.payload()["details"]["remove"] == "user_access"
    assert {e.payload()["target_type"] for e in (added, changed, removed)} == {"User"}


async def test_project_only_types_skip_groups_and_authors_are_members(
        gitlab: RunningGitLab) -> None:
    events = await gitlab.make_activity(6, event_types=["merge_request_create"],
                                        on=["acme", "acme/website", "acme/platform/api"])
    assert {e.entity.path for e in events} == {"acme/website", "acme/platform/api"}
    assert {e.author.username for e in events} <= {"owner", "maintainer", "developer"}


async def test_the_endpoint_makes_events_and_streams_them(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector,
        http: aiohttp.ClientSession) -> None:
    await api.create(url=collector.url_for("acme"))
    async with http.post(f"{gitlab.url}/_stand-in/activity", json={
            "count": 3, "event_types": ["member_created"], "on": ["acme/website"],
            "author": "owner"}) as response:
        assert response.status == 201
        made = (await response.json())["events"]
    assert [e["author_name"] for e in made] == ["Olivia Owner"] * 3
    arrived = [a.event for a in collector.to("acme") if a.event["event_type"] ==
               "member_created"]
    assert arrived == made
    async with http.get(f"{gitlab.url}/_stand-in/deliveries") as response:
        recorded = await response.json()
    assert recorded["results"] == {"delivered": 4}
    assert recorded["deliveries"][-1]["body"] == collector.to("acme")[-1].body.decode()


@pytest.mark.parametrize(("request_body", "words"), [
    ({"count": 1, "event_types": ["nothing_happened"]}, "unknown type 'nothing_happened'"),
    ({"count": 1, "on": ["nowhere"]}, "no group or project 'nowhere'"),
    ({"count": 1, "author": "nobody"}, "no user 'nobody'"),
    ({"count": "many"}, "count: must be an integer"),
    ({"count": -1}, "count: must be 0 or more"),
    ({"count": 1, "event_types": ["repository_git_operation"], "on": ["acme"]},
     "happens on projects"),
    ({"number": 1}, "unknown key(s) number"),
])
async def test_a_wrong_activity_request_is_400_naming_the_field(
        gitlab: RunningGitLab, http: aiohttp.ClientSession, request_body: dict[str, object],
        words: str) -> None:
    async with http.post(f"{gitlab.url}/_stand-in/activity", json=request_body) as response:
        assert response.status == 400
        assert words in (await response.json())["error"]


async def test_seed_and_events_are_inspectable_over_http(gitlab: RunningGitLab,
                                                         http: aiohttp.ClientSession) -> None:
    await gitlab.make_activity(2, event_types=["audit_operation", "merge_request_create"],
                               on=["acme/website"])
    async with http.get(f"{gitlab.url}/_stand-in/events") as response:
        events = (await response.json())["events"]
    assert [(e["stored"], e["event"]["event_type"]) for e in events] == [
        (True, "audit_operation"), (False, "merge_request_create")]
    async with http.get(f"{gitlab.url}/_stand-in/seed") as response:
        seed = await response.json()
    assert {u["username"]: u["token"] for u in seed["users"]}["owner"] == \
        gitlab.token_for("owner")
    assert [g["full_path"] for g in seed["groups"]] == ["acme", "acme/platform", "globex"]
