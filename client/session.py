"""The I/O edge of the client: gql over aiohttp, retries, and GitLab's errors translated once.

GitLab puts errors in two places: the payload's ``errors`` array (validation; HTTP 200, the
object null) and the top-level ``errors`` (permissions, malformed ids, and since 17.x some
"Validation failed: ..."). Both come out of here as ``GitLabRefused`` subclasses carrying
GitLab's message. Connection failures are retried with backoff; query errors never.

No request follows a redirect: an answer from another origin is not GitLab's (and a 301/302
would turn a mutation into a GET). A client middleware sees every answer before aiohttp could
follow it and refuses a 3xx as ``GitLabRedirected``, naming the ``Location``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)

from auditstream.client.errors import (
    GitLabAuthError,
    GitLabError,
    GitLabRedirected,
    GitLabRefused,
    GitLabUnavailable,
    PermissionDenied,
    ValidationFailed,
)
from auditstream.common.locations import describe_location

log = logging.getLogger("auditstream.gitlab")

DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_SECONDS = 0.5
NOT_FOUND_OR_FORBIDDEN = "does not exist or you don't have permission"
# What GitLab's GraphQL endpoint says (with HTTP 401) for a token it does not know or revoked.
INVALID_TOKEN_MESSAGES = {"Invalid token", "Token has expired", "Token has been revoked"}
_RETRYABLE_STATUS = {429, 502, 503, 504}


class GitLabSession:
    """One connection to ``{gitlab_url}/api/graphql`` with a personal access token."""

    def __init__(self, gitlab_url: str, token: str | None, *,
                 timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
                 attempts: int = DEFAULT_ATTEMPTS,
                 backoff_seconds: float = DEFAULT_BACKOFF_SECONDS) -> None:
        self.gitlab_url = gitlab_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._transport = AIOHTTPTransport(
            url=self.gitlab_url + "/api/graphql", headers=headers, timeout=timeout_seconds,
            client_session_args={"middlewares": (refuse_redirects,)})
        self._client = Client(transport=self._transport, fetch_schema_from_transport=False)
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._session: Any = None

    async def __aenter__(self) -> GitLabSession:
        try:
            self._session = await self._client.connect_async(  # type: ignore[no-untyped-call]
                reconnecting=False)
        except (TransportError, aiohttp.ClientError, OSError) as exc:
            raise GitLabUnavailable(f"cannot reach {self.gitlab_url}: {exc}") from exc
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self._client.close_async()  # type: ignore[no-untyped-call]

    async def execute(self, document: str, variables: dict[str, Any] | None = None,
                      *, role_hint: str = "") -> dict[str, Any]:
        """Run one operation; the ``data`` dict, or a ``GitLabError``."""
        request = GraphQLRequest(document, variable_values=variables or {})
        for attempt in range(self._attempts):
            try:
                result: dict[str, Any] = await self._session.execute(
                    request, extra_args={"allow_redirects": False})
                return result
            except GitLabRedirected:
                raise
            except TransportQueryError as exc:
                raise refused(exc, role_hint) from exc
            except (TransportConnectionFailed, TransportServerError, TimeoutError,
                    aiohttp.ClientError, OSError) as exc:
                if isinstance(exc.__cause__, GitLabRedirected):
                    raise exc.__cause__ from exc  # gql wraps what the middleware raised
                if not _retryable(exc) or attempt == self._attempts - 1:
                    raise _unavailable(exc, self.gitlab_url) from exc
                delay = self._backoff * 2 ** attempt
                log.warning("GitLab did not answer (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
            except TransportProtocolError as exc:
                raise GitLabUnavailable(f"{self.gitlab_url} did not answer with GraphQL: "
                                        f"{exc}") from exc
        raise GitLabUnavailable(f"{self.gitlab_url}: no answer")  # pragma: no cover

    async def mutate(self, document: str, field: str, variables: dict[str, Any],
                     *, role_hint: str = "") -> dict[str, Any]:
        """Run a mutation and return its payload, raising on the payload's ``errors``."""
        data = await self.execute(document, variables, role_hint=role_hint)
        payload = data.get(field)
        if payload is None:
            raise PermissionDenied([f"GitLab returned no result for {field}"], role_hint)
        errors = [str(message) for message in payload.get("errors") or []]
        if errors:
            raise ValidationFailed(errors)
        result: dict[str, Any] = payload
        return result

    async def paginate(self, document: str, variables: dict[str, Any],
                       connection: Callable[[dict[str, Any]], dict[str, Any] | None],
                       *, role_hint: str = "") -> list[dict[str, Any]]:
        """Every node of a connection, following ``pageInfo.endCursor``."""
        nodes: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            data = await self.execute(document, {**variables, "after": after},
                                      role_hint=role_hint)
            page = connection(data)
            if page is None:
                return nodes
            nodes.extend(node for node in page.get("nodes") or [] if node)
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return nodes
            after = info["endCursor"]


async def refuse_redirects(request: aiohttp.ClientRequest,
                           handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    """An aiohttp client middleware: a 3xx answer is an error, before anything follows it."""
    response = await handler(request)
    if 300 <= response.status < 400:
        location = response.headers.get("Location")
        response.release()
        raise GitLabRedirected(
            f"{request.url.origin()} answered HTTP {response.status}, a redirect to "
            f"{describe_location(location)}; redirects are never followed (an answer from "
            "another origin is not GitLab's): set --gitlab-url to the URL GitLab answers on")
    return response


def refused(exc: TransportQueryError, role_hint: str) -> GitLabError:
    """Top-level GraphQL errors as our errors, with GitLab's messages."""
    messages = [str(error.get("message", error)) if isinstance(error, dict) else str(error)
                for error in exc.errors or []] or [str(exc)]
    if any(message in INVALID_TOKEN_MESSAGES for message in messages):
        return GitLabAuthError(f"GitLab refused the access token ({'; '.join(messages)}): "
                               "check --token or GITLAB_TOKEN (it needs the api scope)")
    if any(NOT_FOUND_OR_FORBIDDEN in message for message in messages):
        return PermissionDenied(messages, role_hint)
    if any(message.startswith("Validation failed") for message in messages):
        return ValidationFailed(messages)
    return GitLabRefused(messages)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, TransportServerError):
        return exc.code in _RETRYABLE_STATUS or exc.code is None
    return True


def _unavailable(exc: BaseException, url: str) -> GitLabError:
    if isinstance(exc, TransportServerError) and exc.code in (401, 403):
        return GitLabAuthError(f"GitLab refused the access token (HTTP {exc.code}): check "
                               "--token or GITLAB_TOKEN (it needs the api scope)")
    if isinstance(exc, TransportServerError) and exc.code == 404:
        return GitLabUnavailable(f"no GraphQL API at {url}/api/graphql (HTTP 404): "
                                 "check --gitlab-url")
    if isinstance(exc, TimeoutError):
        return GitLabUnavailable(f"{url} did not answer in time")
    return GitLabUnavailable(f"cannot reach {url}: {exc}")
