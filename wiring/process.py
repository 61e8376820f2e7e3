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
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from auditstream.common.health import ReadinessProbe
from auditstream.config.app import AppConfig
from auditstream.config.errors import ConfigError
from auditstream.journal import Journal, JournalError, open_journal
from auditstream.journal.retention import purge_periodically
from auditstream.receiver.config import ReceiverConfig
from auditstream.receiver.connections import raise_open_files_limit
from auditstream.receiver.metrics import ReceiverMetrics
from auditstream.receiver.service import RunningReceiver, start_receiver
from auditstream.reconcile.config import ReconcileSettings
from auditstream.reconcile.continuous import reconcile_periodically
from auditstream.reconcile.metrics import ReconcileMetrics
from auditstream.reconcile.state import LEGACY_STATE_FILE, take_in_state_file
from auditstream.reconcile.uptime import HEARTBEAT_SECONDS
from auditstream.relay.service import Relay
from auditstream.relay.status import create_status_app
from auditstream.wiring.errors import StartupError
from auditstream.wiring.gctune import settle_after_startup
from auditstream.wiring.preflight import bind_listener, check_journal_place

log = logging.getLogger("auditstream.wiring")


# On SIGTERM the relay gets this long to finish the batch in hand before its cursor is saved.
RELAY_STOP_GRACE_SECONDS = 10.0
# How often the config file (and the token files' folder) is looked at for changes: a stat or
# two, so a destination added by 'destinations create --write-config' is taken within seconds.
WATCH_INTERVAL_SECONDS = 2.0

