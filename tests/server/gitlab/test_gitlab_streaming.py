"""Streaming as GitLab does it, checked at a real destination on 127.0.0.1: one POST per
event and destination, the group tree and filters deciding who gets what, GitLab's headers,
concurrency, an 8 s (here shorter) timeout, no retry, and non-2xx answers ignored."""

from __future__ import annotations

import asyncio

from auditstream.server.gitlab import (
    Api,
    GitLabConfig,
    Result,
    RunningGitLab,
    Scope,
    running_gitlab,
)
from tests.server.gitlab import operations as ops
from tests.server.gitlab.conftest import Collector, GraphQL

ALL_PLACES = ("acme", "acme/platform", "acme/website", "acme/platform/api", "globex",
              "globex/portal")
TYPES = ("audit_operation", "member_created")


async def make(gitlab: RunningGitLab, collector: Collector, per_place: int = 2) -> None:
    """``per_place`` events of each of TYPES on every group and project, delivered."""
    await gitlab.make_activity(per_place * len(TYPES) * len(ALL_PLACES), event_types=TYPES,
                               on=ALL_PLACES)


def paths(collector: Collector, path: str) -> list[str]:
    return sorted(a.event["entity_path"] for a in collector.to(path)
                  if a.event["event_type"] in TYPES)


