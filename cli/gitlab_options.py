"""What the GitLab commands share: connection options, scope, running a call, errors, output."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from auditstream.client.api import ApiChoice, StreamingApi, streaming_api
from auditstream.client.errors import GitLabError
from auditstream.client.ids import BadId
from auditstream.client.legacy import DEFAULT_PAGE_SIZE
from auditstream.client.session import GitLabSession

T = TypeVar("T")

DEFAULT_GITLAB_URL = "https://gitlab.com"
_API_CHOICES: dict[str, ApiChoice] = {"auto": "auto", "legacy": "legacy",
                                      "consolidated": "consolidated"}


@dataclass(frozen=True, slots=True)
class GitLabTarget:
    """Which GitLab, as whom, and which destinations: a group's or the instance's."""

    url: str
    token: str | None
    group: str | None
    api: ApiChoice = "auto"
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def instance_name(self) -> str:
        """The dedup scope the receiver uses for this GitLab: its host name."""
        return urlsplit(self.url).hostname or self.url


def gitlab_options(command: Any) -> Any:
    """--gitlab-url, --token, --group PATH | --instance and --api, given to the command as one
    ``where: GitLabTarget``."""
    @functools.wraps(command)
    def with_target(*args: Any, gitlab_url: str, token: str | None, group: str | None,
                    instance: bool, api: str, **kwargs: Any) -> Any:
        return command(*args, where=target(gitlab_url, token, group, instance, api), **kwargs)

    for option in reversed([
        click.option("--gitlab-url", envvar="GITLAB_URL", default=DEFAULT_GITLAB_URL,
                     show_default=True, help="GitLab's base URL (env GITLAB_URL)."),
        click.option("--token", envvar="GITLAB_TOKEN", show_envvar=True,
                     help="A personal, group or project access token with the api scope."),
        click.option("--group", help="Full path of the top-level group."),
        click.option("--instance", is_flag=True,
                     help="Instance destinations (self-managed, administrators) instead."),
        click.option("--api", type=click.Choice(["auto", "legacy", "consolidated"]),
                     default="auto", show_default=True, envvar="AUDITSTREAM_GITLAB_API",
                     help="GitLab's streaming API: legacy (until 19.x), consolidated (16.11+, "
                          "the only one from 20.0), or auto (ask GitLab's schema)."),
    ]):
        with_target = option(with_target)
    return with_target


def target(gitlab_url: str, token: str | None, group: str | None, instance: bool,
           api: str = "auto") -> GitLabTarget:
    if bool(group) == instance:
        raise click.UsageError("give exactly one of --group PATH or --instance")
    parts = urlsplit(gitlab_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.UsageError(f"--gitlab-url: expected an http(s) URL such as "
                               f"https://gitlab.example.com, got {gitlab_url!r}")
    if not token:
        raise click.UsageError("--token (or GITLAB_TOKEN) is needed: an access token with "
                               "the api scope")
    return GitLabTarget(url=gitlab_url.rstrip("/"), token=token, group=group,
                        api=_API_CHOICES[api])


def call(where: GitLabTarget, action: Callable[[StreamingApi], Awaitable[T]]) -> T:
    """Run ``action`` on the target's API; GitLab's failures exit 1 with its message."""
    async def run() -> T:
        async with GitLabSession(where.url, where.token) as session:
            api = await streaming_api(session, where.group, where.api, where.page_size)
            return await action(api)

    try:
        return asyncio.run(run())
    except BadId as exc:
        raise click.UsageError(str(exc)) from exc
    except GitLabError as exc:
        raise click.ClickException(f"GitLab: {exc}") from exc
