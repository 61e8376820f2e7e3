"""Health answers that the receiver and a relay's status server give alike.

A readiness probe names a component and says whether it is fine, and why not; ``/readyz`` is 200
only when every component is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

ReadinessProbe = Callable[[], Awaitable[tuple[str, bool, str]]]


def json_response(status: int, payload: dict[str, object]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload),
                        content_type="application/json")


async def readiness_response(probes: list[ReadinessProbe],
                             components: dict[str, dict[str, object]],
                             details: dict[str, object] | None = None) -> web.Response:
    """200 when every component (those given, then each probe's) is fine, else 503.
    ``details`` are added to the answer and decide nothing."""
    for probe in probes:
        name, ok, reason = await probe()
        components[name] = {"ok": ok} if ok else {"ok": False, "reason": reason}
    ready = all(component["ok"] for component in components.values())
    return json_response(200 if ready else 503,
                         {"status": "ready" if ready else "not ready", "components": components,
                          **(details or {})})
