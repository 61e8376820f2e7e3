"""The stand-in's aiohttp application: Splunk HEC's endpoints, answers and scripted faults.

Every request to a HEC endpoint goes through ``answer_hec``: the scripted faults first, then
the endpoint's own work (``serve_*``), which raises ``HecRefusal`` for whatever Splunk would
refuse; the refusal becomes Splunk's answer there, and each request is recorded exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from auditstream.server.hec.acks import parse_ack_body
from auditstream.server.hec.admin import add_admin_routes
from auditstream.server.hec.auth import CHANNEL_HEADER, AuthForm, authenticate, check_channel
from auditstream.server.hec.body import drain_body, read_body
from auditstream.server.hec.codes import (
    ACK_DISABLED,
    HEALTHY,
    INTERNAL_SERVER_ERROR,
    INVALID_DATA_FORMAT,
    SERVER_BUSY,
    SUCCESS,
    answer,
    status_and_text,
)
from auditstream.server.hec.config import HecToken
from auditstream.server.hec.envelopes import (
    Envelope,
    ForcedFailure,
    parse_event_body,
    parse_raw_body,
)
from auditstream.server.hec.errors import ContentTooLarge, HecRefusal
from auditstream.server.hec.faults import ACK_KINDS, ANSWER_KINDS, Endpoint, Fault, FaultKind
from auditstream.server.hec.records import Arrival, RequestRecord
from auditstream.server.hec.state import HEC_STATE, HecState

log = logging.getLogger("auditstream.server.hec")

EVENT_PATHS = ("/services/collector", "/services/collector/event",
               "/services/collector/event/1.0")
RAW_PATHS = ("/services/collector/raw", "/services/collector/raw/1.0")
HEALTH_PATHS = ("/services/collector/health", "/services/collector/health/1.0")
ACK_PATHS = ("/services/collector/ack",)

_SLOW = frozenset({FaultKind.SLOW})
_BAD_EVENT = frozenset({FaultKind.BAD_EVENT})
_UNHEALTHY = frozenset({FaultKind.UNHEALTHY})


def create_app(state: HecState) -> web.Application:
    """The HEC endpoints and the stand-in's admin endpoints on one application."""
    app = web.Application(middlewares=[errors_as_json])
    app[HEC_STATE] = state
    for path in EVENT_PATHS:
        app.router.add_post(path, event_endpoint)
    for path in RAW_PATHS:
        app.router.add_post(path, raw_endpoint)
    for path in HEALTH_PATHS:
        app.router.add_get(path, health_endpoint)
    for path in ACK_PATHS:
        app.router.add_post(path, ack_endpoint)
    add_admin_routes(app)
    return app


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as a value: status, JSON body, extra headers."""

    status: int
    body: Mapping[str, object]
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, code: int, headers: Mapping[str, str] | None = None,
           **extra: object) -> Answer:
        return cls(status_and_text(code)[0], answer(code, **extra), headers or {})

    @classmethod
    def refusal(cls, refusal: HecRefusal) -> Answer:
        return cls(refusal.status, refusal.body())

    @property
    def code(self) -> int | None:
        code = self.body.get("code")
        return code if isinstance(code, int) else None

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=orjson.dumps(self.body),
                            content_type="application/json", headers=self.headers)


@dataclass(slots=True)
class Exchange:
    """One HEC request while it is being answered: what is known of it so far."""

    number: int
    endpoint: Endpoint
    request: web.Request
    received_at: float
    token: HecToken | None = None
    auth: AuthForm | None = None
    channel: str | None = None
    accepted: int = 0
    ack_id: int | None = None
    faults: list[FaultKind] = field(default_factory=list)

    def record(self, answer: Answer | None) -> RequestRecord:
        body = answer.body if answer is not None else {}
        invalid = body.get("invalid-event-number")
        return RequestRecord(
            number=self.number, endpoint=self.endpoint.value, method=self.request.method,
            path=self.request.path, status=answer.status if answer is not None else None,
            code=answer.code if answer is not None else None,
            token_name=self.token.name if self.token is not None else None,
            channel=self.channel, accepted=self.accepted,
            invalid_event_number=invalid if isinstance(invalid, int) else None,
            ack_id=self.ack_id, faults=tuple(kind.value for kind in self.faults),
            received_at=self.received_at)


Serve = Callable[[HecState, Exchange], Awaitable[Answer]]


async def event_endpoint(request: web.Request) -> web.StreamResponse:
    return await answer_hec(request, Endpoint.EVENT, serve_event)


async def raw_endpoint(request: web.Request) -> web.StreamResponse:
    return await answer_hec(request, Endpoint.RAW, serve_raw)


async def ack_endpoint(request: web.Request) -> web.StreamResponse:
    return await answer_hec(request, Endpoint.ACK, serve_ack)


async def health_endpoint(request: web.Request) -> web.StreamResponse:
    return await answer_hec(request, Endpoint.HEALTH, serve_health)


async def answer_hec(request: web.Request, endpoint: Endpoint,
                     serve: Serve) -> web.StreamResponse:
    """Scripted faults first, then the endpoint's own answer; each request recorded once."""
    state = request.app[HEC_STATE]
    exchange = Exchange(state.received.next_request_number(), endpoint, request, time.time())
    slow = state.take_fault(endpoint, _SLOW)
    if slow is not None:
        exchange.faults.append(slow.kind)
        await asyncio.sleep(slow.delay)
    fault = state.take_fault(endpoint, ANSWER_KINDS)
    if fault is not None:
        exchange.faults.append(fault.kind)
    if fault is not None and not fault.accept:
        await drain_body(request, state.config.max_content_length)
        return await _misbehave(state, exchange, fault)
    try:
        own = await serve(state, exchange)
    except HecRefusal as refusal:
        own = Answer.refusal(refusal)
    if fault is not None:
        # The events are in (if they were good); the fault takes the answer's place.
        return await _misbehave(state, exchange, fault)
    return _finish(state, exchange, own)


