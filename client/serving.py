"""Running receiver and relay in one process, or either alone, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import click
from aiohttp import web
from prometheus_client import CollectorRegistry

from client.config import AppConfig
from client.gctune import settle_after_startup
from journal import open_journal
from receiver.metrics import ReceiverMetrics
from receiver.service import purge_periodically, start_receiver
from relay.service import ReadinessProbe, Relay
from relay.status import create_status_app

log = logging.getLogger("auditstream.cli")

# On SIGTERM the relay gets this long to finish the batch in hand before its cursor is saved.
RELAY_STOP_GRACE_SECONDS = 10.0


async def serve(config: AppConfig, *, receive: bool, relay: bool,
                status_listen: tuple[str, int] | None = None) -> None:
    """Run the parts asked for; on a signal stop receiving first, then let the relay finish."""
    stop = _stop_on_signals()
    journal = await open_journal(config.journal)
    registry = CollectorRegistry()
    relay_service = Relay(config.relay, journal, registry) if relay and config.relay else None
    purge = asyncio.create_task(purge_periodically(journal, config.journal))
    running_receiver = status = None
    try:
        if relay_service is not None:
            await relay_service.check_sinks()
            relay_service.start()
        probes = relay_service.probes() if relay_service else []
        if receive and config.receiver is not None:
            running_receiver = await start_receiver(config.receiver, journal,
                                                    ReceiverMetrics.create(registry), probes)
            _announce("receiver", running_receiver.url, config)
        elif status_listen is not None:
            status = await _start_status(registry, probes, status_listen)
            _announce("relay status", status[1], config)
        else:
            click.echo(f"auditstream relay running (journal: {config.journal.describe()})")
            sys.stdout.flush()
        settle_after_startup()
        await _until_stopped(stop, relay_service)
    finally:
        log.info("stopping: no new requests; finishing what is in hand")
        if running_receiver is not None:
            await running_receiver.stop()
        if status is not None:
            await status[0].cleanup()
        if relay_service is not None:
            await relay_service.stop(RELAY_STOP_GRACE_SECONDS)
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        await journal.close()
        log.info("stopped")


async def _until_stopped(stop: asyncio.Event, relay_service: Relay | None) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        failure = relay_service.failed() if relay_service else None
        if failure is not None:
            raise RuntimeError(f"a relay pipeline stopped: {failure!r}") from failure


def _announce(what: str, url: str, config: AppConfig) -> None:
    parts = [f"journal: {config.journal.describe()}"]
    if config.receiver is not None and what == "receiver":
        parts.insert(0, "destinations: " + ", ".join(d.name for d in config.receiver.destinations))
    if config.relay is not None:
        parts.append("sinks: " + ", ".join(s.name for s in config.relay.sinks))
    click.echo(f"auditstream {what} listening on {url} ({'; '.join(parts)})")
    sys.stdout.flush()


async def _start_status(registry: CollectorRegistry, probes: list[ReadinessProbe],
                        listen: tuple[str, int]) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_status_app(registry, probes), access_log=None,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, listen[0], listen[1])
    await site.start()
    host, port = next(a for a in runner.addresses if isinstance(a, tuple))[:2]
    return runner, f"http://{host}:{port}"


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
