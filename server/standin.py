"""What both stand-ins share about their own endpoints (``/_stand-in/...``): one table per
stand-in of method, path, handler and what it does, which both routes them and answers
``GET /_stand-in/`` with the list, so the endpoints are found from the server itself."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson
from aiohttp import web

PREFIX = "/_stand-in"

_PATTERN = re.compile(r"\{(\w+):[^}]+\}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class StandInRoute:
    """One of a stand-in's own endpoints; ``path`` is below ``/_stand-in``."""

    method: str
    path: str
    handler: Handler
    does: str

    def describe(self) -> dict[str, str]:
        path = _PATTERN.sub(r"{\1}", PREFIX + self.path)  # {id:[0-9]+} reads as {id}
        return {"method": self.method, "path": path, "does": self.does}


def add_stand_in_routes(app: web.Application, about: str,
                        routes: Sequence[StandInRoute]) -> None:
    """Route each endpoint, plus ``GET /_stand-in/`` listing them all (JSON)."""
    index = {"about": about, "endpoints": [
        {"method": "GET", "path": PREFIX + "/", "does": "this list"},
        *(route.describe() for route in routes)]}
    body = orjson.dumps(index, option=orjson.OPT_INDENT_2)

    async def list_endpoints(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get(PREFIX + "/", list_endpoints)
    for route in routes:
        app.router.add_route(route.method, PREFIX + route.path, route.handler)
