"""GitLab's validation rules, each with GitLab's message in the payload's ``errors`` array
(object null, HTTP 200), and the refusals GitLab makes at the top level instead."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from auditstream.server.gitlab import GitLabConfig, Knobs, RunningGitLab, running_gitlab
from tests.server.gitlab import operations as ops
from tests.server.gitlab.conftest import GraphQL

LOCAL = "http://127.0.0.1:9"


async def create_errors(api: GraphQL, **input_values: Any) -> list[str]:
    values = {"groupPath": "acme", "destinationUrl": f"{LOCAL}/x", **input_values}
    answer = await api.mutate(ops.CREATE, **values)
    payload = answer.payload("externalAuditEventDestinationCreate")
    if payload["errors"]:
        assert payload["externalAuditEventDestination"] is None
    errors: list[str] = payload["errors"]
    return errors


async def test_a_subgroup_cannot_have_destinations(api: GraphQL) -> None:
    assert await create_errors(api, groupPath="acme/platform") == [
        "Group must not be a subgroup"]


async def test_a_sixth_destination_is_refused(api: GraphQL) -> None:
    for number in range(5):
        assert await create_errors(api, destinationUrl=f"{LOCAL}/{number}") == []
    assert await create_errors(api, destinationUrl=f"{LOCAL}/6") == [
        "Maximum number of external audit event destinations (5) exceeded"]


@pytest.mark.parametrize(("url", "message"), [
    ("", "Destination url can't be blank"),
    ("http://127.0.0.1:9/" + "x" * 240, "Destination url is too long (maximum is 255 "
                                       "characters)"),
    ("ftp://127.0.0.1/x", "Destination url is blocked: Only allowed schemes are http, https"),
    ("not a url", "Destination url is blocked: Only allowed schemes are http, https"),
    ("http://", "Destination url is blocked: URI is invalid"),
    ("http://host:port/", "Destination url is blocked: URI is invalid"),
])
async def test_a_bad_url_is_refused_with_gitlabs_message(api: GraphQL, url: str,
                                                         message: str) -> None:
    assert await create_errors(api, destinationUrl=url) == [message]


async def test_a_url_is_unique_in_its_group_but_not_across_groups(api: GraphQL) -> None:
    await api.create(url=f"{LOCAL}/same")
    assert await create_errors(api, destinationUrl=f"{LOCAL}/same") == [
        "Destination url has already been taken"]
    await api.create("globex", f"{LOCAL}/same", as_user="globex-owner")


async def test_name_length_and_uniqueness(api: GraphQL) -> None:
    assert await create_errors(api, name="n" * 73) == [
        "Name is too long (maximum is 72 characters)"]
    await api.create(url=f"{LOCAL}/a", name="siem")
    assert await create_errors(api, destinationUrl=f"{LOCAL}/b", name="siem") == [
        "Name has already been taken"]


@pytest.mark.parametrize(("token", "message"), [
    ("t" * 15, "Verification token is too short (minimum is 16 characters)"),
    ("t" * 25, "Verification token is too long (maximum is 24 characters)"),
])
async def test_token_length_is_16_to_24(api: GraphQL, token: str, message: str) -> None:
    assert await create_errors(api, verificationToken=token) == [message]


async def test_token_is_unique_in_its_group(api: GraphQL) -> None:
    await api.create(url=f"{LOCAL}/a", verificationToken="a-token-of-16-chars")
    assert await create_errors(api, destinationUrl=f"{LOCAL}/b",
                               verificationToken="a-token-of-16-chars") == [
        "Verification token has already been taken"]


async def test_every_broken_rule_is_reported_at_once(api: GraphQL) -> None:
    assert await create_errors(api, destinationUrl="ftp://x", name="n" * 80,
                               verificationToken="short") == [
        "Destination url is blocked: Only allowed schemes are http, https",
        "Name is too long (maximum is 72 characters)",
        "Verification token is too short (minimum is 16 characters)"]


async def test_update_is_held_to_the_same_rules(api: GraphQL) -> None:
    await api.create(url=f"{LOCAL}/a")
    second = await api.create(url=f"{LOCAL}/b")
    answer = await api.mutate(ops.UPDATE, id=second["id"], destinationUrl=f"{LOCAL}/a")
    assert answer.payload("externalAuditEventDestinationUpdate") == {
        "errors": ["Destination url has already been taken"],
        "externalAuditEventDestination": None}


@pytest.mark.parametrize(("url", "message"), [
    ("http://localhost:8080/x", "Requests to localhost are not allowed"),
    ("http://127.0.0.1:8080/x", "Requests to localhost are not allowed"),
    ("http://[::1]:8080/x", "Requests to localhost are not allowed"),
    ("http://10.1.2.3/x", "Requests to the local network are not allowed"),
    ("http://192.168.0.7/x", "Requests to the local network are not allowed"),
    ("http://169.254.169.254/latest", "Requests to the local network are not allowed"),
])
async def test_strict_mode_blocks_localhost_and_private_urls(url: str, message: str) -> None:
    async with running_gitlab(config=GitLabConfig(strict_urls=True)) as strict, \
            aiohttp.ClientSession() as session:
        errors = await create_errors(GraphQL(session, strict), destinationUrl=url)
    assert errors == [f"Destination url is blocked: {message}"]


async def test_strict_mode_lets_public_urls_through() -> None:
    # Every delivery dropped: the audit events of these creations must not leave loopback.
    config = GitLabConfig(strict_urls=True, knobs=Knobs(drop_rate=1.0))
    async with running_gitlab(config=config) as strict, aiohttp.ClientSession() as session:
        api = GraphQL(session, strict)
        assert await create_errors(api, destinationUrl="https://siem.example.com/x") == []
        assert await create_errors(api, destinationUrl="https://8.8.8.8/x") == []
        await strict.settle()
        assert {d.result.value for d in strict.deliveries.all} == {"dropped"}


async def header_errors(api: GraphQL, destination_id: str, key: str,
                        value: str = "v") -> list[str]:
    answer = await api.mutate(ops.HEADER_CREATE, destinationId=destination_id, key=key,
                              value=value)
    errors: list[str] = answer.payload("auditEventsStreamingHeadersCreate")["errors"]
    return errors


async def test_header_rules(api: GraphQL) -> None:
    destination = (await api.create())["id"]
    assert await header_errors(api, destination, "k" * 256) == [
        "Key is too long (maximum is 255 characters)"]
    assert await header_errors(api, destination, "X-A", "v" * 2001) == [
        "Value is too long (maximum is 2000 characters)"]
    assert await header_errors(api, destination, "X-A", "") == ["Value can't be blank"]
    assert await header_errors(api, destination, "") == ["Key can't be blank"]
    assert await header_errors(api, destination, "X-Gitlab-Event-Streaming-Token") == [
        "Key cannot be X-Gitlab-Event-Streaming-Token"]
    assert await header_errors(api, destination, "X-A") == []
    assert await header_errors(api, destination, "X-A") == ["Key has already been taken"]


async def test_a_21st_header_is_refused(api: GraphQL) -> None:
    destination = (await api.create())["id"]
    for number in range(20):
        assert await header_errors(api, destination, f"X-{number}") == []
    assert await header_errors(api, destination, "X-20") == [
        "Headers are limited to 20 per destination"]


async def test_header_update_keeps_keys_unique(api: GraphQL) -> None:
    destination = (await api.create())["id"]
    await header_errors(api, destination, "X-A")
    answer = await api.mutate(ops.HEADER_CREATE, destinationId=destination, key="X-B",
                              value="b")
    header = answer.payload("auditEventsStreamingHeadersCreate")["header"]
    updated = await api.mutate(ops.HEADER_UPDATE, headerId=header["id"], key="X-A", value="b")
    assert updated.payload("auditEventsStreamingHeadersUpdate") == {
        "errors": ["Key has already been taken"], "header": None}


async def test_empty_filter_list_is_a_top_level_error(api: GraphQL) -> None:
    destination = (await api.create())["id"]
    answer = await api.mutate(ops.EVENTS_ADD, destinationId=destination, eventTypeFilters=[])
    assert answer.errors == ["eventTypeFilters is too short (minimum is 1)"]
    assert answer.data == {"auditEventsStreamingDestinationEventsAdd": None}


async def test_filter_rules(api: GraphQL) -> None:
    destination = (await api.create())["id"]
    await api.mutate(ops.EVENTS_ADD, destinationId=destination, eventTypeFilters=["a"])
    again = await api.mutate(ops.EVENTS_ADD, destinationId=destination,
                             eventTypeFilters=["a"])
    assert again.payload("auditEventsStreamingDestinationEventsAdd") == {
        "errors": ["Validation failed: Audit event type has already been taken"],
        "eventTypeFilters": None}
    missing = await api.mutate(ops.EVENTS_REMOVE, destinationId=destination,
                               eventTypeFilters=["b", "c"])
    assert missing.payload("auditEventsStreamingDestinationEventsRemove")["errors"] == [
        "Couldn't find event type filters where audit event type(s): b, c"]


async def test_namespace_filter_rules(api: GraphQL) -> None:
    destination = (await api.create())["id"]
    both = await api.mutate(ops.NAMESPACE_FILTER_ADD, destinationId=destination,
                            groupPath="acme/platform", projectPath="acme/website")
    assert both.errors == [
        "AuditEventsStreamingHTTPNamespaceFiltersAddInput must include exactly one of the "
        "following arguments: groupPath, projectPath."]
    first = await api.mutate(ops.NAMESPACE_FILTER_ADD, destinationId=destination,
                             groupPath="acme/platform")
    assert first.payload("auditEventsStreamingHttpNamespaceFiltersAdd")["errors"] == []
    second = await api.mutate(ops.NAMESPACE_FILTER_ADD, destinationId=destination,
                              projectPath="acme/website")
    assert second.payload("auditEventsStreamingHttpNamespaceFiltersAdd")["errors"] == [
        "External audit event destination has already been taken"]


async def test_namespace_filter_must_lie_in_the_destinations_group(
        api: GraphQL) -> None:
    destination = (await api.create())["id"]
    answer = await api.mutate(ops.NAMESPACE_FILTER_ADD, destinationId=destination,
                              projectPath="globex/portal", as_user="admin")
    assert answer.payload("auditEventsStreamingHttpNamespaceFiltersAdd")["errors"] == [
        "Namespace is not a descendant of the group associated with the destination"]


@pytest.mark.parametrize(("value", "words"), [
    ("nonsense", '"nonsense" is not a valid Global ID'),
    ("gid://gitlab/AuditEvents::Streaming::Header/1",
     "does not represent an instance of AuditEvents::ExternalAuditEventDestination"),
    (7, "is not a valid Global ID"),
])
async def test_a_malformed_id_is_a_top_level_error(api: GraphQL, value: object,
                                                   words: str) -> None:
    answer = await api.mutate(ops.DESTROY, id=value)
    assert answer.status == 200
    [message] = answer.errors
    assert words in message
    assert answer.data is None


async def test_a_destination_of_another_kind_is_not_found(api: GraphQL,
                                                          gitlab: RunningGitLab) -> None:
    answer = await api.mutate(ops.DESTROY,
                              id="gid://gitlab/AuditEvents::ExternalAuditEventDestination/99")
    assert answer.errors == [
        "The resource that you are attempting to access does not exist or you don't have "
        "permission to perform this action"]
    assert answer.data == {"externalAuditEventDestinationDestroy": None}
