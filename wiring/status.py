"""Reading what ``auditstream status`` shows: a running process's endpoints (when one
answers) and the journal (always, read-only). Making the report is ``wiring.status_model``."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import orjson

from auditstream.config.app import AppConfig
from auditstream.journal import JournalConfig, JournalError, open_journal_readonly
from auditstream.journal.model import STREAM
from auditstream.wiring.status_model import (
    JournalFacts,
    ProcessFacts,
    StatusReport,
    build_report,
    parse_process,
)

# Per destination, the newest event among the journal's last this many (a bounded read).
TAIL_FOR_DESTINATIONS = 10_000
MAX_DEAD_LETTERS = 100_000
HTTP_TIMEOUT_SECONDS = 3.0


def process_url(config: AppConfig) -> str | None:
    """Where the config's receiver listens, as a URL to ask; None when it cannot be known
    (no [receiver], or port 0)."""
    receiver = config.receiver
    if receiver is None or receiver.port == 0:
        return None
    host = receiver.host
    if host in ("", "0.0.0.0"):  # noqa: S104 (reading what the config says, not binding)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if receiver.tls_cert is not None else "http"
    return f"{scheme}://{host}:{receiver.port}"


def _no_url_because(config: AppConfig) -> str:
    receiver = config.receiver
    if receiver is not None and receiver.listen_fd is not None:
        return (f"no process URL (the config's receiver serves an inherited socket, "
                f"fd:{receiver.listen_fd}; give --url with its address)")
    return "no process URL (the config's receiver has none; give --url)"


async def gather_status(config: AppConfig, url: str | None, now: float) -> StatusReport:
    process, unreachable = (None, _no_url_because(config)) if url is None \
        else await read_process(url)
    journal = await read_journal(config.journal)
    sinks = [s.name for s in config.relay.sinks] if config.relay is not None else []
    destinations = ([d.name for d in config.receiver.destinations]
                    if config.receiver is not None else [])
    return build_report(now, process, unreachable, journal, sinks, destinations)


async def read_process(url: str) -> tuple[ProcessFacts | None, str | None]:
    """The process's /metrics and /readyz, or why they could not be read."""
    base = url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(base + "/metrics", allow_redirects=False) as response:
                if response.status != 200:
                    return None, f"{base}/metrics answered {response.status}"
                metrics = await response.text()
            async with session.get(base + "/readyz", allow_redirects=False) as response:
                readyz = orjson.loads(await response.read())
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return None, f"no process answered at {base} ({type(exc).__name__})"
    except orjson.JSONDecodeError:
        return None, f"{base}/readyz did not answer JSON"
    if not isinstance(readyz, dict):
        return None, f"{base}/readyz did not answer a JSON object"
    try:
        return parse_process(base, metrics, readyz), None
    except ValueError as exc:
        return None, f"{base}/metrics is not Prometheus text ({exc})"


async def read_journal(config: JournalConfig) -> JournalFacts:
    where = journal_where(config)
    try:
        journal = await open_journal_readonly(config)
    except JournalError as exc:
        return JournalFacts(where=where, error=str(exc))
    try:
        stats = await journal.stats()
        oldest = None
        if stats.first_seq is not None:
            found = await journal.read("", 1, after=stats.first_seq - 1)
            oldest = found[0] if found else None
        tail = await journal.tail(TAIL_FOR_DESTINATIONS)
        newest: dict[str, float] = {}
        for event in tail:  # streamed ones: a backfill says nothing of the stream
            if event.origin == STREAM:
                newest[event.destination] = max(event.received_at,
                                                newest.get(event.destination, 0.0))
        first_undelivered = {}
        for position in stats.sinks:
            if position.backlog:
                found = await journal.read(position.sink, 1, after=position.cursor)
                if found:
                    first_undelivered[position.sink] = found[0]
        dead = await journal.dead_letters(None, MAX_DEAD_LETTERS)
    except JournalError as exc:
        return JournalFacts(where=where, error=str(exc))
    finally:
        await journal.close()
    size, free = _disk(config)
    return JournalFacts(where=where, events=stats.events, size_bytes=size, free_disk_bytes=free,
                        oldest=oldest, newest_by_destination=newest, positions=stats.sinks,
                        first_undelivered=first_undelivered, dead_letters=dead,
                        tail_size=len(tail))


def journal_where(config: JournalConfig) -> str:
    """The journal's file, or its Redis server and prefix (never a password)."""
    if config.redis is None:
        return str(config.path)
    parts = urlsplit(config.redis.url)
    where = parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
    return f"{parts.scheme}://{where} {{{config.redis.key_prefix}}}"


def _disk(config: JournalConfig) -> tuple[int | None, int | None]:
    if config.redis is not None:
        return None, None  # Redis' memory is the server's to tell
    size = 0
    for suffix in ("", "-wal"):
        path = Path(f"{config.path}{suffix}")
        if path.exists():
            size += path.stat().st_size
    try:
        free = shutil.disk_usage(config.path.parent).free
    except OSError:
        free = None
    return size, free