async def test_a_group_destination_gets_exactly_its_trees_events(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await api.create(url=collector.url_for("acme"))
    await make(gitlab, collector)
    assert paths(collector, "acme") == sorted(
        ["acme", "acme/platform", "acme/website", "acme/platform/api"] * 4)
    assert len({a.event["id"] for a in collector.to("acme")}) == len(collector.to("acme"))


async def test_an_instance_destination_gets_everything(api: GraphQL, gitlab: RunningGitLab,
                                                       collector: Collector) -> None:
    await api.mutate(ops.INSTANCE_CREATE, as_user="admin",
                     destinationUrl=collector.url_for("all"))
    await api.create(url=collector.url_for("acme"))
    await make(gitlab, collector)
    assert paths(collector, "all") == sorted(ALL_PLACES * 4)
    # The instance destination's own creation and the group destination's creation too.
    types = [a.event["event_type"] for a in collector.to("all")]
    assert types[:2] == ["create_instance_event_streaming_destination",
                         "create_event_streaming_destination"]


async def test_the_request_carries_gitlabs_headers_and_the_event_as_json(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    destination = await api.create(url=collector.url_for("acme"))
    for key, value, active in (("X-Siem", "one", True), ("X-Off", "two", False)):
        await api.mutate(ops.HEADER_CREATE, destinationId=destination["id"], key=key,
                         value=value, active=active)
    await gitlab.settle()
    collector.arrivals.clear()
    [event] = await gitlab.make_activity(1, event_types=["repository_git_operation"],
                                         on=["acme/website"])
    [arrival] = collector.to("acme")
    assert arrival.headers["X-Gitlab-Event-Streaming-Token"] == \
        destination["verificationToken"]
    assert arrival.headers["X-Gitlab-Audit-Event-Type"] == "repository_git_operation"
    assert arrival.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert arrival.headers["X-Siem"] == "one"
    assert "X-Off" not in arrival.headers
    assert arrival.event == event.payload()
    assert arrival.event["id"] == str(event.id)


async def test_a_custom_content_type_header_replaces_the_default(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    destination = await api.create(url=collector.url_for("acme"))
    await api.mutate(ops.HEADER_CREATE, destinationId=destination["id"], key="Content-Type",
                     value="application/json")
    await gitlab.settle()
    collector.arrivals.clear()
    await gitlab.make_activity(1, on=["acme/website"])
    [arrival] = collector.to("acme")
    assert arrival.headers["Content-Type"] == "application/json"


async def test_event_type_filters_let_only_those_types_through(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    destination = await api.create(url=collector.url_for("acme"))
    await api.mutate(ops.EVENTS_ADD, destinationId=destination["id"],
                     eventTypeFilters=["member_created"])
    await gitlab.settle()
    collector.arrivals.clear()
    await make(gitlab, collector)
    assert {a.event["event_type"] for a in collector.to("acme")} == {"member_created"}
    assert len(collector.to("acme")) == 2 * 4


async def test_a_namespace_filter_narrows_to_a_subgroup_and_below(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    destination = await api.create(url=collector.url_for("acme"))
    await api.mutate(ops.NAMESPACE_FILTER_ADD, destinationId=destination["id"],
                     groupPath="acme/platform")
    await make(gitlab, collector)
    assert paths(collector, "acme") == sorted(["acme/platform", "acme/platform/api"] * 4)


async def test_an_inactive_destination_gets_nothing_until_reactivated(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    destination = await api.create(url=collector.url_for("acme"))
    await api.mutate(ops.UPDATE, id=destination["id"], active=False)
    await gitlab.settle()
    collector.arrivals.clear()
    await gitlab.make_activity(3, on=["acme/website"])
    assert collector.to("acme") == []
    await api.mutate(ops.UPDATE, id=destination["id"], active=True)
    await gitlab.make_activity(3, on=["acme/website"])
    assert next(a.event["event_type"] for a in collector.to("acme")) == \
        "update_event_streaming_destination"
    assert len(collector.to("acme")) == 1 + 3


async def test_changes_to_destinations_are_streamed_as_audit_events(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    destination = await api.create(url=collector.url_for("acme"))
    await api.mutate(ops.EVENTS_ADD, destinationId=destination["id"],
                     eventTypeFilters=["event_type_filters_created",
                                       "destroy_event_streaming_destination"])
    await gitlab.settle()
    [first, second] = [a.event for a in collector.to("acme")]
    assert (first["event_type"], first["entity_path"], first["author_name"]) == (
        "create_event_streaming_destination", "acme", "Olivia Owner")
    assert first["target_type"] == "AuditEvents::ExternalAuditEventDestination"
    assert second["event_type"] == "event_type_filters_created"
    assert isinstance(first["id"], int)
    assert second["id"] == first["id"] + 1


async def test_non_2xx_answers_are_recorded_and_never_retried(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    collector.status = 500
    await api.create(url=collector.url_for("acme"))
    await gitlab.make_activity(4, on=["acme/website"])
    assert len(collector.to("acme")) == 1 + 4
    results = [(d.result, d.status) for d in gitlab.deliveries.all]
    assert results == [(Result.REFUSED, 500)] * 5


async def test_a_redirect_is_an_answer_and_is_not_followed(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    collector.status = 307
    await api.create(url=collector.url_for("acme"))
    await gitlab.make_activity(1, on=["acme/website"])
    assert len(collector.to("acme")) == 2
    assert collector.to("redirected") == []
    assert [(d.result, d.status) for d in gitlab.deliveries.all] == [(Result.REFUSED, 307)] * 2


async def test_a_slow_destination_times_out_once_and_is_not_retried(
        collector: Collector) -> None:
    collector.delay = 2.0
    config = GitLabConfig(delivery_timeout_seconds=0.3)
    async with running_gitlab(config=config) as gitlab:
        gitlab.core.create_destination(gitlab.core.directory.user_named("owner"),
                                       Api.LEGACY, Scope.GROUP, group_path="acme",
                                       url=collector.url_for("slow"))
        await gitlab.make_activity(1, on=["acme/website"])
        # Given up (TIMEOUT), not answered late: the collector would answer after 2 s.
        assert [d.result for d in gitlab.deliveries.all] == [Result.TIMEOUT] * 2
    assert len(collector.to("slow")) == 2


async def test_an_unreachable_destination_is_a_recorded_connection_error(
        api: GraphQL, gitlab: RunningGitLab) -> None:
    await api.create(url="http://127.0.0.1:9/closed")
    await gitlab.make_activity(1, on=["acme/website"])
    assert [d.result for d in gitlab.deliveries.all] == [Result.CONNECTION_ERROR] * 2
    assert all(d.error for d in gitlab.deliveries.all)


async def test_deliveries_are_concurrent(api: GraphQL, gitlab: RunningGitLab,
                                         collector: Collector) -> None:
    collector.delay = 0.3
    await api.create(url=collector.url_for("acme"))
    await gitlab.settle()
    started = asyncio.get_running_loop().time()
    await gitlab.make_activity(10, on=["acme/website"])
    assert asyncio.get_running_loop().time() - started < 2.0
    assert collector.in_flight_peak >= 5


async def test_every_attempt_is_recorded_with_what_was_sent(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    destination = await api.create(url=collector.url_for("acme"))
    [event] = await gitlab.make_activity(1, event_types=["member_created"],
                                         on=["acme/website"])
    record = gitlab.deliveries.of_event(event.id)[0]
    arrival = collector.to("acme")[-1]
    assert (record.url, record.destination_id) == (collector.url_for("acme"), destination["id"])
    assert (record.body, record.event_type, record.reason) == (
        arrival.body, "member_created", "event")
    assert record.headers["X-Gitlab-Event-Streaming-Token"] == \
        arrival.headers["X-Gitlab-Event-Streaming-Token"]
    assert (record.result, record.status, record.job_attempt) == (Result.DELIVERED, 200, 1)
    assert [d.number for d in gitlab.deliveries.to(destination["id"])] == [1, 2]