Announce = Callable[[str], None]
# Work that runs beside the parts once they are up (the CLI's continuous canary), cancelled
# when they stop.
Companion = Callable[["RunningParts"], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class RunningParts:
    """What ``running_parts`` started; ``receiver``/``relay`` are None when not asked for."""

    journal: Journal
    registry: CollectorRegistry
    receiver: RunningReceiver | None
    relay: Relay | None
    status_url: str | None


@dataclass(frozen=True, slots=True)
class Reloader:
    """How to read the receiver's settings again, as at start-up (the file and the options),
    and which files to watch for changes (the config file, the token files' folder)."""

    read: Callable[[], ReceiverConfig]
    watched: tuple[Path, ...] = ()


@contextlib.asynccontextmanager
async def running_parts(config: AppConfig, *, receive: bool, relay: bool,
                        status_listen: tuple[str, int] | None = None,
                        registry: CollectorRegistry | None = None,
                        announce: Announce = print,
                        listener: socket.socket | None = None) -> AsyncIterator[RunningParts]:
    """Start the parts asked for; on leaving, stop receiving first, then let the relay finish.

    ``listener``: the receiver's socket, already bound by the caller (who needed its port
    before the receiver could start); else the receiver binds its config's address.

    The receiver listens first: GitLab never retries, so nothing that is not the receiver's
    own journal (a sink's start-up check, a slow Redis on the relay's side) may delay it. Its
    address is bound and the journal's place checked before anything is created."""
    receiver_config = config.receiver if receive else None
    if receiver_config is not None:
        raise_open_files_limit()  # before the connection cap is derived from it
    if listener is None and receiver_config is not None:
        listener = bind_listener(receiver_config)
    try:
        check_journal_place(config.journal)
        journal = await _open_journal(config)
    except BaseException:
        if listener is not None:
            listener.close()
        raise
    registry = registry if registry is not None else CollectorRegistry()
    relay_service = Relay(config.relay, journal, registry) if relay and config.relay else None
    probes = relay_service.probes() if relay_service else []
    purge = asyncio.create_task(purge_periodically(journal, config.journal))
    reconciling: list[asyncio.Task[None]] = []
    running_receiver: RunningReceiver | None = None
    status: tuple[web.AppRunner, str] | None = None
    sink_check: asyncio.Task[object] | None = None
    try:
        if receiver_config is not None:
            running_receiver = await start_receiver(receiver_config, journal,
                                                    ReceiverMetrics.create(registry), probes,
                                                    listener=listener)
            announce(_listening("receiver", running_receiver.url, config, relay_service))
        if relay_service is not None:
            relay_service.start()
            sink_check = asyncio.create_task(relay_service.check_sinks(), name="sink-check")
        if running_receiver is not None:
            reconciling = [asyncio.create_task(_record_uptime(journal), name="uptime"),
                           *_start_reconcile(config, journal, registry)]
        if running_receiver is None and status_listen is not None:
            status = await _start_status(registry, probes, status_listen)
            announce(_listening("relay status", status[1], config, relay_service))
        elif running_receiver is None:
            announce(f"auditstream relay running (journal: {config.journal.describe()})")
        settle_after_startup()
        yield RunningParts(journal, registry, running_receiver, relay_service,
                           status[1] if status else None)
    finally:
        log.info("stopping: no new requests; finishing what is in hand")
        await _cancel(sink_check)
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
        await _cancel(purge)
        await journal.close()
        log.info("stopped")


def this_process() -> str:
    """This process among the others on one journal (its uptime record, its reconcile turns)."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def _record_uptime(journal: Journal) -> None:
    """Note in the journal that this process listens: at start, every heartbeat, at stop."""
    started = time.time()
    process = f"{this_process()}:{started:.3f}"
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
    metrics = ReconcileMetrics.create(registry)

    async def reconcile(settings: ReconcileSettings) -> None:
        if config.journal.backend == "sqlite":  # idempotent: each task may take it in
            await take_in_state_file(config.journal.path.parent / LEGACY_STATE_FILE, journal)
        await reconcile_periodically(settings, journal, config.journal.dedup_window_seconds,
                                     metrics, holder=this_process())

    return [asyncio.create_task(reconcile(s), name=f"reconcile:{s.destination}")
            for s in chosen]


async def _open_journal(config: AppConfig) -> Journal:
    try:
        return await open_journal(config.journal)
    except (JournalError, OSError) as exc:
        raise StartupError(f"cannot open the journal ({config.journal.describe()}): {exc}; "
                           "check [journal] in the config file (or --journal)") from exc


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve(config: AppConfig, *, receive: bool, relay: bool,
                status_listen: tuple[str, int] | None = None,
                announce: Announce = print, reloader: Reloader | None = None,
                companion: Companion | None = None) -> None:
    """Run the parts asked for until SIGTERM or SIGINT (or until a relay pipeline fails).

    With a ``reloader``, SIGHUP (or a change to a watched file) reads the receiver's
    destinations and tokens again; a broken file keeps the running settings and says why.
    A ``companion`` runs beside the parts once they are up, and is cancelled first."""
    stop = stop_on_signals()
    # Before anything listens: a SIGHUP or a change once the receiver is up is a request.
    asked = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, asked.set)
    seen = fingerprint(reloader.watched) if reloader is not None else ()
    async with running_parts(config, receive=receive, relay=relay, status_listen=status_listen,
                             announce=announce) as parts:
        reloading = None
        if reloader is not None and parts.receiver is not None:
            reloading = asyncio.create_task(
                _reload_on_request(parts.receiver, reloader, asked, seen))
        beside: asyncio.Task[None] | None = None
        if companion is not None:
            beside = asyncio.create_task(companion(parts), name="companion")
        try:
            await _until_stopped(stop, parts.relay)
        finally:
            await _cancel(beside)
            await _cancel(reloading)


async def _reload_on_request(receiver: RunningReceiver, reloader: Reloader,
                             asked: asyncio.Event, seen: tuple[object, ...]) -> None:
    """Reload when ``asked`` (SIGHUP), and when a watched file changes (checked every few
    seconds)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asked.wait(), WATCH_INTERVAL_SECONDS)
        now = fingerprint(reloader.watched)
        if asked.is_set() or now != seen:
            why = "SIGHUP" if asked.is_set() else "a watched file changed"
            asked.clear()
            seen = now
            reload_receiver(receiver, reloader, why)


def reload_receiver(receiver: RunningReceiver, reloader: Reloader, why: str) -> bool:
    """Read the settings again and swap them in; on any error keep the running ones."""
    try:
        config = reloader.read()
    except ConfigError as exc:
        log.error("reload (%s) failed, keeping the running settings: %s", why, exc)
        return False
    restart_only = receiver.reload(config)
    log.info("reloaded (%s): destinations %s", why,
             ", ".join(d.name for d in config.destinations))
    if restart_only:
        log.warning("changed settings that take effect only at a restart: %s",
                    ", ".join(restart_only))
    return True


def fingerprint(paths: tuple[Path, ...]) -> tuple[object, ...]:
    """What changes when a watched file (or a file in a watched folder) is written."""
    found: list[object] = []
    for path in paths:
        try:
            entries = sorted(path.iterdir()) if path.is_dir() else [path]
            for entry in entries:
                stat = entry.stat()
                found.append((str(entry), stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError:
            found.append((str(path), None))
    return tuple(found)


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


def _listening(what: str, url: str, config: AppConfig, relay_service: Relay | None) -> str:
    parts = [f"journal: {config.journal.describe()}"]
    if config.receiver is not None and what == "receiver":
        parts.insert(0, "destinations: " + ", ".join(d.name for d in config.receiver.destinations))
    if config.relay is not None and relay_service is not None:
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
