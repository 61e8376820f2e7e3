"""Who may do what: Owner of a top-level group for its destinations, an administrator for the
instance's; everyone else gets GitLab's "does not exist or you don't have permission" at the
top level (mutations) or a null (reading), and a token nobody holds gets 401."""

from __future__ import annotations

import pytest

from auditstream.server.gitlab import RESOURCE_NOT_AVAILABLE, RunningGitLab
from tests.server.gitlab import operations as ops
from tests.server.gitlab.conftest import GraphQL

CREATE_INPUT = {"groupPath": "acme", "destinationUrl": "http://127.0.0.1:9/x"}


@pytest.mark.parametrize("user", ["maintainer", "developer", "outsider", "globex-owner", None])
async def test_only_an_owner_may_create_a_group_destination(api: GraphQL,
                                                            user: str | None) -> None:
    answer = await api.run(ops.CREATE, {"input": CREATE_INPUT}, as_user=user)
    assert answer.status == 200
    assert answer.errors == [RESOURCE_NOT_AVAILABLE]
    assert answer.data == {"externalAuditEventDestinationCreate": None}


async def test_an_administrator_may_manage_any_group(api: GraphQL) -> None:
    created = await api.create(as_user="admin")
    assert created["group"]["fullPath"] == "acme"


async def test_an_owner_inherited_from_the_parent_hits_the_subgroup_rule(
        api: GraphQL) -> None:
    answer = await api.mutate(ops.CREATE, groupPath="acme/platform",
                              destinationUrl="http://127.0.0.1:9/x")
    assert answer.payload("externalAuditEventDestinationCreate")["errors"] == [
        "Group must not be a subgroup"]


async def test_an_unknown_group_reads_as_no_permission(api: GraphQL) -> None:
    answer = await api.mutate(ops.CREATE, groupPath="nowhere",
                              destinationUrl="http://127.0.0.1:9/x")
    assert answer.errors == [RESOURCE_NOT_AVAILABLE]


@pytest.mark.parametrize("user", ["maintainer", "developer", "globex-owner", None])
async def test_others_cannot_change_or_see_an_owners_destination(api: GraphQL,
                                                                 user: str | None) -> None:
    destination = await api.create()
    for document, values in (
            (ops.UPDATE, {"id": destination["id"], "name": "mine"}),
            (ops.DESTROY, {"id": destination["id"]}),
            (ops.HEADER_CREATE, {"destinationId": destination["id"], "key": "K",
                                 "value": "v"}),
            (ops.EVENTS_ADD, {"destinationId": destination["id"], "eventTypeFilters": ["a"]}),
            (ops.NAMESPACE_FILTER_ADD, {"destinationId": destination["id"],
                                        "groupPath": "acme/platform"})):
        answer = await api.run(document, {"input": values}, as_user=user)
        assert answer.errors == [RESOURCE_NOT_AVAILABLE], document
    listed = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme"}, as_user=user)
    assert listed.errors == []
    group = listed.data["group"]
    assert group is None or group["externalAuditEventDestinations"] is None


async def test_a_maintainer_sees_the_group_but_not_its_destinations(api: GraphQL) -> None:
    await api.create()
    listed = await api.run(ops.GROUP_DESTINATIONS, {"fullPath": "acme"}, as_user="maintainer")
    assert listed.data == {"group": {"externalAuditEventDestinations": None}}


@pytest.mark.parametrize("user", ["outsider", None])
async def test_a_group_you_cannot_see_is_null_without_an_error(api: GraphQL,
                                                               user: str | None) -> None:
    answer = await api.run(ops.GROUP, {"fullPath": "acme"}, as_user=user)
    assert (answer.errors, answer.data) == ([], {"group": None})


async def test_headers_of_another_groups_destination_are_out_of_reach(api: GraphQL) -> None:
    destination = await api.create()
    answer = await api.mutate(ops.HEADER_CREATE, destinationId=destination["id"], key="K",
                              value="v")
    header = answer.payload("auditEventsStreamingHeadersCreate")["header"]
    for document in (ops.HEADER_UPDATE, ops.HEADER_DESTROY):
        values = {"headerId": header["id"], "key": "K", "value": "w"}
        if document is ops.HEADER_DESTROY:
            values = {"headerId": header["id"]}
        refused = await api.run(document, {"input": values}, as_user="globex-owner")
        assert refused.errors == [RESOURCE_NOT_AVAILABLE]


@pytest.mark.parametrize("user", ["owner", "maintainer", None])
async def test_only_an_administrator_manages_instance_destinations(api: GraphQL,
                                                                   user: str | None) -> None:
    answer = await api.mutate(ops.INSTANCE_CREATE, as_user=user,
                              destinationUrl="http://127.0.0.1:9/all")
    assert answer.errors == [RESOURCE_NOT_AVAILABLE]
    listed = await api.run(ops.INSTANCE_DESTINATIONS, as_user=user)
    assert listed.errors == [RESOURCE_NOT_AVAILABLE]
    assert listed.data == {"instanceExternalAuditEventDestinations": None}


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer glpat-nobody-has-this-one"},
                                     {"PRIVATE-TOKEN": "glpat-nobody-has-this-one"}])
async def test_a_token_nobody_holds_is_401_invalid_token(api: GraphQL,
                                                         headers: dict[str, str]) -> None:
    answer = await api.run(ops.CURRENT_USER, as_user=None, headers=headers)
    assert (answer.status, answer.body) == (401, {"errors": [{"message": "Invalid token"}]})


async def test_both_token_headers_authenticate(api: GraphQL, gitlab: RunningGitLab) -> None:
    token = gitlab.token_for("owner")
    for headers in ({"Authorization": f"Bearer {token}"}, {"PRIVATE-TOKEN": token}):
        answer = await api.run(ops.CURRENT_USER, as_user=None, headers=headers)
        assert answer.data == {"currentUser": {"id": "gid://gitlab/User/2",
                                               "username": "owner", "name": "Olivia Owner"}}


async def test_without_a_token_the_current_user_is_null(api: GraphQL) -> None:
    answer = await api.run(ops.CURRENT_USER, as_user=None)
    assert answer.data == {"currentUser": None}
