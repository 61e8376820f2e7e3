"""``[canary]``: the continuous canary of ``run`` and ``receive`` (opt-in).

    [canary]
    gitlab_url = "https://gitlab.example.com"
    token_env = "GITLAB_CANARY_TOKEN"     # or token_file: an access token with the api scope
    group = "acme"                        # or instance = true
    every = "30m"                         # a canary to each destination this often
    wait = "2m"                           # how long each may take to reach the journal
    api = "auto"                          # or "legacy", "consolidated"

Each round adds a custom header to every configured destination of that group (or the
instance) and removes it at once; GitLab streams the audit event of the change, and the
canary is how long it took to reach the journal (see ``cli.canary``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from auditstream.common.secrets import Secret
from auditstream.config.section import Section

DEFAULT_CANARY_EVERY_SECONDS = 1800.0
DEFAULT_CANARY_WAIT_SECONDS = 120.0
CANARY_APIS = ("auto", "legacy", "consolidated")
DEFAULT_CANARY_API = "auto"
DEFAULT_CANARY_INSTANCE = False


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    gitlab_url: str
    token: Secret
    group: str | None  # None: the instance's destinations
    every_seconds: float = DEFAULT_CANARY_EVERY_SECONDS
    wait_seconds: float = DEFAULT_CANARY_WAIT_SECONDS
    api: str = DEFAULT_CANARY_API

    @property
    def scope(self) -> str:
        return f"group:{self.group}" if self.group else "instance"


def canary_from(section: Section) -> CanaryConfig:
    section.only("gitlab_url", "token_env", "token_file", "group", "instance", "every", "wait",
                 "api")
    url = section.string("gitlab_url").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise section.error("gitlab_url", f"expected an http(s) URL such as "
                                          f"https://gitlab.example.com, got {url!r}")
    tokens = section.secrets("token_env", "token_file", fewest=1, most=1,
                             what="the canary (a GitLab access token with the api scope)")
    group = section.optional_string("group")
    if (group is None) != section.boolean("instance", DEFAULT_CANARY_INSTANCE):
        raise section.error("group", "give exactly one of group = PATH and instance = true")
    api = section.choice("api", DEFAULT_CANARY_API, CANARY_APIS)
    wait = section.duration("wait", DEFAULT_CANARY_WAIT_SECONDS)
    every = section.duration("every", DEFAULT_CANARY_EVERY_SECONDS)
    if wait >= every:
        raise section.error("wait", "must be shorter than every")
    return CanaryConfig(gitlab_url=url, token=tokens[0], group=group, every_seconds=every,
                        wait_seconds=wait, api=api)
