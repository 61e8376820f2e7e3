"""The consolidated API (16.11+): http destinations with a JSON config, for groups and the
instance, their rules, filters and streaming."""

from __future__ import annotations

import re
from typing import Any

import pytest

from auditstream.server.gitlab import RESOURCE_NOT_AVAILABLE, RunningGitLab
from tests.server.gitlab import operations as ops
from tests.server.gitlab.conftest import Collector, GraphQL

BASE64 = re.compile(r"^[A-Za-z0-9+/]{24}$")


async def create(api: GraphQL, config: Any, **more: Any) -> dict[str, Any]:
    answer = await api.mutate(ops.STREAMING_CREATE, groupPath="acme", category="http",
                              config=config, **more)
    payload: dict[str, Any] = answer.payload("groupAuditEventStreamingDestinationsCreate")
    return payload


async def test_a_group_http_destination_is_created_with_a_generated_secret(
        api: GraphQL) -> None:
    config = {"url": "http://127.0.0.1:9/siem",
              "headers": {"X-Siem": {"value": "one", "active": True}}}
    payload = await create(api, config, name="siem")
    assert payload["errors"] == []
    created = payload["externalAuditEventDestination"]
    assert created["id"] == "gid://gitlab/AuditEvents::Group::ExternalStreamingDestination/1"
    assert (created["name"], created["category"], created["config"]) == ("siem", "http",
                                                                         config)
    assert BASE64.match(created["secretToken"])
    assert (created["active"], created["eventTypeFilters"]) == (True, [])
    assert created["group"] == {"fullPath": "acme"}


async def test_update_changes_config_name_secret_and_active(api: GraphQL) -> None:
    created = (await create(api, {"url": "http://127.0.0.1:9/a"}))[
        "externalAuditEventDestination"]
    answer = await api.mutate(ops.STREAMING_UPDATE, id=created["id"], name="renamed",
                              secretToken="a-new-secret-token",
                              config={"url": "http://127.0.0.1:9/b"}, active=False)
    updated = answer.payload("groupAuditEventStreamingDestinationsUpdate")
    assert updated["errors"] == []
    destination = updated["externalAuditEventDestination"]
    assert (destination["name"], destination["secretToken"], destination["active"]) == (
        "renamed", "a-new-secret-token", False)
    assert destination["config"] == {"url": "http://127.0.0.1:9/b", "headers": {}}
    deleted = await api.mutate(ops.STREAMING_DELETE, id=created["id"])
    assert deleted.payload("groupAuditEventStreamingDestinationsDelete") == {"errors": []}
    listed = await api.run(ops.STREAMING_DESTINATIONS, {"fullPath": "acme"})
    assert listed.data["group"]["externalAuditEventStreamingDestinations"] == {"nodes": []}


@pytest.mark.parametrize(("values", "message"), [
    ({"config": {"headers": {}}}, "Config must be a valid json schema"),
    ({"config": {"url": "http://127.0.0.1:9/x", "extra": 1}},
     "Config must be a valid json schema"),
    ({"config": {"url": "ftp://x"}}, "Url is blocked: Only allowed schemes are http, https"),
    ({"config": {"url": "http://127.0.0.1:9/x"}, "secretToken": "short"},
     "Secret token is too short (minimum is 16 characters)"),
    ({"config": {"url": "http://127.0.0.1:9/x",
                 "headers": {"X-Gitlab-Event-Streaming-Token": {"value": "v"}}}},
     "Key cannot be X-Gitlab-Event-Streaming-Token"),
    ({"config": {"url": "http://127.0.0.1:9/x",
                 "headers": {f"X-{n}": {"value": "v"} for n in range(21)}}},
     "Headers are limited to 20 per destination"),
    ({"category": "gcp", "config": {}},
     "Category gcp is not supported by this stand-in (only http)"),
])
async def test_consolidated_rules(api: GraphQL, values: dict[str, Any], message: str) -> None:
    answer = await api.mutate(ops.STREAMING_CREATE, **{"groupPath": "acme",
                                                       "category": "http", **values})
    payload = answer.payload("groupAuditEventStreamingDestinationsCreate")
    assert payload == {"errors": [message], "externalAuditEventDestination": None}


async def test_an_unknown_category_is_a_top_level_error(api: GraphQL) -> None:
    answer = await api.mutate(ops.STREAMING_CREATE, groupPath="acme", category="smtp",
                              config={"url": "http://127.0.0.1:9/x"})
    assert answer.errors == ["'smtp' is not a valid category"]


async def test_permission_comes_before_validation(api: GraphQL) -> None:
    answer = await api.mutate(ops.STREAMING_CREATE, as_user="maintainer", groupPath="acme",
                              category="gcp", config={})
    assert answer.errors == [RESOURCE_NOT_AVAILABLE]


