"""``POST /api/graphql``: GitLab's GraphQL endpoint over HTTP.

A JSON body ``{"query", "variables", "operationName"}`` (or a list of them, GitLab's
multiplexed form), executed against the stand-in's schema as the token's user. Answers are
GraphQL's: 200 with ``data`` and/or ``errors``; a token nobody holds is 401 before anything
runs, as on GitLab. Introspection needs no token.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from graphql import graphql

from auditstream.server.gitlab.auth import INVALID_TOKEN, authenticate
from auditstream.server.gitlab.context import RequestContext
from auditstream.server.gitlab.directory import User
from auditstream.server.gitlab.errors import GitLabRefusal, UnknownToken
from auditstream.server.gitlab.state import GITLAB_STATE, GitLabState

log = logging.getLogger("auditstream.server.gitlab")

NO_QUERY = "No query string was present"  # graphql-ruby's words


async def graphql_endpoint(request: web.Request) -> web.Response:
    state = request.app[GITLAB_STATE]
    try:
        user = authenticate(request.headers, state.core.directory)
    except UnknownToken:
        return _json(401, {"errors": [{"message": INVALID_TOKEN}]})
    try:
        document = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return _json(400, {"errors": [{"message": f"Request body is not valid JSON: {exc}"}]})
    if isinstance(document, list):
        return _json(200, [await execute(state, user, entry) for entry in document])
    return _json(200, await execute(state, user, document))


async def execute(state: GitLabState, user: User | None, document: object) -> dict[str, Any]:
    """One operation's answer, as the GraphQL response map."""
    if not isinstance(document, dict) or not isinstance(document.get("query"), str):
        return {"errors": [{"message": NO_QUERY}]}
    variables = document.get("variables")
    if isinstance(variables, str):  # GitLab also takes the variables as a JSON string
        try:
            variables = orjson.loads(variables) if variables.strip() else None
        except orjson.JSONDecodeError:
            return {"errors": [{"message": "Variables are invalid JSON"}]}
    if variables is not None and not isinstance(variables, dict):
        return {"errors": [{"message": "Variables must be a JSON object"}]}
    operation = document.get("operationName")
    result = await graphql(state.schema, document["query"],
                           context_value=RequestContext(state.core, user),
                           variable_values=variables,
                           operation_name=operation if isinstance(operation, str) else None)
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
        for error in result.errors:
            if error.original_error is not None and not _expected(error.original_error):
                log.error("resolver failed", exc_info=error.original_error)
    if result.data is not None or not result.errors:
        answer["data"] = result.data
    log.debug("graphql", extra={"operation": operation or "-",
                                "user": user.username if user else "-",
                                "errors": len(result.errors or ())})
    return answer


def _expected(error: BaseException) -> bool:
    """GitLab's refusals and bad input values are answers; anything else is a bug."""
    return isinstance(error, GitLabRefusal | ValueError)


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type="application/json")
