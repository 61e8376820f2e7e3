"""The one wiring of the parts: journal, retention, relay, receiver (or a relay's status server).

``run``, ``receive``, ``relay`` and ``demo`` all start their parts here, so they open, settle and
stop the same way. No click here: what is said to the person comes through ``announce``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from auditstream.common.health import ReadinessProbe
from auditstream.config.app import AppConfig
from auditstream.journal import Journal, JournalError, open_journal
from auditstream.journal.retention import purge_periodically
from auditstream.receiver.metrics import ReceiverMetrics
from auditstream.receiver.service import RunningReceiver, start_receiver
from auditstream.reconcile.continuous import reconcile_periodically
from auditstream.reconcile.metrics import ReconcileMetrics
from auditstream.reconcile.state import StateFile
from auditstream.reconcile.uptime import HEARTBEAT_SECONDS
from auditstream.relay.service import Relay
from auditstream.relay.status import create_status_app
from auditstream.wiring.gctune import settle_after_startup

log = logging.getLogger("auditstream.wiring")

RECONCILE_STATE_FILE = "reconcile-state.json"  # beside the journal's file

# On SIGTERM the relay gets this long to finish the batch in hand before its cursor is saved.
RELAY_STOP_GRACE_SECONDS = 10.0

Announce = Callable[[str], None]


@dataclass(slots=True)
class RunningParts:
    """What ``running_parts`` started; ``receiver``/``relay`` are None when not asked for."""

    journal: Journal
    registry: CollectorRegistry
    receiver: RunningReceiver | None
    relay: Relay | None
    status_url: str | None


@contextlib.asynccontextmanager
async def running_parts(config: AppConfig, *, receive: bool, relay: bool,
                        status_listen: tuple[str, int] | None = None,
                        registry: CollectorRegistry | None = None,
                        announce: Announce = print) -> AsyncIterator[RunningParts]:
    """Start the parts asked for; on leaving, stop receiving first, then let the relay finish."""
    registry = registry if registry is not None else CollectorRegistry()
    journal = await open_journal(config.journal)
    relay_service = Relay(config.relay, journal, registry) if relay and config.relay else None
    purge = asyncio.create_task(purge_periodically(journal, config.journal))
    reconciling: list[asyncio.Task[None]] = []
    running_receiver: RunningReceiver | None = None
    status: tuple[web.AppRunner, str] | None = None
    try:
        if relay_service is not None:
            await relay_service.check_sinks()
            relay_service.start()
        probes = relay_service.probes() if relay_service else []
        if receive and config.receiver is not None:
            running_receiver = await start_receiver(config.receiver, journal,
                                                    ReceiverMetrics.create(registry), probes)
            announce(_listening("receiver", running_receiver.url, config))
            reconciling = [asyncio.create_task(_record_uptime(journal), name="uptime"),
                           *_start_reconcile(config, journal, registry)]
        elif status_listen is not None:
            status = await _start_status(registry, probes, status_listen)
            announce(_listening("relay status", status[1], config))
        else:
            announce(f"auditstream relay running (journal: {config.journal.describe()})")
        settle_after_startup()
        yield RunningParts(journal, registry, running_receiver, relay_service,
                           status[1] if status else None)
    finally:
        log.info("stopping: no new requests; finishing what is in hand")
        for task in reconciling:
            task.cancel()
        if running_receiver is not None:
            await running_receiver.stop()
        for task in reconciling:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if status is not None:
            await status[0].cleanup()
        if relay_service is not None:
            await relay_service.stop(RELAY_STOP_GRACE_SECONDS)
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        await journal.close()
        log.info("stopped")


async def _record_uptime(journal: Journal) -> None:
    """Note in the journal that this process listens: at start, every heartbeat, at stop."""
    started = time.time()
    process = f"{socket.gethostname()}:{os.getpid()}:{started:.3f}"
    try:
        while True:
            try:
                await journal.record_uptime(process, started, time.time())
            except JournalError as exc:
                log.warning("cannot record this receiver's uptime: %s", exc)
            await asyncio.sleep(HEARTBEAT_SECONDS)
    finally:  # cancelled at stop: the last word is "listened until now"
        with contextlib.suppress(JournalError):
            await asyncio.shield(journal.record_uptime(process, started, time.time(),
                                                       stopped=True))


def _start_reconcile(config: AppConfig, journal: Journal,
                     registry: CollectorRegistry) -> list[asyncio.Task[None]]:
    """One task per destination that opted into continuous reconcile."""
    chosen = [s for s in config.reconcile if s.schedule is not None]
    if not chosen:
        return []
    state = StateFile(config.journal.path.parent / RECONCILE_STATE_FILE)
    metrics = ReconcileMetrics.create(registry)
    return [asyncio.create_task(
        reconcile_periodically(s, journal, state, config.journal.dedup_window_seconds, metrics),
        name=f"reconcile:{s.destination}") for s in chosen]


async def serve(config: AppConfig, *, receive: bool, relay: bool,
                status_listen: tuple[str, int] | None = None,
                announce: Announce = print) -> None:
    """Run the parts asked for until SIGTERM or SIGINT (or until a relay pipeline fails)."""
    stop = stop_on_signals()
    async with running_parts(config, receive=receive, relay=relay, status_listen=status_listen,
                             announce=announce) as parts:
        await _until_stopped(stop, parts.relay)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _until_stopped(stop: asyncio.Event, relay_service: Relay | None) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        failure = relay_service.failed() if relay_service else None
        if failure is not None:
            raise RuntimeError(f"a relay pipeline stopped: {failure!r}") from failure


def _listening(what: str, url: str, config: AppConfig) -> str:
    parts = [f"journal: {config.journal.describe()}"]
    if config.receiver is not None and what == "receiver":
        parts.insert(0, "destinations: " + ", ".join(d.name for d in config.receiver.destinations))
    if config.relay is not None:
        parts.append("sinks: " + ", ".join(s.name for s in config.relay.sinks))
    return f"auditstream {what} listening on {url} ({'; '.join(parts)})"


async def _start_status(registry: CollectorRegistry, probes: list[ReadinessProbe],
                        listen: tuple[str, int]) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_status_app(registry, probes), access_log=None,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, listen[0], listen[1])
    await site.start()
    host, port = next(a for a in runner.addresses if isinstance(a, tuple))[:2]
    return runner, f"http://{host}:{port}"
