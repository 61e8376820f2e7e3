"""The legacy API over real HTTP: destinations, headers, event type and namespace filters,
for groups and for the instance, with GitLab's names, IDs and payloads."""

from __future__ import annotations

import re

from auditstream.server.gitlab import RunningGitLab
from tests.server.gitlab import operations as ops
from tests.server.gitlab.conftest import GraphQL

BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{24}$")
UUID_NAME = re.compile(r"^Destination_[0-9a-f-]{36}$")


async def test_created_destination_gets_a_generated_base58_token_and_name(
        api: GraphQL) -> None:
    answer = await api.run(ops.CREATE, {"input": {
        "groupPath": "acme", "destinationUrl": "http://127.0.0.1:9/siem",
        "clientMutationId": "abc"}})
    payload = answer.payload("externalAuditEventDestinationCreate")
    created = payload["externalAuditEventDestination"]
    assert payload["clientMutationId"] == "abc"
    assert payload["errors"] == []
    assert created["id"] == "gid://gitlab/AuditEvents::ExternalAuditEventDestination/1"
    assert BASE58.match(created["verificationToken"])
    assert UUID_NAME.match(created["name"])
    assert created["group"] == {"id": "gid://gitlab/Group/1", "fullPath": "acme"}
    assert (created["eventTypeFilters"], created["active"]) == ([], True)
    assert created["headers"] == {"nodes": []}
    assert created["namespaceFilter"] is None


async def test_caller_may_choose_the_token_and_name(api: GraphQL) -> None:
    created = await api.create(verificationToken="my-own-token-0123", name="siem")
    assert (created["verificationToken"], created["name"]) == ("my-own-token-0123", "siem")


async def test_update_changes_only_what_is_given_and_keeps_the_token(api: GraphQL) -> None:
    created = await api.create(name="before")
    answer = await api.mutate(ops.UPDATE, id=created["id"], name="after", active=False)
    updated = answer.payload("externalAuditEventDestinationUpdate")
    assert updated["errors"] == []
    destination = updated["externalAuditEventDestination"]
    assert (destination["name"], destination["active"]) == ("after", False)
    assert destination["destinationUrl"] == created["destinationUrl"]
    assert destination["verificationToken"] == created["verificationToken"]


async def test_destroyed_destination_is_gone_from_the_list(api: GraphQL) -> None:
    first = await api.create(url="http://127.0.0.1:9/a")
    await api.create(url="http://127.0.0.1:9/b")
    answer = await api.mutate(ops.DESTROY, id=first["id"], clientMutationId="x")
    assert answer.payload("externalAuditEventDestinationDestroy") == {
        "clientMutationId": "x", "errors": []}
    listed = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme"})
    nodes = listed.data["group"]["externalAuditEventDestinations"]["nodes"]
    assert [n["destinationUrl"] for n in nodes] == ["http://127.0.0.1:9/b"]


async def test_destinations_page_forwards_and_backwards_with_cursors(api: GraphQL) -> None:
    urls = [f"http://127.0.0.1:9/{n}" for n in range(5)]
    for url in urls:
        await api.create(url=url)
    seen: list[str] = []
    after = None
    while True:
        answer = await api.run(ops.GROUP_DESTINATIONS,
                               {"fullPath": "acme", "first": 2, "after": after})
        page = answer.data["group"]["externalAuditEventDestinations"]
        seen += [n["destinationUrl"] for n in page["nodes"]]
        assert [e["node"]["id"] for e in page["edges"]] == [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == urls
    answer = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme", "last": 2,
                                                    "before": page["pageInfo"]["endCursor"]})
    page = answer.data["group"]["externalAuditEventDestinations"]
    assert [n["destinationUrl"] for n in page["nodes"]] == urls[2:4]
    assert page["pageInfo"]["hasPreviousPage"]
    assert page["pageInfo"]["hasNextPage"]


async def test_a_malformed_cursor_is_a_top_level_error(api: GraphQL) -> None:
    answer = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme", "after": "%%%"})
    assert answer.errors == ["Please provide a valid cursor"]


