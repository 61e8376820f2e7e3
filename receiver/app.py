"""The receiver's aiohttp application: GitLab's POSTs in, durable journal entries out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from auditstream.common.health import ReadinessProbe, json_response, readiness_response
from auditstream.journal import AppendOutcome, IncomingEvent, Journal, JournalError
from auditstream.receiver.auth import TokenVerifier
from auditstream.receiver.body import read_body
from auditstream.receiver.config import DestinationConfig, ReceiverConfig
from auditstream.receiver.errors import (
    Forbidden,
    ReceiverError,
    RequestTimeout,
    Unauthorized,
    Unavailable,
)
from auditstream.receiver.metrics import ReceiverMetrics
from auditstream.receiver.network import Address, allowed, client_address
from auditstream.receiver.parse import ParsedEvent, parse_body
from auditstream.receiver.silence import (
    MISSING_TOKEN,
    WRONG_TOKEN,
    StreamWatch,
    drift_message,
    silence_message,
)

log = logging.getLogger("auditstream.receiver")

TOKEN_HEADER = "X-Gitlab-Event-Streaming-Token"  # noqa: S105 (a header name)
EVENT_TYPE_HEADER = "X-Gitlab-Audit-Event-Type"
READY_CHECK_TIMEOUT_SECONDS = 3.0
# How often silence is checked: a fraction of the shortest expect_event_within, within bounds
# (a check is a loop over the destinations, no I/O).
SILENCE_CHECKS_PER_EXPECTATION = 5
MIN_SILENCE_CHECK_SECONDS = 0.05
MAX_SILENCE_CHECK_SECONDS = 10.0
# The journal read at start-up for each destination's last event (the newest received_at):
# a restarted receiver remembers a silence that began before it.
LAST_EVENTS_READ_TIMEOUT_SECONDS = 30.0

@dataclass(slots=True)
class ReceiverState:
    config: ReceiverConfig
    journal: Journal
    verifier: TokenVerifier
    metrics: ReceiverMetrics
    watch: StreamWatch
    probes: list[ReadinessProbe] = field(default_factory=list)
    # The last append that failed (monotonic time, why), until one succeeds: at a size cap or
    # on a full disk the readiness write can still go through while events cannot.
    append_failed: tuple[float, str] | None = None

    def reload(self, config: ReceiverConfig) -> list[str]:
        """Swap in new destinations, tokens and per-request settings (one assignment each, on
        the loop's thread: a request sees the old set or the new). Returns the settings that
        differ but only take effect at a restart."""
        fixed = ("host", "port", "listen_fd", "tls_cert", "tls_key", "idle_timeout_seconds",
                 "shutdown_timeout_seconds")
        needs_restart = [name for name in fixed
                         if getattr(config, name) != getattr(self.config, name)]
        kept = {name: getattr(self.config, name) for name in fixed}
        self.verifier = TokenVerifier(config.destinations)
        self.config = replace(config, **kept)
        self.watch.configure(config.destinations, config.token_drift_refusals,
                             config.token_drift_interval_seconds, config.config_path)
        return needs_restart

    def show_writable(self, writable: bool) -> None:
        """What the journal_writable gauge says."""
        self.metrics.journal_writable = 1 if writable else 0


RECEIVER_STATE = web.AppKey("receiver_state", ReceiverState)


def create_app(config: ReceiverConfig, journal: Journal,
               metrics: ReceiverMetrics | None = None) -> web.Application:
    """The receiver application on an already opened journal (its owner closes it)."""
    # No middleware: each handler is wrapped in errors_as_json instead, and a catch-all route
    # answers what no handler takes. aiohttp's middleware chain cost the receiver's handler
    # 2-16% of its requests/s (alternating runs on a journal that keeps nothing).
    app = web.Application()
    metrics = metrics if metrics is not None else ReceiverMetrics.create()
    metrics.journal_writable = 1
    watch = StreamWatch(config.destinations, time.time(), config.token_drift_refusals,
                        config.token_drift_interval_seconds, config.config_path)
    metrics.streams = watch
    app[RECEIVER_STATE] = ReceiverState(config, journal, TokenVerifier(config.destinations),
                                        metrics, watch)
    app.cleanup_ctx.append(watching_streams)
    app.router.add_get("/healthz", errors_as_json(healthz))
    app.router.add_get("/readyz", errors_as_json(readyz))
    app.router.add_get("/readyz/receiver", errors_as_json(receiver_readyz))
    app.router.add_get("/status", errors_as_json(status))
    app.router.add_get("/metrics", errors_as_json(metrics_endpoint))
    events = events_handler(app[RECEIVER_STATE])
    app.router.add_post("/", events)  # GitLab's usual URL: a plain route, no regex
    app.router.add_post("/{path:.*}", events)
    app.router.add_route("*", "/{path:.*}", errors_as_json(only_post))
    return app


async def only_post(request: web.Request) -> web.Response:
    """Any other method on any other path: events are POSTed, the rest is GET /healthz,
    /readyz and /metrics."""
    raise web.HTTPMethodNotAllowed(request.method, ["POST"])


def events_handler(state: ReceiverState) -> Handler:
    """The POST handler: verify the token, parse, deduplicate and store; 200 only once it is
    all on disk.

    It holds the receiver's state and answers its own errors (through ``error_answer``, as
    ``errors_as_json`` does for the other handlers): every coroutine and lookup less counts
    on the path each event takes (same-run A/B in docs/benchmarks.md).
    """
    last_event = state.watch.last_event  # never replaced: a reload keeps the dict

    async def receive_events(request: web.Request) -> web.StreamResponse:
        try:
            if state.config.allow_networks and not allowed(client_of(request, state.config),
                                                           state.config.allow_networks):
                raise Forbidden("this client's network is not in the receiver's allow_networks")
            headers = request.headers
            token = headers.get(TOKEN_HEADER)
            destination = state.verifier.destination_for(request.path, token)
            if destination is None:
                raise Unauthorized(f"missing {TOKEN_HEADER} header" if token is None
                                   else f"wrong {TOKEN_HEADER} for this path")
            body = await read_body(request, state.config.max_body_bytes,
                                   state.config.body_timeout_seconds)
            parsed = parse_body(body, headers.get(EVENT_TYPE_HEADER),
                                with_content_hash=destination.content_hash_dedup)
            received_at = time.time()
            events = [_incoming(destination, event, received_at) for event in parsed]
            started = time.perf_counter()
            try:
                outcomes = await state.journal.append(events)
            except JournalError as exc:
                state.show_writable(False)
                state.append_failed = (time.monotonic(), str(exc))
                raise Unavailable(f"journal cannot take writes: {exc}") from exc
            metrics = state.metrics
            metrics.append_seconds.observe(time.perf_counter() - started)
            state.show_writable(True)
            state.append_failed = None
            # Silence and drift need only this: one dict store (21.6 ns by timeit on this
            # machine, against the ~60 us a request takes), no lock, no I/O.
            last_event[destination.name] = received_at
            accepted = outcomes.count(AppendOutcome.ACCEPTED)
            duplicates = outcomes.count(AppendOutcome.DUPLICATE)
            collisions = len(outcomes) - accepted - duplicates
            metrics.count_stored(destination.name, accepted, duplicates, collisions)
            # A collision is stored like any event, and answered as one: telling the poster
            # would tell a token holder which ids another destination has.
            accepted += collisions
            if log.isEnabledFor(logging.DEBUG):
                log.debug("request stored", extra={"destination": destination.name,
                                                   "accepted": accepted,
                                                   "duplicates": duplicates})
            return web.Response(
                body=orjson.dumps({"accepted": accepted, "duplicates": duplicates}),
                content_type="application/json")
        except Exception as exc:  # error_answer raises again what is no error (redirects)
            return error_answer(request, exc)

    return receive_events


def client_of(request: web.Request, config: ReceiverConfig) -> Address | None:
    """The client's address: the peer, or what trusted proxies say it forwarded for."""
    return client_address(request.remote, request.headers.getall("X-Forwarded-For", []),
                          config.trusted_proxies)


