"""Running the receiver: an aiohttp server on a journal, started and stopped cleanly."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from dataclasses import dataclass

from aiohttp import web

from auditstream.common.health import ReadinessProbe
from auditstream.journal import Journal
from auditstream.receiver.app import RECEIVER_STATE, create_app
from auditstream.receiver.config import ReceiverConfig
from auditstream.receiver.connections import (
    LISTEN_BACKLOG,
    ConnectionGate,
    bind,
    default_max_connections,
    gated,
)
from auditstream.receiver.logfilter import quiet_malformed_http_logs
from auditstream.receiver.metrics import ReceiverMetrics
from auditstream.receiver.tls import server_context

log = logging.getLogger("auditstream.receiver")


@dataclass(slots=True)
class RunningReceiver:
    """A receiver listening on ``host:port``; ``stop`` finishes in-flight requests first."""

    runner: web.AppRunner
    listening: asyncio.Server
    gate: ConnectionGate
    host: str
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def config(self) -> ReceiverConfig:
        """The settings in force (a reload replaces them)."""
        return self.runner.app[RECEIVER_STATE].config

    def reload(self, config: ReceiverConfig) -> list[str]:
        """Take new destinations and tokens (and the other per-request settings) now, between
        two requests; what only a restart can change is kept, and named in the result."""
        return self.runner.app[RECEIVER_STATE].reload(config)

    async def stop(self) -> None:
        # Stop accepting, then wait for in-flight requests (up to the shutdown timeout) and
        # run the app's cleanup. The journal belongs to whoever opened it.
        self.listening.close()
        await self.runner.cleanup()


async def start_receiver(config: ReceiverConfig, journal: Journal,
                         metrics: ReceiverMetrics | None = None,
                         probes: list[ReadinessProbe] | None = None,
                         listener: socket.socket | None = None) -> RunningReceiver:
    """Start listening; with ``config.port == 0`` the system picks a free port.

    ``listener``, when given, is an already bound socket to serve on (``config``'s address is
    then only what it was bound to). Connections pass a ``ConnectionGate`` first."""
    quiet_malformed_http_logs()
    app = create_app(config, journal, metrics)
    app[RECEIVER_STATE].probes.extend(probes or [])
    # We decode gzip ourselves, with a cap, so a bad or huge stream gets a JSON answer.
    # keepalive_timeout also bounds a connection that never completes its headers.
    runner = web.AppRunner(app, auto_decompress=False, access_log=None,
                           shutdown_timeout=config.shutdown_timeout_seconds,
                           keepalive_timeout=config.idle_timeout_seconds,
                           handle_signals=False)
    tls = server_context(config.tls_cert, config.tls_key) \
        if config.tls_cert is not None and config.tls_key is not None else None
    sock = listener if listener is not None else bind(config.host, config.port)
    # As bind() sets it: a restarted receiver can bind this address again at once (its old
    # connections in TIME_WAIT inherit the flag). A reserved socket gets it only now.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    gate = ConnectionGate(config.max_connections or default_max_connections(open_files_limit()),
                          config.max_connections_per_client, config.trusted_proxies)
    await runner.setup()
    handler = runner.server
    assert handler is not None  # set by setup()
    try:
        listening = await asyncio.get_running_loop().create_server(
            gated(gate, handler), sock=sock, ssl=tls, backlog=LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    host, port = sock.getsockname()[:2]
    return RunningReceiver(runner=runner, listening=listening, gate=gate, host=str(host),
                           port=int(port), scheme="https" if tls is not None else "http")


def open_files_limit() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 1 << 20