async def test_headers_are_created_updated_and_destroyed(api: GraphQL) -> None:
    destination = await api.create()
    answer = await api.mutate(ops.HEADER_CREATE, destinationId=destination["id"],
                              key="X-Siem", value="one")
    header = answer.payload("auditEventsStreamingHeadersCreate")["header"]
    assert header["id"] == "gid://gitlab/AuditEvents::Streaming::Header/1"
    assert (header["key"], header["value"], header["active"]) == ("X-Siem", "one", True)
    answer = await api.mutate(ops.HEADER_UPDATE, headerId=header["id"], key="X-Siem-2",
                              value="two", active=False)
    updated = answer.payload("auditEventsStreamingHeadersUpdate")["header"]
    assert (updated["key"], updated["value"], updated["active"]) == ("X-Siem-2", "two", False)
    answer = await api.mutate(ops.HEADER_DESTROY, headerId=header["id"])
    assert answer.payload("auditEventsStreamingHeadersDestroy")["errors"] == []
    listed = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme"})
    assert listed.data["group"]["externalAuditEventDestinations"]["nodes"][0]["headers"] == {
        "nodes": []}


async def test_event_type_filters_are_added_and_removed(api: GraphQL) -> None:
    destination = await api.create()
    answer = await api.mutate(ops.EVENTS_ADD, destinationId=destination["id"],
                              eventTypeFilters=["repository_git_operation", "member_created"])
    assert answer.payload("auditEventsStreamingDestinationEventsAdd") == {
        "errors": [], "eventTypeFilters": ["repository_git_operation", "member_created"]}
    answer = await api.mutate(ops.EVENTS_REMOVE, destinationId=destination["id"],
                              eventTypeFilters=["member_created"])
    assert answer.payload("auditEventsStreamingDestinationEventsRemove") == {"errors": []}
    listed = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme"})
    node = listed.data["group"]["externalAuditEventDestinations"]["nodes"][0]
    assert node["eventTypeFilters"] == ["repository_git_operation"]


async def test_namespace_filter_is_added_shown_and_deleted(api: GraphQL) -> None:
    destination = await api.create()
    answer = await api.mutate(ops.NAMESPACE_FILTER_ADD, destinationId=destination["id"],
                              projectPath="acme/website")
    created = answer.payload("auditEventsStreamingHttpNamespaceFiltersAdd")
    assert created["errors"] == []
    assert created["namespaceFilter"]["namespace"] == {
        "id": "gid://gitlab/Namespaces::ProjectNamespace/1", "fullPath": "acme/website"}
    listed = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme"})
    shown = listed.data["group"]["externalAuditEventDestinations"]["nodes"][0]
    assert shown["namespaceFilter"]["id"] == created["namespaceFilter"]["id"]
    assert shown["namespaceFilter"]["externalAuditEventDestination"] == {
        "id": destination["id"]}
    answer = await api.mutate(ops.NAMESPACE_FILTER_DELETE,
                              namespaceFilterId=created["namespaceFilter"]["id"])
    assert answer.payload("auditEventsStreamingHttpNamespaceFiltersDelete") == {"errors": []}


