"""A small status server for a relay that runs without a receiver: health, readiness, metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from auditstream.common.health import ReadinessProbe, json_response, readiness_response

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
    return json_response(200, {"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    return await readiness_response(request.app[_PROBES], {})


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[_REGISTRY]),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})

