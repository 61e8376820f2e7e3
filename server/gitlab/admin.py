"""The stand-in's own endpoints, under ``/_stand-in/``, apart from every GitLab path.

    GET    /_stand-in/              this list, as JSON (method, path, what it does)
    POST   /_stand-in/activity      make events: {"count": 10, "event_types": [...],
                                    "on": ["acme/website"], "author": "developer",
                                    "wait": true}; answers the events made
    GET    /_stand-in/events        every event made (stored or stream-only), in order
    GET    /_stand-in/deliveries    every delivery attempt and its result
    DELETE /_stand-in/deliveries    forget them
    GET    /_stand-in/knobs         the streaming knobs
    PUT    /_stand-in/knobs         set them: {"duplicate_rate": 0.1, "seed": 7, ...}
    DELETE /_stand-in/knobs         back to none
    GET    /_stand-in/seed          users (with tokens), groups and projects with their ids

They need no token: the stand-in is a test tool and listens on loopback by default.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from auditstream.server.gitlab.activity import DEFAULT_TYPES, ActivitySpec, make_events
from auditstream.server.gitlab.errors import StandInRequestError
from auditstream.server.gitlab.state import GITLAB_STATE, GitLabState
from auditstream.server.gitlab.streaming import Knobs
from auditstream.server.standin import StandInRoute, add_stand_in_routes

ABOUT = ("The GitLab stand-in's own endpoints, apart from GitLab's (GraphQL at /api/graphql, "
         "REST audit events under /api/v4). No token needed.")


def add_admin_routes(app: web.Application) -> None:
    add_stand_in_routes(app, ABOUT, ROUTES)


async def make_activity(state: GitLabState, spec: ActivitySpec, *,
                        wait: bool = True) -> list[dict[str, Any]]:
    """Make the events, record and stream them; with ``wait``, return once every delivery
    they caused has finished. The in-process API and the endpoint share this."""
    events = make_events(spec, state.core.directory, state.core.events, state.core.clock,
                         state.rng)
    state.core.record(events)
    if wait:
        await state.streamer.settle()
    return [event.payload() for event in events]


async def post_activity(request: web.Request) -> web.Response:
    state = request.app[GITLAB_STATE]
    try:
        document = orjson.loads(await request.read() or b"{}")
        spec, wait = activity_spec(document)
        made = await make_activity(state, spec, wait=wait)
    except orjson.JSONDecodeError as exc:
        return _json(400, {"error": f"not JSON: {exc}"})
    except StandInRequestError as exc:
        return _json(400, {"error": str(exc)})
    return _json(201, {"events": made})


def activity_spec(document: object) -> tuple[ActivitySpec, bool]:
    """An activity request as a spec, and whether to wait for its deliveries."""
    if not isinstance(document, dict):
        raise StandInRequestError("activity: must be a JSON object")
    unknown = set(document) - {"count", "event_types", "on", "author", "wait"}
    if unknown:
        raise StandInRequestError(f"activity: unknown key(s) {', '.join(sorted(unknown))}")
    count = document.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        raise StandInRequestError(f"count: must be an integer, got {count!r}")
    lists = {}
    for key, default in (("event_types", DEFAULT_TYPES), ("on", ())):
        value = document.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise StandInRequestError(f"{key}: must be a list of strings")
        lists[key] = tuple(value)
    author = document.get("author")
    if author is not None and not isinstance(author, str):
        raise StandInRequestError("author: must be a username")
    wait = document.get("wait", True)
    if not isinstance(wait, bool):
        raise StandInRequestError("wait: must be true or false")
    return ActivitySpec(count, lists["event_types"], lists["on"], author), wait


async def get_events(request: web.Request) -> web.Response:
    events = request.app[GITLAB_STATE].core.events.made
    return _json(200, {"events": [{"stored": e.stored, "event": e.payload()} for e in events]})


async def get_deliveries(request: web.Request) -> web.Response:
    deliveries = request.app[GITLAB_STATE].deliveries
    return _json(200, {
        "deliveries": [d.to_json() for d in sorted(deliveries.all, key=lambda d: d.number)],
        "results": {str(k): v for k, v in sorted(deliveries.results().items())}})


async def clear_deliveries(request: web.Request) -> web.Response:
    request.app[GITLAB_STATE].deliveries.clear()
    return _json(200, {"cleared": True})


async def get_knobs(request: web.Request) -> web.Response:
    return _json(200, request.app[GITLAB_STATE].streamer.knobs.to_json())


async def put_knobs(request: web.Request) -> web.Response:
    state = request.app[GITLAB_STATE]
    try:
        state.streamer.knobs = Knobs.from_json(orjson.loads(await request.read() or b"{}"))
    except orjson.JSONDecodeError as exc:
        return _json(400, {"error": f"not JSON: {exc}"})
    except (StandInRequestError, TypeError) as exc:
        return _json(400, {"error": str(exc)})
    return _json(200, state.streamer.knobs.to_json())


async def reset_knobs(request: web.Request) -> web.Response:
    state = request.app[GITLAB_STATE]
    state.streamer.knobs = Knobs()
    return _json(200, state.streamer.knobs.to_json())


async def get_seed(request: web.Request) -> web.Response:
    directory = request.app[GITLAB_STATE].core.directory
    return _json(200, {
        "users": [{"id": u.id, "username": u.username, "name": u.name, "admin": u.admin,
                   "token": u.token} for u in directory.users],
        "groups": [{"id": g.id, "full_path": g.full_path, "name": g.name,
                    "parent_id": g.parent_id} for g in directory.groups],
        "projects": [{"id": p.id, "full_path": p.full_path, "name": p.name,
                      "group_id": p.group_id} for p in directory.projects],
    })


def _json(status: int, payload: object) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload),
                        content_type="application/json")


ROUTES = (
    StandInRoute("POST", "/activity", post_activity,
                 'make audit events and stream them: {"count": 10, "event_types": [...], '
                 '"on": ["acme/website"], "author": "developer", "wait": true}; answers '
                 "the events made"),
    StandInRoute("GET", "/events", get_events,
                 "every event made (stored or stream-only), in order"),
    StandInRoute("GET", "/deliveries", get_deliveries,
                 "every delivery attempt to a destination and its result"),
    StandInRoute("DELETE", "/deliveries", clear_deliveries, "forget the delivery attempts"),
    StandInRoute("GET", "/knobs", get_knobs, "the streaming knobs"),
    StandInRoute("PUT", "/knobs", put_knobs,
                 'set the streaming knobs: {"duplicate_rate": 0.1, "fresh_uuid_rate": 0, '
                 '"drop_rate": 0, "reorder": false, "job_retry_rate": 0, "job_retries": 0, '
                 '"seed": 7, "circuit_breaker": false, "circuit_time_scale": 1}'),
    StandInRoute("DELETE", "/knobs", reset_knobs, "back to no knobs"),
    StandInRoute("GET", "/seed", get_seed,
                 "users (with their tokens), groups and projects, with their ids"),
)