async def test_instance_destinations_with_headers_and_filters(api: GraphQL) -> None:
    answer = await api.mutate(ops.INSTANCE_CREATE, as_user="admin",
                              destinationUrl="http://127.0.0.1:9/all", name="all")
    created = answer.payload("instanceExternalAuditEventDestinationCreate")
    destination = created["instanceExternalAuditEventDestination"]
    assert destination["id"] == ("gid://gitlab/AuditEvents::"
                                 "InstanceExternalAuditEventDestination/1")
    assert BASE58.match(destination["verificationToken"])
    header = (await api.mutate(ops.INSTANCE_HEADER_CREATE, as_user="admin",
                               destinationId=destination["id"], key="X-A", value="a")
              ).payload("auditEventsStreamingInstanceHeadersCreate")["header"]
    assert header["id"] == "gid://gitlab/AuditEvents::Streaming::InstanceHeader/1"
    updated = await api.mutate(ops.INSTANCE_HEADER_UPDATE, as_user="admin",
                               headerId=header["id"], key="X-B", value="b")
    assert updated.payload("auditEventsStreamingInstanceHeadersUpdate")["header"]["key"] == "X-B"
    filters = await api.mutate(ops.INSTANCE_EVENTS_ADD, as_user="admin",
                               destinationId=destination["id"], eventTypeFilters=["a", "b"])
    assert filters.payload("auditEventsStreamingDestinationInstanceEventsAdd")[
        "eventTypeFilters"] == ["a", "b"]
    removed = await api.mutate(ops.INSTANCE_EVENTS_REMOVE, as_user="admin",
                               destinationId=destination["id"], eventTypeFilters=["a"])
    assert removed.payload("auditEventsStreamingDestinationInstanceEventsRemove")[
        "errors"] == []
    renamed = await api.mutate(ops.INSTANCE_UPDATE, as_user="admin", id=destination["id"],
                               name="everything")
    assert renamed.payload("instanceExternalAuditEventDestinationUpdate")[
        "instanceExternalAuditEventDestination"]["name"] == "everything"
    listed = await api.run(ops.INSTANCE_DESTINATIONS, as_user="admin")
    [node] = listed.data["instanceExternalAuditEventDestinations"]["nodes"]
    assert (node["eventTypeFilters"], node["headers"]["nodes"][0]["value"]) == (["b"], "b")
    gone = await api.mutate(ops.INSTANCE_HEADER_DESTROY, as_user="admin",
                            headerId=header["id"])
    assert gone.payload("auditEventsStreamingInstanceHeadersDestroy")["errors"] == []
    destroyed = await api.mutate(ops.INSTANCE_DESTROY, as_user="admin", id=destination["id"])
    assert destroyed.payload("instanceExternalAuditEventDestinationDestroy")["errors"] == []


async def test_every_change_is_a_stored_audit_event_on_the_group(
        api: GraphQL, gitlab: RunningGitLab) -> None:
    destination = await api.create()
    header = (await api.mutate(ops.HEADER_CREATE, destinationId=destination["id"], key="K",
                               value="v")).payload("auditEventsStreamingHeadersCreate")["header"]
    await api.mutate(ops.HEADER_UPDATE, headerId=header["id"], key="K", value="w")
    await api.mutate(ops.HEADER_DESTROY, headerId=header["id"])
    await api.mutate(ops.EVENTS_ADD, destinationId=destination["id"], eventTypeFilters=["x"])
    await api.mutate(ops.EVENTS_REMOVE, destinationId=destination["id"],
                     eventTypeFilters=["x"])
    await api.mutate(ops.UPDATE, id=destination["id"], name="renamed")
    await api.mutate(ops.DESTROY, id=destination["id"])
    stored = gitlab.events.stored
    assert [e.event_type for e in stored] == [
        "create_event_streaming_destination", "audit_events_streaming_headers_create",
        "audit_events_streaming_headers_update", "audit_events_streaming_headers_destroy",
        "event_type_filters_created", "event_type_filters_deleted",
        "update_event_streaming_destination", "destroy_event_streaming_destination"]
    assert {(e.entity.type, e.entity.path, e.author.username) for e in stored} == {
        ("Group", "acme", "owner")}
    assert [e.id for e in stored] == list(range(1, 9))


async def test_current_user_and_group_read_as_gitlab_shows_them(api: GraphQL) -> None:
    me = await api.run(ops.CURRENT_USER, as_user="developer")
    assert me.data == {"currentUser": {"id": "gid://gitlab/User/4", "username": "developer",
                                       "name": "Dana Developer"}}
    group = await api.run(ops.GROUP, {"fullPath": "acme/platform"}, as_user="developer")
    assert group.data["group"] == {"id": "gid://gitlab/Group/2", "fullPath": "acme/platform",
                                   "name": "Platform", "path": "platform",
                                   "parent": {"fullPath": "acme"}}