async def test_consolidated_filters(api: GraphQL) -> None:
    created = (await create(api, {"url": "http://127.0.0.1:9/a"}))[
        "externalAuditEventDestination"]
    added = await api.mutate(ops.STREAMING_EVENTS_ADD, destinationId=created["id"],
                             eventTypeFilters=["member_created"])
    assert added.payload("auditEventsGroupDestinationEventsAdd")["eventTypeFilters"] == [
        "member_created"]
    namespace = await api.mutate(ops.STREAMING_NAMESPACE_FILTER_CREATE,
                                 destinationId=created["id"], namespacePath="acme/website")
    made = namespace.payload("auditEventsGroupDestinationNamespaceFilterCreate")
    assert made["errors"] == []
    assert made["namespaceFilter"]["id"].startswith("gid://gitlab/AuditEvents::Group::"
                                                    "NamespaceFilter/")
    listed = await api.run(ops.STREAMING_DESTINATIONS, {"fullPath": "acme"})
    [node] = listed.data["group"]["externalAuditEventStreamingDestinations"]["nodes"]
    assert node["eventTypeFilters"] == ["member_created"]
    assert node["namespaceFilters"][0]["namespace"] == {"fullPath": "acme/website"}
    assert node["namespaceFilters"][0]["externalStreamingDestination"] == {"id": created["id"]}
    removed = await api.mutate(ops.STREAMING_NAMESPACE_FILTER_DELETE,
                               namespaceFilterId=made["namespaceFilter"]["id"])
    assert removed.payload("auditEventsGroupDestinationNamespaceFilterDelete")["errors"] == []
    gone = await api.mutate(ops.STREAMING_EVENTS_DELETE, destinationId=created["id"],
                            eventTypeFilters=["member_created"])
    assert gone.payload("auditEventsGroupDestinationEventsDelete")["errors"] == []


async def test_instance_consolidated_destinations(api: GraphQL) -> None:
    refused = await api.mutate(ops.INSTANCE_STREAMING_CREATE, as_user="owner",
                               category="http", config={"url": "http://127.0.0.1:9/x"})
    assert refused.errors == [RESOURCE_NOT_AVAILABLE]
    answer = await api.mutate(ops.INSTANCE_STREAMING_CREATE, as_user="admin",
                              category="http", config={"url": "http://127.0.0.1:9/x"},
                              secretToken="instance-secret-0001")
    created = answer.payload("instanceAuditEventStreamingDestinationsCreate")[
        "externalAuditEventDestination"]
    assert created["id"].startswith(
        "gid://gitlab/AuditEvents::Instance::ExternalStreamingDestination/")
    assert created["secretToken"] == "instance-secret-0001"
    filters = await api.mutate(ops.INSTANCE_STREAMING_EVENTS_ADD, as_user="admin",
                               destinationId=created["id"], eventTypeFilters=["a"])
    assert filters.payload("auditEventsInstanceDestinationEventsAdd")["errors"] == []
    removed = await api.mutate(ops.INSTANCE_STREAMING_EVENTS_DELETE, as_user="admin",
                               destinationId=created["id"], eventTypeFilters=["a"])
    assert removed.payload("auditEventsInstanceDestinationEventsDelete")["errors"] == []
    updated = await api.mutate(ops.INSTANCE_STREAMING_UPDATE, as_user="admin",
                               id=created["id"], active=False)
    assert updated.payload("instanceAuditEventStreamingDestinationsUpdate")[
        "externalAuditEventDestination"]["active"] is False
    listed = await api.run(ops.INSTANCE_STREAMING_DESTINATIONS, as_user="admin")
    assert len(listed.data["auditEventsInstanceStreamingDestinations"]["nodes"]) == 1
    deleted = await api.mutate(ops.INSTANCE_STREAMING_DELETE, as_user="admin",
                               id=created["id"])
    assert deleted.payload("instanceAuditEventStreamingDestinationsDelete")["errors"] == []


async def test_a_consolidated_destination_streams_with_its_secret_and_config_headers(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    created = (await create(api, {"url": collector.url_for("new"), "headers": {
        "X-On": {"value": "1", "active": True}, "X-Off": {"value": "0", "active": False}}}))[
        "externalAuditEventDestination"]
    await gitlab.make_activity(2, on=["acme/website", "globex/portal"])
    arrivals = collector.to("new")
    assert [a.event["event_type"] for a in arrivals] == [
        "created_group_audit_event_streaming_destination", "repository_git_operation"]
    assert {a.headers["X-Gitlab-Event-Streaming-Token"] for a in arrivals} == {
        created["secretToken"]}
    assert {a.headers.get("X-On") for a in arrivals} == {"1"}
    assert not any("X-Off" in a.headers for a in arrivals)
