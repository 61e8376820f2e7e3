"""``auditstream backfill``: fetch what the stream missed from GitLab's REST API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import orjson

from auditstream.cli.progress import Progress
from auditstream.client.errors import GitLabError
from auditstream.common import timespec
from auditstream.common.printable import printable
from auditstream.config.app import load_reconcile_config
from auditstream.config.errors import ConfigError
from auditstream.journal import (
    Journal,
    JournalConfig,
    JournalError,
    open_journal,
    open_journal_readonly,
)
from auditstream.journal.memory import MemoryJournal
from auditstream.reconcile.backfill import BackfillReport, backfill
from auditstream.reconcile.config import ReconcileSettings, ReconcileTarget
from auditstream.reconcile.errors import ReconcileError
from auditstream.reconcile.gitlab_filters import filters_from_gitlab
from auditstream.reconcile.select import DestinationFilter


def parse_time(text: str, now: datetime, option: str) -> datetime:
    """ISO 8601 (a zone, or UTC when none is given) or a duration back from now (2h, 7d): the
    syntax every command taking a TIME shares (``common.timespec``)."""
    try:
        return datetime.fromtimestamp(timespec.parse_time(text, now.timestamp()), UTC)
    except timespec.TimeSpecError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command()
@click.option("--config", "config_path", required=True, envvar="AUDITSTREAM_CONFIG",
              type=click.Path(path_type=Path, dir_okay=False),
              help="The config file: the destination's table and the journal.")
@click.option("--destination", "name", required=True,
              help="The [[receiver.destinations]] name to backfill.")
@click.option("--since", required=True,
              help="Start: ISO 8601, or a duration back from now (2h, 7d).")
@click.option("--until", default=None, help="End (default: now); same forms as --since.")
@click.option("--dry-run", is_flag=True,
              help="List and compare with the journal, append nothing.")
@click.option("--output", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A table for people, JSON for scripts.")
def backfill_command(config_path: Path, name: str, since: str, until: str | None,
                     dry_run: bool, output: str) -> None:
    """Fetch what the stream missed from GitLab's stored audit events.

    Lists the destination's stored events over GitLab's REST API in the range and appends
    those the journal lacks (the stream's dedup key: nothing doubles).

    Exit 0 when it completed, 1 on an error GitLab (or the journal) reported, 2 on usage
    errors. Stream-only event types cannot be backfilled: they are reported, not invented."""
    now = datetime.now(UTC)
    start = parse_time(since, now, "--since")
    end = parse_time(until, now, "--until") if until is not None else now
    if start >= end:
        raise click.UsageError(f"--since ({start.isoformat()}) must be before --until "
                               f"({end.isoformat()})")
    journal_config, destinations = _config(config_path)
    settings = _settings(destinations, name, config_path)
    try:
        target = settings.target()
    except ReconcileError as exc:
        raise click.UsageError(str(exc)) from exc
    window = timedelta(seconds=journal_config.dedup_window_seconds)
    if start < now - window and not dry_run:
        # On stderr: stdout may be JSON for a script.
        click.echo(f"warning: --since is older than the journal's dedup window "
                   f"({window.days} days): an event whose id the journal has forgotten is "
                   "appended, and sent to the sinks, again", err=True)
    try:
        report = asyncio.run(_run(journal_config, target, start, end, dry_run))
    except GitLabError as exc:  # GitLab's own words: outsiders' text (common/printable.py)
        raise click.ClickException(printable(f"GitLab: {exc}")) from exc
    except JournalError as exc:
        raise click.ClickException(printable(f"journal: {exc}")) from exc
    except ReconcileError as exc:
        raise click.ClickException(printable(str(exc))) from exc
    if output == "json":
        click.echo(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(table(report))


def _config(path: Path) -> tuple[JournalConfig, tuple[ReconcileSettings, ...]]:
    try:
        return load_reconcile_config(path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


def _settings(destinations: tuple[ReconcileSettings, ...], name: str,
              path: Path) -> ReconcileSettings:
    for settings in destinations:
        if settings.destination == name:
            return settings
    known = ", ".join(s.destination for s in destinations) or "none"
    raise click.UsageError(f"--destination: no destination {name!r} in {path} "
                           f"(configured: {known})")


async def _run(config: JournalConfig, target: ReconcileTarget, since: datetime,
               until: datetime, dry_run: bool) -> BackfillReport:
    rules = await filters_from_gitlab(target) or DestinationFilter()
    journal: Journal
    if dry_run and config.backend == "sqlite" and not config.path.exists():
        # Nothing received yet: every event GitLab lists would be added. (A real open would
        # create the file, which a dry run must not.)
        click.echo(f"no journal at {config.path} yet: it holds nothing", err=True)
        journal = MemoryJournal.empty(config)
    else:
        journal = await (open_journal_readonly(config) if dry_run else open_journal(config))
    try:
        with Progress("events listed by GitLab", None) as progress:
            return await backfill(target, journal, since, until, rules=rules,
                                  dry_run=dry_run, on_page=progress.update)
    finally:
        await journal.close()


def _stream_only(types: tuple[str, ...]) -> str:
    if not types:
        return "nothing"
    return (f"{len(types)} stream-only types ({', '.join(types)}): GitLab never stores them, "
            "so any sent while nothing listened are lost")


def _gaps(report: BackfillReport) -> str:
    if report.not_listening is None:
        return "unknown (no receiver recorded its uptime in this journal)"
    if not report.not_listening:
        return "never, in this range"
    return "; ".join(f"{a.isoformat(timespec='seconds')} .. {b.isoformat(timespec='seconds')}"
                     for a, b in report.not_listening)


def table(report: BackfillReport) -> str:
    """The report for people: what was found, held, added, and what cannot be known."""
    data = report.as_json()
    added_label = "would add" if report.dry_run else "added"
    filters = [*(f"types {', '.join(report.filters.event_types)}"
                 for _ in [0] if report.filters.event_types),
               *(f"namespace {report.filters.namespace}" for _ in [0]
                 if report.filters.namespace)]
    rows = [
        ("destination", f"{report.destination} ({report.scope})"),
        ("range", f"{report.since.isoformat()} .. {report.until.isoformat()}"),
        ("found in GitLab", f"{report.found} stored events ({report.queries} REST requests, "
                            f"{report.rate_limited} rate-limit waits)"),
        ("not for this destination", f"{report.filtered_out} (filters: "
                                     f"{'; '.join(filters) or 'none'})"),
        ("already in the journal", str(report.already_held)),
        (added_label, f"{data['would_add' if report.dry_run else 'added']} (origin=backfill)"),
        ("cannot know", _stream_only(report.stream_only_types)),
        ("nothing listened", _gaps(report)),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {printable(value)}" for label, value in rows)