async def _misbehave(state: HecState, exchange: Exchange, fault: Fault) -> web.StreamResponse:
    if fault.kind is FaultKind.HANG:
        _record(state, exchange, None)
        # No answer until the client gives up (the handler is cancelled when it hangs up)
        # or the server stops.
        await state.stopping.wait()
        return _drop_connection(exchange.request)
    if fault.kind is FaultKind.RESET:
        _record(state, exchange, None)
        return _drop_connection(exchange.request)
    return _finish(state, exchange, fault_answer(fault, state.config.max_content_length))


def fault_answer(fault: Fault, max_content_length: int) -> Answer:
    """The answer a fault that still answers gives."""
    retry = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.kind is FaultKind.BUSY:
        return Answer.of(SERVER_BUSY, retry)
    if fault.kind is FaultKind.TOO_MANY_REQUESTS:
        return Answer(429, {"text": "Too many requests"}, retry)
    if fault.kind is FaultKind.TOO_LARGE:
        return Answer.refusal(ContentTooLarge(max_content_length))
    return Answer.of(INTERNAL_SERVER_ERROR)


def _drop_connection(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: the close sends a TCP reset, as a crashed peer or a proxy would.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=204)  # never sent: there is no connection left to send it on


def _finish(state: HecState, exchange: Exchange, answer: Answer) -> web.Response:
    _record(state, exchange, answer)
    return answer.response()


def _record(state: HecState, exchange: Exchange, answer: Answer | None) -> None:
    record = exchange.record(answer)
    state.received.add_request(record)
    log.debug("hec request", extra={
        "number": record.number, "endpoint": record.endpoint, "status": record.status,
        "code": record.code, "token_name": record.token_name, "accepted": record.accepted,
        "faults": ",".join(record.faults) or "-"})


async def serve_event(state: HecState, exchange: Exchange) -> Answer:
    """``/services/collector/event``: concatenated envelopes, partial acceptance."""
    token = _admit(state, exchange)
    body = await read_body(exchange.request, state.config.max_content_length)
    bad = state.take_fault(Endpoint.EVENT, _BAD_EVENT)
    forced = None
    if bad is not None:
        exchange.faults.append(bad.kind)
        forced = ForcedFailure(bad.position, bad.code or INVALID_DATA_FORMAT)
    batch = parse_event_body(body, token, max_event_bytes=state.config.max_event_bytes,
                             forced=forced)
    return _accept(state, exchange, batch.envelopes, batch.refusal)


