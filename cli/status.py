"""``auditstream status``: the receiver, the journal, each sink, dead letters and
destinations, on one screen (or as JSON), from a running process when one answers."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import click

from auditstream.cli.output import OUTPUT_OPTION, echo_json, echo_table
from auditstream.common.timespec import format_time
from auditstream.config.app import load_outline
from auditstream.config.errors import ConfigError
from auditstream.receiver.metrics import RECENT_MINUTES
from auditstream.wiring.status import gather_status, process_url
from auditstream.wiring.status_model import StatusReport


@click.command()
@click.option("--config", "config_path", required=True, envvar="AUDITSTREAM_CONFIG",
              type=click.Path(path_type=Path, dir_okay=False),
              help="The TOML config file: where the process listens, the journal, the sinks.")
@click.option("--url", help="The running process's base URL (receiver, or a relay's status "
                            "server), where the config's [receiver] listen does not say it.")
@click.option("--watch", is_flag=True, help="Refresh until interrupted (in place on a "
                                            "terminal).")
@click.option("--interval", type=click.FloatRange(min=0.5), default=2.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@OUTPUT_OPTION
def status(config_path: Path, url: str | None, watch: bool, interval: float,
           output: str) -> None:
    """One screen: the receiver, the journal, each sink, dead letters, destinations.

    Reads a running process's /metrics and /readyz when one answers (at the config's
    [receiver] listen, or --url), and the journal in any case; it says which it did."""
    try:
        config = load_outline(config_path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    target = url or process_url(config)
    in_place = watch and output == "table" and sys.stdout.isatty()
    while True:
        report = asyncio.run(gather_status(config, target, time.time()))
        if in_place:
            click.clear()
        if output == "json":
            echo_json(report_json(report))
        else:
            show(report)
        if not watch:
            break
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            break
        if not in_place and output == "table":
            click.echo()


def show(report: StatusReport) -> None:
    click.echo(f"status at {format_time(report.checked_at)}: {report.source_detail}")
    click.echo()
    process = report.process
    if process is None or not process.has_receiver:
        click.echo("receiver: not running" if process is None
                   else f"receiver: none (a relay's status server at {process.url})")
    else:
        click.echo(f"receiver: listening at {process.url}, "
                   + ("ready" if process.ready else "NOT ready: " + _not_ready(report)))
        click.echo(f"  requests in the last {RECENT_MINUTES} minutes: "
                   + _counts(process.requests_recent))
        click.echo("  requests since it started: " + _counts(process.requests_total))
    click.echo()
    journal = report.journal
    if journal.error is not None:
        click.echo(f"journal {journal.where}: cannot be read: {journal.error}")
    else:
        oldest = "-" if journal.oldest is None else format_time(journal.oldest.received_at)
        click.echo(f"journal {journal.where}: {journal.events} events, oldest received "
                   f"{oldest}, size {_bytes(journal.size_bytes)}, free disk "
                   f"{_bytes(journal.free_disk_bytes)}")
    click.echo()
    echo_table(["sink", "state", "backlog", "lag", "last success", "in flight", "reason"],
               [[s.name, s.state, _dash(s.backlog),
                 "-" if s.lag_seconds is None else f"{s.lag_seconds:.0f}s",
                 "-" if s.last_success_at is None else format_time(s.last_success_at),
                 _dash(s.in_flight), s.reason] for s in report.sinks])
    click.echo()
    if report.dead_letters:
        echo_table(["dead letters of", "reason", "count", "retry requested"],
                   [[g.sink, g.reason, g.count, g.retry_requested]
                    for g in report.dead_letters])
    else:
        click.echo("no dead letters")
    click.echo()
    silent = report.process.silent if report.process is not None else frozenset()
    echo_table(["destination", "last event received", ""],
               [[name, "-" if when is None else format_time(when),
                 "SILENT (past its expect_event_within)" if name in silent else ""]
                for name, when in report.destinations])


def report_json(report: StatusReport) -> dict[str, object]:
    process, journal = report.process, report.journal
    receiver: dict[str, object] | None = None
    if process is not None and process.has_receiver:
        receiver = {"url": process.url, "listening": True, "ready": process.ready,
                    "recent_minutes": RECENT_MINUTES,
                    "requests_recent": dict(process.requests_recent),
                    "requests_total": dict(process.requests_total)}
    elif process is None:
        receiver = {"listening": False}
    return {
        "checked_at": report.checked_at, "source": report.source,
        "source_detail": report.source_detail,
        "ready": None if process is None else process.ready,
        "receiver": receiver,
        "journal": {"where": journal.where, "error": journal.error, "events": journal.events,
                    "size_bytes": journal.size_bytes, "free_disk_bytes": journal.free_disk_bytes,
                    "oldest_event_at": (None if journal.oldest is None
                                        else journal.oldest.received_at)},
        "sinks": [{"sink": s.name, "state": s.state, "reason": s.reason, "backlog": s.backlog,
                   "lag_seconds": s.lag_seconds, "last_success_at": s.last_success_at,
                   "in_flight": s.in_flight} for s in report.sinks],
        "dead_letters": [{"sink": g.sink, "reason": g.reason, "count": g.count,
                          "retry_requested": g.retry_requested} for g in report.dead_letters],
        "destinations": [{"destination": name, "last_event_at": when,
                          "silent": None if process is None else name in process.silent}
                         for name, when in report.destinations],
        "destinations_from_last_events": journal.tail_size,
    }


def _not_ready(report: StatusReport) -> str:
    assert report.process is not None
    return "; ".join(f"{name}: {reason}" for name, (ok, reason)
                     in report.process.components.items() if not ok)


def _counts(counts: Mapping[str, float]) -> str:
    return ", ".join(f"{outcome} {int(n)}" for outcome, n in sorted(counts.items())) or "none"


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{value} B"
