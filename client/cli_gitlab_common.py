"""What the GitLab commands share: connection options, scope, running a call, errors, output."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from client.gitlab.errors import GitLabError
from client.gitlab.ids import BadId
from client.gitlab.legacy import DEFAULT_PAGE_SIZE, LegacyStreamingApi
from client.gitlab.session import GitLabSession

T = TypeVar("T")

DEFAULT_GITLAB_URL = "https://gitlab.com"


@dataclass(frozen=True, slots=True)
class GitLabTarget:
    """Which GitLab, as whom, and which destinations: a group's or the instance's."""

    url: str
    token: str | None
    group: str | None
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def instance_name(self) -> str:
        """The dedup scope the receiver uses for this GitLab: its host name."""
        return urlsplit(self.url).hostname or self.url


def gitlab_options(command: Any) -> Any:
    """--gitlab-url, --token, and --group PATH | --instance."""
    for option in reversed([
        click.option("--gitlab-url", envvar="GITLAB_URL", default=DEFAULT_GITLAB_URL,
                     show_default=True, help="GitLab's base URL (env GITLAB_URL)."),
        click.option("--token", envvar="GITLAB_TOKEN", show_envvar=True,
                     help="A personal, group or project access token with the api scope."),
        click.option("--group", help="Full path of the top-level group."),
        click.option("--instance", is_flag=True,
                     help="Instance destinations (self-managed, administrators) instead."),
    ]):
        command = option(command)
    return command


def target(gitlab_url: str, token: str | None, group: str | None, instance: bool) -> GitLabTarget:
    if bool(group) == instance:
        raise click.UsageError("give exactly one of --group PATH or --instance")
    parts = urlsplit(gitlab_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.UsageError(f"--gitlab-url: expected an http(s) URL such as "
                               f"https://gitlab.example.com, got {gitlab_url!r}")
    if not token:
        raise click.UsageError("--token (or GITLAB_TOKEN) is needed: an access token with "
                               "the api scope")
    return GitLabTarget(url=gitlab_url.rstrip("/"), token=token, group=group)


def call(where: GitLabTarget, action: Callable[[LegacyStreamingApi], Awaitable[T]]) -> T:
    """Run ``action`` on the target's API; GitLab's failures exit 1 with its message."""
    async def run() -> T:
        async with GitLabSession(where.url, where.token) as session:
            return await action(LegacyStreamingApi(session, where.group, where.page_size))

    try:
        return asyncio.run(run())
    except BadId as exc:
        raise click.UsageError(str(exc)) from exc
    except GitLabError as exc:
        raise click.ClickException(f"GitLab: {exc}") from exc
