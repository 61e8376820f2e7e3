"""What every resolver gets: the stand-in's GitLab and the user the request authenticated as,
plus the payload shape all Relay-style mutations share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from auditstream.server.gitlab.core import GitLabCore
from auditstream.server.gitlab.destinations import Outcome
from auditstream.server.gitlab.directory import User


@dataclass(frozen=True, slots=True)
class RequestContext:
    """``user`` is None for a request without a token (introspection needs none)."""

    core: GitLabCore
    user: User | None


if TYPE_CHECKING:
    Info = GraphQLResolveInfo[RequestContext]
else:  # graphql-core's class is generic for type checkers only on some Pythons
    Info = GraphQLResolveInfo


def context(info: Info) -> RequestContext:
    found = info.context
    if not isinstance(found, RequestContext):
        raise TypeError("the GraphQL context must be a RequestContext")
    return found


def payload(arguments: dict[str, Any], outcome: Outcome[Any],
            field: str | None = None) -> dict[str, Any]:
    """A mutation's payload: ``clientMutationId`` echoed, ``errors`` (GitLab's validation
    messages), and the object acted on under ``field`` (null when refused)."""
    answer: dict[str, Any] = {"clientMutationId": arguments.get("clientMutationId"),
                              "errors": list(outcome.errors)}
    if field is not None:
        answer[field] = outcome.value
    return answer
