"""The stand-in's own endpoints, under ``/_stand-in/``, apart from every HEC path.

    GET    /_stand-in/                this list, as JSON (method, path, what it does)
    GET    /_stand-in/received        accepted envelopes, requests, counts by status
    DELETE /_stand-in/received        forget them
    GET    /_stand-in/faults          the scheduled faults
    POST   /_stand-in/faults          schedule one: {"kind": "busy", "next": 3, ...}
    DELETE /_stand-in/faults          clear all of them
    DELETE /_stand-in/faults/{id}     clear one
    GET    /_stand-in/acks            pending ackIds per channel

They need no token: the stand-in is a test tool and listens on loopback by default. Token
values never leave it: envelopes name their token by its ``name``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web

from auditstream.server.hec.errors import FaultSpecError
from auditstream.server.hec.faults import FaultKind, fault_from_json, fault_to_json
from auditstream.server.hec.records import ReceivedEnvelope, RequestRecord, event_key
from auditstream.server.hec.state import HEC_STATE
from auditstream.server.standin import StandInRoute, add_stand_in_routes

ABOUT = ("The HEC stand-in's own endpoints, apart from Splunk's (/services/collector/...). "
         "No token needed; token values never leave the stand-in.")


def add_admin_routes(app: web.Application) -> None:
    add_stand_in_routes(app, ABOUT, ROUTES)


async def get_received(request: web.Request) -> web.Response:
    received = request.app[HEC_STATE].received
    counts = received.count_by()
    return _json(200, {
        "envelopes": [envelope_json(e) for e in received.envelopes],
        "requests": [request_json(r) for r in received.requests],
        "status_counts": {str(k): v for k, v in sorted(received.status_counts().items())},
        "event_counts": {str(k): v for k, v in counts.items()},
        "duplicates": {str(k): v for k, v in counts.items() if v > 1},
    })


async def clear_received(request: web.Request) -> web.Response:
    request.app[HEC_STATE].received.clear()
    return _json(200, {"cleared": True})


async def get_faults(request: web.Request) -> web.Response:
    state = request.app[HEC_STATE]
    now = state.clock()
    return _json(200, {"faults": [fault_to_json(e, now) for e in state.schedule.active(now)]})


async def add_fault(request: web.Request) -> web.Response:
    state = request.app[HEC_STATE]
    try:
        document = orjson.loads(await request.read())
        fault, count, seconds = fault_from_json(document)
        entry = state.schedule.add(fault, now=state.clock(), next=count, for_seconds=seconds)
    except orjson.JSONDecodeError as exc:
        return _json(400, {"error": f"not JSON: {exc}"})
    except FaultSpecError as exc:
        return _json(400, {"error": str(exc)})
    return _json(201, fault_to_json(entry, state.clock()))


async def clear_faults(request: web.Request) -> web.Response:
    return _json(200, {"cleared": request.app[HEC_STATE].schedule.clear()})


async def clear_fault(request: web.Request) -> web.Response:
    cleared = request.app[HEC_STATE].schedule.clear(int(request.match_info["id"]))
    if not cleared:
        return _json(404, {"error": f"no scheduled fault {request.match_info['id']}"})
    return _json(200, {"cleared": cleared})


async def get_acks(request: web.Request) -> web.Response:
    acks = request.app[HEC_STATE].acks
    return _json(200, {"pending": {channel: acks.pending(channel)
                                   for channel in acks.channels()}})


def envelope_json(envelope: ReceivedEnvelope) -> dict[str, object]:
    return {
        "request_number": envelope.request_number, "position": envelope.position,
        "endpoint": envelope.endpoint, "token_name": envelope.token.name,
        "auth": envelope.auth.value, "channel": envelope.channel, "ack_id": envelope.ack_id,
        "index": envelope.index, "key": str(event_key(envelope)),
        "envelope": envelope.envelope, "headers": envelope.headers,
        "received_at": envelope.received_at,
    }


def request_json(record: RequestRecord) -> dict[str, object]:
    return {
        "number": record.number, "endpoint": record.endpoint, "method": record.method,
        "path": record.path, "status": record.status, "code": record.code,
        "token_name": record.token_name, "channel": record.channel,
        "accepted": record.accepted, "invalid_event_number": record.invalid_event_number,
        "ack_id": record.ack_id, "faults": list(record.faults),
        "received_at": record.received_at,
    }


def _json(status: int, payload: dict[str, Any]) -> web.Response:
    try:
        body = orjson.dumps(payload)
    except TypeError:
        # orjson refuses integers past 64 bits, which a JSON envelope may hold.
        body = json.dumps(payload, default=str).encode()
    return web.Response(status=status, body=body, content_type="application/json")


ROUTES = (
    StandInRoute("GET", "/received", get_received,
                 "accepted envelopes, requests, counts by status and duplicates"),
    StandInRoute("DELETE", "/received", clear_received, "forget what was received"),
    StandInRoute("GET", "/faults", get_faults, "the scheduled faults"),
    StandInRoute("POST", "/faults", add_fault,
                 'schedule a fault: {"kind": "busy", "next": 3} (the next 3 requests) or '
                 '{"kind": ..., "for_seconds": 5}; kinds: '
                 + ", ".join(kind.value for kind in FaultKind)
                 + "; options: endpoints, retry_after, delay, code, position, accept"),
    StandInRoute("DELETE", "/faults", clear_faults, "clear every scheduled fault"),
    StandInRoute("DELETE", "/faults/{id:[0-9]+}", clear_fault, "clear one scheduled fault"),
    StandInRoute("GET", "/acks", get_acks, "pending ackIds per channel"),
)
