"""A small status server for a relay that runs without a receiver: health, readiness, metrics."""

from __future__ import annotations

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from relay.service import ReadinessProbe

_REGISTRY = web.AppKey("registry", CollectorRegistry)
_PROBES = web.AppKey("probes", list[ReadinessProbe])


def create_status_app(registry: CollectorRegistry, probes: list[ReadinessProbe]) -> web.Application:
    app = web.Application()
    app[_REGISTRY] = registry
    app[_PROBES] = probes
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return _json(200, {"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    components: dict[str, dict[str, object]] = {}
    for probe in request.app[_PROBES]:
        name, ok, reason = await probe()
        components[name] = {"ok": ok} if ok else {"ok": False, "reason": reason}
    ready = all(c["ok"] for c in components.values())
    return _json(200 if ready else 503,
                 {"status": "ready" if ready else "not ready", "components": components})


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[_REGISTRY]),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def _json(status: int, payload: dict[str, object]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")
