"""Errors of the GitLab client. GitLab's own message is always kept, word for word.

    GitLabError                  base
    ├── GitLabUnavailable        GitLab did not answer, or not with GraphQL (network, 5xx, a
    │                            proxy's HTML); connection failures were retried already.
    │                            Retrying later can help.
    │   └── RateLimited          REST: still 429 after the bounded waits; try later
    ├── GitLabAuthError          GitLab refused the access token (HTTP 401/403); fix the token
    ├── GitLabRedirected         the GitLab URL answered with a redirect (never followed: an
    │                            answer from another origin is not GitLab's); fix --gitlab-url
    └── GitLabRefused            GitLab answered and said no; retrying the same call cannot help
        ├── PermissionDenied     "does not exist or you don't have permission": says which
        │                        role the operation needs (REST: 403)
        ├── NotFound             REST 404: the group, project or endpoint is not there (or
        │                        not visible to the token's user); names what was asked for
        └── ValidationFailed     the input broke one of GitLab's rules (payload ``errors`` or a
                                 top-level "Validation failed: ...")
"""

from __future__ import annotations


class GitLabError(Exception):
    """Base of every GitLab client error."""


class GitLabUnavailable(GitLabError):
    """No (GraphQL) answer from GitLab; retrying later can help."""


class GitLabAuthError(GitLabError):
    """GitLab refused the access token."""


class GitLabRedirected(GitLabError):
    """The GitLab URL answered with a 3xx; not followed. Retrying the same URL cannot help."""


class GitLabRefused(GitLabError):
    """GitLab answered with errors; ``messages`` are GitLab's own."""

    def __init__(self, messages: list[str], hint: str = "") -> None:
        self.messages = messages
        self.hint = hint
        text = "; ".join(messages)
        super().__init__(f"{text} ({hint})" if hint else text)


class RateLimited(GitLabUnavailable):
    """GitLab kept answering 429 after the waits it asked for; retrying later can help."""


class NotFound(GitLabRefused):
    """REST 404: what was asked for is not there, or the token's user cannot see it."""


class PermissionDenied(GitLabRefused):
    """The object does not exist, or the token's user may not act on it."""


class ValidationFailed(GitLabRefused):
    """GitLab's validation rules refused the input."""