def _incoming(destination: DestinationConfig, event: ParsedEvent,
              received_at: float) -> IncomingEvent:
    keys: tuple[str, ...] = ("id:" + event.event_id,)
    if event.content_hash is not None:
        keys = (*keys, "hash:" + event.content_hash)
    # Positional, in IncomingEvent's field order: one is built per event on the hot path.
    return IncomingEvent(destination.instance, event.event_id, keys, destination.name,
                         received_at, event.body, event.event_type, event.created_at,
                         event.entity_type, event.entity_path)


async def watching_streams(app: web.Application) -> AsyncIterator[None]:
    """Check for silence in the background, from the journal's last events on."""
    task = asyncio.create_task(_watch_streams(app[RECEIVER_STATE]), name="silence-check")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _watch_streams(state: ReceiverState) -> None:
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that lands as the read completes, and this task would then never end (a receiver
        # stopped right after start-up hung in its shutdown).
        async with asyncio.timeout(LAST_EVENTS_READ_TIMEOUT_SECONDS):
            newest = await state.journal.newest_received_at()
        state.watch.remember(newest)
    except (JournalError, TimeoutError) as exc:
        log.warning("could not read the destinations' last events from the journal (%s); "
                    "silence is counted from now", exc or "timed out")
    while True:
        for change in state.watch.check(time.time()):
            (log.warning if change.silent else log.info)(
                silence_message(change), extra={"destination": change.destination,
                                                "silent": change.silent})
        await asyncio.sleep(silence_check_interval(state.config))


def silence_check_interval(config: ReceiverConfig) -> float:
    expectations = [d.expect_event_within_seconds for d in config.destinations
                    if d.expect_event_within_seconds is not None]
    if not expectations:
        return MAX_SILENCE_CHECK_SECONDS
    return min(max(min(expectations) / SILENCE_CHECKS_PER_EXPECTATION,
                   MIN_SILENCE_CHECK_SECONDS), MAX_SILENCE_CHECK_SECONDS)


async def status(request: web.Request) -> web.Response:
    """Whether GitLab still streams: each destination's last event and silence, token drift
    and refusals. Always 200: monitoring reads ``status`` and ``silent`` from the JSON."""
    return json_response(200, request.app[RECEIVER_STATE].watch.status(time.time()))


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers."""
    return json_response(200, {"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the journal takes writes, and every registered component says it is fine."""
    state = request.app[RECEIVER_STATE]
    return await _readiness(state, state.probes)


async def receiver_readyz(request: web.Request) -> web.Response:
    """Ready to take GitLab's events: the journal takes writes. For a load balancer in front
    of receivers: in ``run`` the relay's sinks are components of ``/readyz`` too, and a
    balancer that took a receiver out because Splunk is down would have GitLab's events
    refused, which GitLab never sends again, while the journal would have kept them."""
    return await _readiness(request.app[RECEIVER_STATE], [])


async def _readiness(state: ReceiverState, probes: list[ReadinessProbe]) -> web.Response:
    components: dict[str, dict[str, object]] = {}
    try:
        await asyncio.wait_for(state.journal.check_writable(), READY_CHECK_TIMEOUT_SECONDS)
        components["journal"] = _recent_append_failure(state) or {"ok": True}
        state.show_writable(state.append_failed is None)
    except (JournalError, TimeoutError) as exc:
        components["journal"] = {"ok": False, "reason": str(exc) or "write timed out"}
        state.show_writable(False)
    # Details only: a silent destination is no reason to take the receiver out of service.
    details = {name: {"last_event_at": d["last_event_at"], "silent": d["silent"]}
               for name, d in state.watch.status(time.time())["destinations"].items()}
    return await readiness_response(probes, components, {"destinations": details})


def _recent_append_failure(state: ReceiverState) -> dict[str, object] | None:
    """Not ready for ``retry_after_seconds`` after an append failed (unless one succeeded
    since): then ready again, so a balancer sends traffic that shows whether room is back."""
    if state.append_failed is None:
        return None
    failed_at, reason = state.append_failed
    ago = time.monotonic() - failed_at
    if ago >= state.config.retry_after_seconds:
        return None
    return {"ok": False, "reason": f"an append failed {ago:.1f} s ago: {reason}"}


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus text exposition of this receiver's registry."""
    registry = request.app[RECEIVER_STATE].metrics.registry
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def errors_as_json(handler: Handler) -> Handler:
    """Errors become answers: a status and a JSON reason, no traceback."""

    @functools.wraps(handler)
    async def answering(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:  # error_answer raises again what is no error (redirects)
            return error_answer(request, exc)

    return answering


def error_answer(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The one place where errors become answers. Call it in an ``except`` block: an
    unexpected error is logged with its traceback, and an HTTP redirect is raised again."""
    if isinstance(exc, ReceiverError):
        return _refusal(request, exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        response = json_response(exc.status, {"error": exc.reason})
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    log.exception("unexpected error while handling %s %s", request.method, request.path)
    return json_response(500, {"error": "internal error; the event was not stored"})


def _refusal(request: web.Request, exc: ReceiverError) -> web.Response:
    state = request.app[RECEIVER_STATE]
    state.metrics.count_request(exc.outcome)
    log.warning("request refused: %s %s", exc.status, exc.reason,
                extra={"outcome": exc.outcome, "remote": request.remote,
                       "client": client_of(request, state.config), "path": request.path})
    reason = exc.outcome
    if isinstance(exc, Unauthorized):
        reason = WRONG_TOKEN if TOKEN_HEADER in request.headers else MISSING_TOKEN
    notice = state.watch.refused(request.path, reason, time.time())
    if notice is not None:
        log.warning(drift_message(notice), extra={"path": notice.path,
                                                  "destinations": list(notice.destinations)})
    response = json_response(exc.status, {"error": exc.reason})
    if isinstance(exc, Unavailable):
        response.headers["Retry-After"] = str(state.config.retry_after_seconds)
    elif isinstance(exc, RequestTimeout):
        # The rest of that body may never come: the connection ends with this answer (aiohttp
        # still reads what arrives for its lingering time, 10 s, before it closes).
        response.force_close()
    return response
