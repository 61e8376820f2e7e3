"""Running the receiver: an aiohttp server on a journal, started and stopped cleanly."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from aiohttp import web

from auditstream.common.health import ReadinessProbe
from auditstream.journal import Journal
from auditstream.receiver.app import RECEIVER_STATE, create_app
from auditstream.receiver.config import ReceiverConfig
from auditstream.receiver.logfilter import quiet_malformed_http_logs
from auditstream.receiver.metrics import ReceiverMetrics
from auditstream.receiver.tls import server_context

log = logging.getLogger("auditstream.receiver")


@dataclass(slots=True)
class RunningReceiver:
    """A receiver listening on ``host:port``; ``stop`` finishes in-flight requests first."""

    runner: web.AppRunner
    host: str
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def reload(self, config: ReceiverConfig) -> list[str]:
        """Take new destinations and tokens (and the other per-request settings) now, between
        two requests; what only a restart can change is kept, and named in the result."""
        return self.runner.app[RECEIVER_STATE].reload(config)

    async def stop(self) -> None:
        # Stops accepting, waits for in-flight requests (up to the shutdown timeout), then
        # runs the app's cleanup. The journal belongs to whoever opened it.
        await self.runner.cleanup()


async def start_receiver(config: ReceiverConfig, journal: Journal,
                         metrics: ReceiverMetrics | None = None,
                         probes: list[ReadinessProbe] | None = None,
                         listener: socket.socket | None = None) -> RunningReceiver:
    """Start listening; with ``config.port == 0`` the system picks a free port.

    ``listener``, when given, is an already bound socket to serve on (``config``'s address is
    then only what it was bound to)."""
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
    await runner.setup()
    site: web.BaseSite = (
        web.SockSite(runner, listener, ssl_context=tls) if listener is not None
        else web.TCPSite(runner, config.host, config.port, reuse_address=True, ssl_context=tls))
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    host, port = _bound_address(runner)
    return RunningReceiver(runner=runner, host=host, port=port,
                           scheme="https" if tls is not None else "http")


def _bound_address(runner: web.AppRunner) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return str(address[0]), int(address[1])
    raise RuntimeError("the receiver is not listening on a TCP address")

