"""The stand-in's aiohttp application: GraphQL, the REST audit event lists, and the
stand-in's own controls; GitLab's JSON error bodies for whatever goes wrong."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from auditstream.server.gitlab.admin import add_admin_routes
from auditstream.server.gitlab.errors import RestError
from auditstream.server.gitlab.graphql_http import graphql_endpoint
from auditstream.server.gitlab.rest import add_rest_routes, throttled
from auditstream.server.gitlab.state import GITLAB_STATE, GitLabState

log = logging.getLogger("auditstream.server.gitlab")

GRAPHQL_PATH = "/api/graphql"


def create_app(state: GitLabState) -> web.Application:
    app = web.Application(middlewares=[errors_as_json, throttled])
    app[GITLAB_STATE] = state
    app.router.add_post(GRAPHQL_PATH, graphql_endpoint)
    add_rest_routes(app)
    add_admin_routes(app)
    return app


@web.middleware
async def errors_as_json(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                         ) -> web.StreamResponse:
    """Our refusals, unknown paths and surprises as JSON, the way GitLab's API words them."""
    try:
        return await handler(request)
    except RestError as exc:
        return _json(exc.status, exc.body)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _json(exc.status, {"message": f"{exc.status} {exc.reason}"})
    except Exception:
        log.exception("unexpected error while answering %s %s", request.method, request.path)
        return _json(500, {"message": "500 Internal Server Error"})


def _json(status: int, body: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type="application/json")
