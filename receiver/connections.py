"""How many connections the receiver holds, in all and per client, decided before aiohttp
sees a connection.

Idle connections cost nothing to open and were kept for an hour: 1,100 of them under a 1,024
open-files limit left no descriptor for GitLab (which never retries) and filled the disk
with asyncio's ``socket.accept() out of system resource`` tracebacks. So the receiver
(1) raises its soft open-files limit to the hard one at start-up, (2) holds at most
``max_connections`` connections, below that limit, and (3) at most
``max_connections_per_client`` from one address, and never more than a quarter of all
(trusted proxies excepted: every connection through them has their address). A connection
over a cap is closed at once, without a traceback; the log says so at most once per interval.

Counting needs no hook on close: each client's list of transports is pruned of closed ones
when it reaches its cap, so an accept costs O(1) until a client is near its limit.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import time
from collections.abc import Callable, Sequence

from auditstream.receiver.network import Network, parse_address

log = logging.getLogger("auditstream.receiver")

# Descriptors kept back from the receiver's connections: the journal (a database, its WAL and
# shared memory), the sinks' and Redis' connections, log files, the status server.
RESERVED_DESCRIPTORS = 64
REFUSAL_LOG_INTERVAL_SECONDS = 10.0
LISTEN_BACKLOG = 128  # aiohttp's own default


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # a container may refuse; keep what we have
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, hard, exc)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections(open_files_limit: int) -> int:
    return max(16, open_files_limit - RESERVED_DESCRIPTORS)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: the system picks); OSError as is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)


def reserve(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` but not listening: its port is known and held, and
    connections are refused until a receiver serves on it (``start_receiver(listener=)``).
    No SO_REUSEADDR until it serves: on Linux two such sockets, neither listening, may share
    a port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class ConnectionGate:
    """Admits a connection, or says no when it would go over a cap."""

    def __init__(self, max_total: int, max_per_client: int,
                 exempt: Sequence[Network] = ()) -> None:
        # One address never holds more than a quarter of all: under a low open-files limit a
        # flood from one address still leaves room for GitLab's connections.
        self.max_total = max_total
        self.max_per_client = min(max_per_client, max(1, max_total // 4))
        self._exempt = exempt
        self._all: list[asyncio.BaseTransport] = []
        self._by_client: dict[str, list[asyncio.BaseTransport]] = {}
        self.refused = 0
        self._refused_since_log = 0
        self._next_log = 0.0

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        if not _room(self._all, self.max_total):
            return self._refuse("max_connections", None)
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not self._is_exempt(client):
            held = self._by_client.setdefault(client, [])
            if not _room(held, self.max_per_client):
                return self._refuse("max_connections_per_client", client)
            held.append(transport)
            if len(self._by_client) > self.max_total:
                self._forget_gone_clients()
        self._all.append(transport)
        return True

    def _forget_gone_clients(self) -> None:
        live = {client: [t for t in held if not t.is_closing()]
                for client, held in self._by_client.items()}
        self._by_client = {client: held for client, held in live.items() if held}

    def _is_exempt(self, client: str) -> bool:
        address = parse_address(client)
        return address is not None and any(
            address.version == network.version and address in network
            for network in self._exempt)

    def _refuse(self, cap: str, client: str | None) -> bool:
        self.refused += 1
        self._refused_since_log += 1
        now = time.monotonic()
        if now >= self._next_log:
            log.warning("connections refused: over %s (%d since the last such line)", cap,
                        self._refused_since_log,
                        extra={"client": client or "any", "max_connections": self.max_total,
                               "max_connections_per_client": self.max_per_client})
            self._refused_since_log = 0
            self._next_log = now + REFUSAL_LOG_INTERVAL_SECONDS
        return False


def _room(transports: list[asyncio.BaseTransport], cap: int) -> bool:
    """Whether one more fits under ``cap``, pruning closed ones only when it seems full."""
    if len(transports) < cap:
        return True
    transports[:] = [t for t in transports if not t.is_closing()]
    return len(transports) < cap


class _Gatekeeper(asyncio.Protocol):
    """The first protocol of every connection: admitted ones are handed to aiohttp's handler
    (``set_protocol``) before any byte is read; the rest are closed at once."""

    def __init__(self, gate: ConnectionGate, handler: Callable[[], asyncio.Protocol]) -> None:
        self._gate, self._handler = gate, handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._gate.admit(transport):
            transport.abort()  # type: ignore[attr-defined]
            return
        handler = self._handler()
        transport.set_protocol(handler)
        handler.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        """Only refused connections end here; admitted ones belong to their handler."""


def gated(gate: ConnectionGate,
          handler: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for ``loop.create_server`` that lets ``gate`` decide first."""
    return lambda: _Gatekeeper(gate, handler)
