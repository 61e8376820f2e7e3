"""Who a request is: the personal access token in ``Authorization: Bearer`` or
``PRIVATE-TOKEN``, as GitLab reads them. No token is an anonymous request; a token nobody
holds is refused outright (GraphQL: 401 "Invalid token"; REST: 401 Unauthorized)."""

from __future__ import annotations

from collections.abc import Mapping

from auditstream.server.gitlab.directory import Directory, User
from auditstream.server.gitlab.errors import UnknownToken

INVALID_TOKEN = "Invalid token"  # noqa: S105 (GitLab's message, not a secret)


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The token a request carries, if any (``PRIVATE-TOKEN`` first, as GitLab checks)."""
    private = headers.get("PRIVATE-TOKEN")
    if private:
        return private.strip()
    scheme, _, value = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(headers: Mapping[str, str], directory: Directory) -> User | None:
    """The user a request acts as; None when anonymous; ``UnknownToken`` when refused."""
    token = presented_token(headers)
    if token is None:
        return None
    user = directory.user_by_token(token)
    if user is None:
        raise UnknownToken
    return user
