"""Running the stand-in: start it on a port (0: any free one), use it, stop it.

    async with running_hec(HecConfig(tokens=(HecToken("t", ack=True),))) as hec:
        ... send to hec.url with hec.headers() ...
        hec.faults.busy(next=3)
        await hec.received.wait_for(10)
        assert not hec.received.duplicates()
"""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from auditstream.server.hec.acks import AckLedger
from auditstream.server.hec.app import create_app
from auditstream.server.hec.auth import CHANNEL_HEADER
from auditstream.server.hec.config import HecConfig, HecToken
from auditstream.server.hec.control import Faults
from auditstream.server.hec.records import Received
from auditstream.server.hec.state import HecState


@dataclass(slots=True)
class RunningHec:
    """A stand-in listening on ``url``; what it received, its faults and its acks."""

    config: HecConfig
    state: HecState
    runner: web.AppRunner
    host: str
    port: int
    faults: Faults

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123`` (append ``/services/collector``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def event_url(self) -> str:
        return f"{self.url}/services/collector/event"

    @property
    def received(self) -> Received:
        return self.state.received

    @property
    def acks(self) -> AckLedger:
        return self.state.acks

    @property
    def token(self) -> str:
        """The first configured token's value, for the common single-token test."""
        return self.config.tokens[0].value

    def headers(self, token: str | HecToken | None = None, channel: str | None = None, *,
                basic: bool = False) -> dict[str, str]:
        """Request headers for a token (default the first): ``Authorization: Splunk <token>``
        (or HTTP Basic), plus ``X-Splunk-Request-Channel`` when a channel is given."""
        value = token.value if isinstance(token, HecToken) else token or self.token
        if basic:
            credentials = base64.b64encode(f"x:{value}".encode()).decode()
            headers = {"Authorization": f"Basic {credentials}"}
        else:
            headers = {"Authorization": f"Splunk {value}"}
        if channel is not None:
            headers[CHANNEL_HEADER] = channel
        return headers

    async def stop(self) -> None:
        """Stop: hanging requests get their connection cut, in-flight answers finish."""
        self.state.stopping.set()
        await self.runner.cleanup()


async def start_hec(config: HecConfig | None = None,
                    listener: socket.socket | None = None) -> RunningHec:
    """Start listening; with port 0 (the default) the system picks a free port. With
    ``listener``, a socket the caller bound (and held), serve on it instead."""
    config = config if config is not None else HecConfig()
    state = HecState.create(config)
    # We decode gzip ourselves (max_content_length is measured on the wire), and a handler
    # is cancelled when its client hangs up, so a hanging request ends with its client.
    runner = web.AppRunner(create_app(state), auto_decompress=False, access_log=None,
                           handler_cancellation=True, handle_signals=False,
                           shutdown_timeout=config.shutdown_timeout_seconds)
    await runner.setup()
    site: web.BaseSite = (web.SockSite(runner, listener) if listener is not None
                          else web.TCPSite(runner, config.host, config.port, reuse_address=True))
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    host, port = _bound_address(runner)
    return RunningHec(config=config, state=state, runner=runner, host=host, port=port,
                      faults=Faults(state))


@asynccontextmanager
async def running_hec(config: HecConfig | None = None,
                      listener: socket.socket | None = None) -> AsyncIterator[RunningHec]:
    """The stand-in for the length of an ``async with`` block (``listener``: ``start_hec``)."""
    hec = await start_hec(config, listener)
    try:
        yield hec
    finally:
        await hec.stop()


def _bound_address(runner: web.AppRunner) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return str(address[0]), int(address[1])
    raise RuntimeError("the HEC stand-in is not listening on a TCP address")
