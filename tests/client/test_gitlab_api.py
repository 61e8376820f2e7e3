"""The client library against server/gitlab: both APIs, filters, and every operation valid."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from graphql import parse, validate

from auditstream.client.api import StreamingApi, detect, streaming_api
from auditstream.client.documents import LEGACY_OPERATIONS
from auditstream.client.documents_newer import API_PROBE, NEWER_OPERATIONS
from auditstream.client.errors import GitLabRefused, PermissionDenied, ValidationFailed
from auditstream.client.legacy import LegacyStreamingApi
from auditstream.client.session import GitLabSession
from auditstream.server.gitlab import RunningGitLab, running_gitlab
from auditstream.server.gitlab.schema import gitlab_schema


@pytest.mark.parametrize("name", sorted({**LEGACY_OPERATIONS, **NEWER_OPERATIONS}))
def test_every_operation_the_client_sends_validates(name: str) -> None:
    document = {**LEGACY_OPERATIONS, **NEWER_OPERATIONS}[name]
    assert validate(gitlab_schema(), parse(document)) == []


def test_the_api_probe_validates() -> None:
    assert validate(gitlab_schema(), parse(API_PROBE)) == []


@pytest.fixture
async def gitlab() -> AsyncIterator[RunningGitLab]:
    async with running_gitlab() as running:
        yield running


@pytest.fixture
async def session(gitlab: RunningGitLab) -> AsyncIterator[GitLabSession]:
    async with GitLabSession(gitlab.url, gitlab.token_for("owner")) as opened:
        yield opened


async def test_auto_detection_picks_legacy_while_gitlab_has_it(session: GitLabSession) -> None:
    assert await detect(session) == "legacy"


@pytest.mark.parametrize("choice", ["legacy", "consolidated"])
async def test_both_apis_manage_destinations_headers_and_filters(
        session: GitLabSession, choice: str) -> None:
    api: StreamingApi = await streaming_api(session, "acme", choice)  # type: ignore[arg-type]
    created = await api.create_destination("https://siem.example.com/c", "siem", None)
    assert (created.name, created.url, created.scope) == ("siem", "https://siem.example.com/c",
                                                          "group:acme")
    assert len(created.verification_token) >= 16
    header = await api.add_header(created.id, "X-Env", "prod")
    await api.update_header(header.id, "X-Env", "staging")
    assert await api.add_event_types(created.id, ["repository_git_operation"]) == [
        "repository_git_operation"]
    assert await api.set_namespace_filter(created.id, "acme/platform", "group") == (
        "acme/platform")
    [listed] = await api.destinations()
    assert [(h.key, h.value) for h in listed.headers] == [("X-Env", "staging")]
    assert listed.event_type_filters == ("repository_git_operation",)
    assert listed.namespace_filter == "acme/platform"
    renamed = await api.update_destination(created.id, "https://siem.example.com/d", "siem2")
    assert (renamed.name, renamed.url) == ("siem2", "https://siem.example.com/d")
    assert [(h.key, h.value) for h in renamed.headers] == [("X-Env", "staging")]
    await api.remove_namespace_filter(created.id)
    await api.remove_event_types(created.id, ["repository_git_operation"])
    await api.delete_header(header.id)
    [after] = await api.destinations()
    assert (after.headers, after.event_type_filters, after.namespace_filter) == ((), (), None)
    await api.delete_destination(created.id)
    assert await api.destinations() == []


@pytest.mark.parametrize("choice", ["legacy", "consolidated"])
async def test_gitlab_rules_come_back_with_gitlabs_words(
        session: GitLabSession, choice: str) -> None:
    api: StreamingApi = await streaming_api(session, "acme", choice)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed, match="too short"):
        await api.create_destination("https://siem.example.com/t", None, "short")


async def test_a_maintainer_is_told_the_owner_role_is_needed(gitlab: RunningGitLab) -> None:
    async with GitLabSession(gitlab.url, gitlab.token_for("maintainer")) as session:
        api = await streaming_api(session, "acme", "legacy")
        with pytest.raises(PermissionDenied) as refused:
            await api.create_destination("https://siem.example.com/m", None, None)
    assert "Owner role" in str(refused.value)
    assert "don't have permission" in str(refused.value)


async def test_streamed_events_follow_the_namespace_filter(
        gitlab: RunningGitLab, session: GitLabSession) -> None:
    from aiohttp import web

    received: list[bytes] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", collect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        api = await streaming_api(session, "acme", "legacy")
        created = await api.create_destination(f"http://127.0.0.1:{port}/f", None, None)
        await api.set_namespace_filter(created.id, "acme/platform", "group")
        await gitlab.settle()
        received.clear()
        await gitlab.make_activity(2, event_types=("member_created",), on=("acme/website",))
        await gitlab.make_activity(3, event_types=("member_created",),
                                   on=("acme/platform/api",))
        await gitlab.settle()
    finally:
        await runner.cleanup()
    assert len(received) == 3
    assert all(b"acme/platform/api" in body for body in received)


async def test_without_the_legacy_api_the_client_finds_and_uses_the_consolidated_one() -> None:
    from auditstream.server.gitlab import GitLabConfig

    async with running_gitlab(config=GitLabConfig(legacy_api=False)) as gitlab20, \
            GitLabSession(gitlab20.url, gitlab20.token_for("owner")) as session:
        assert await detect(session) == "consolidated"
        api = await streaming_api(session, "acme", "auto")
        created = await api.create_destination("https://siem.example.com/20", "v20", None)
        assert [d.id for d in await api.destinations()] == [created.id]
        assert "ExternalStreamingDestination" in created.id


class GitLab163Session:
    """A GitLab before 16.7: destinations list fine, but it knows no ``namespaceFilter``."""

    async def paginate(self, document: str, variables: dict[str, Any],
                       connection: Callable[[dict[str, Any]], dict[str, Any] | None],
                       *, role_hint: str = "") -> list[dict[str, Any]]:
        if "namespaceFilter" in document:
            raise GitLabRefused(["Field 'namespaceFilter' doesn't exist on type "
                                 "'ExternalAuditEventDestination'"])
        return [{"id": "gid://gitlab/AuditEvents::ExternalAuditEventDestination/1",
                 "name": "siem", "destinationUrl": "https://siem.example.com/a",
                 "verificationToken": "0123456789abcdef0123", "eventTypeFilters": [],
                 "headers": {"nodes": []}}]


async def test_a_gitlab_without_namespace_filters_still_lists_its_destinations() -> None:
    api = LegacyStreamingApi(GitLab163Session(), "acme")  # type: ignore[arg-type]
    [listed] = await api.destinations()
    assert (listed.name, listed.namespace_filter) == ("siem", None)