async def serve_raw(state: HecState, exchange: Exchange) -> Answer:
    """``/services/collector/raw``: a line per event, metadata from the query string."""
    token = _admit(state, exchange)
    body = await read_body(exchange.request, state.config.max_content_length)
    envelopes = parse_raw_body(body, exchange.request.query, token,
                               max_event_bytes=state.config.max_event_bytes)
    return _accept(state, exchange, envelopes, None)


async def serve_ack(state: HecState, exchange: Exchange) -> Answer:
    """``/services/collector/ack``: which ackIds of the channel are indexed."""
    token = _authenticate(state, exchange)
    if not token.ack:
        raise HecRefusal(ACK_DISABLED)
    channel = check_channel(exchange.channel, token) or ""
    body = await read_body(exchange.request, state.config.max_content_length)
    ack_ids = parse_ack_body(body)
    return Answer(200, {"acks": state.acks.query(channel, ack_ids, state.clock())})


async def serve_health(state: HecState, exchange: Exchange) -> Answer:
    """``/services/collector/health``: healthy unless a fault says otherwise."""
    fault = state.take_fault(Endpoint.HEALTH, _UNHEALTHY)
    if fault is not None and fault.code is not None:
        exchange.faults.append(fault.kind)
        return Answer.of(fault.code)
    return Answer.of(HEALTHY)


def _authenticate(state: HecState, exchange: Exchange) -> HecToken:
    request = exchange.request
    exchange.channel = request.headers.get(CHANNEL_HEADER) or request.query.get("channel")
    token, form = authenticate(request.headers.get("Authorization"),
                               request.query.get("token"), state.config.tokens)
    exchange.token, exchange.auth = token, form
    return token


def _admit(state: HecState, exchange: Exchange) -> HecToken:
    """The token, once the channel is right for it and has room for another ackId."""
    token = _authenticate(state, exchange)
    channel = check_channel(exchange.channel, token)
    if token.ack and channel is not None and not state.acks.can_issue(channel):
        raise HecRefusal(SERVER_BUSY)
    return token


def _accept(state: HecState, exchange: Exchange, envelopes: tuple[Envelope, ...],
            refusal: HecRefusal | None) -> Answer:
    """Record what was accepted; an ackId only when the whole request was."""
    token, auth = exchange.token, exchange.auth
    if token is None or auth is None:
        raise RuntimeError("_accept before authentication")
    if refusal is None and token.ack and exchange.channel:
        exchange.ack_id = state.acks.issue(exchange.channel, _ack_ready_at(state, exchange))
    exchange.accepted = len(envelopes)
    arrival = Arrival(request_number=exchange.number, endpoint=exchange.endpoint.value,
                      token=token, auth=auth, channel=exchange.channel,
                      ack_id=exchange.ack_id, headers=masked_headers(exchange.request.headers),
                      received_at=exchange.received_at)
    state.received.add_envelopes(arrival, envelopes)
    if refusal is not None:
        raise refusal
    if exchange.ack_id is not None:
        return Answer.of(SUCCESS, ackId=exchange.ack_id)
    return Answer.of(SUCCESS)


def _ack_ready_at(state: HecState, exchange: Exchange) -> float | None:
    now = state.clock()
    fault = state.take_fault(exchange.endpoint, ACK_KINDS)
    if fault is None:
        return now
    exchange.faults.append(fault.kind)
    return now + fault.delay if fault.kind is FaultKind.ACK_LATE else None


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request's headers with the Authorization credentials masked (scheme kept)."""
    masked: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            value = value.strip().partition(" ")[0] + " ********"
        masked[str(name)] = value  # aiohttp's names are ``istr``, which orjson refuses
    return masked


@web.middleware
async def errors_as_json(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                         ) -> web.StreamResponse:
    """Unknown paths, wrong methods and surprises as JSON, the way Splunk words them."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.Response(status=exc.status, content_type="application/json",
                            body=orjson.dumps({"text": exc.reason, "code": exc.status}))
    except Exception:
        log.exception("unexpected error while answering %s %s", request.method, request.path)
        return Answer.of(INTERNAL_SERVER_ERROR).response()
