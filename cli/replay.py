"""``auditstream replay``: send a range of the journal to one sink again.

The replay runs a pipeline of its own (``relay.replay``): the sink's cursor and the other
sinks are never touched, with the relay running in another process or not."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import click

from auditstream.cli.output import OUTPUT_OPTION, echo_json
from auditstream.cli.progress import Progress
from auditstream.common.timespec import TimeSpecError, format_time, parse_time
from auditstream.config.app import Parts, load_config
from auditstream.config.errors import ConfigError
from auditstream.journal import JournalConfig, JournalError, open_journal, open_journal_readonly
from auditstream.relay.config import RelayConfig, SinkConfig
from auditstream.relay.replay import (
    FoundRange,
    RangeNotFound,
    RangeRequest,
    ReplayResult,
    find_range,
)
from auditstream.relay.replay import (
    replay as replay_range,
)
from auditstream.relay.service import build_sink, pipeline_settings


@dataclass(frozen=True, slots=True)
class _Outcome:
    found: FoundRange
    result: ReplayResult | None  # None: --dry-run


@click.command()
@click.option("--config", "config_path", required=True, envvar="AUDITSTREAM_CONFIG",
              type=click.Path(path_type=Path, dir_okay=False),
              help="The TOML config file: the journal, and the sink to send to.")
@click.option("--sink", "sink_name", required=True, help="The sink (its name in the config).")
@click.option("--since", help="From events received at this TIME: ISO 8601 "
                              "(2026-12-04T10:00:00Z) or a duration back from now (2h, 7d).")
@click.option("--until", help="Up to events received at this TIME (default: now). "
                              "Only with --since.")
@click.option("--from-id", help="From the event with this GitLab id on, to the newest.")
@click.option("--dry-run", is_flag=True, help="Only count what would be sent.")
@OUTPUT_OPTION
def replay(config_path: Path, sink_name: str, since: str | None, until: str | None,
           from_id: str | None, dry_run: bool, output: str) -> None:
    """Send a range of the journal to one sink again, through the sink's usual pipeline.

    The sink's cursor never moves back and the other sinks see nothing: the replay has a
    position of its own, kept in this process (stop it, and run it again to resend). Events of
    the range that retention already removed are reported."""
    request = _request(since, until, from_id)
    sink, relay, journal = _sink(config_path, sink_name)
    try:
        outcome = asyncio.run(_replay(journal, sink, relay, request, dry_run))
    except (JournalError, RangeNotFound) as exc:
        raise click.ClickException(str(exc)) from exc
    _show(sink.name, outcome, output)


def _request(since: str | None, until: str | None, from_id: str | None) -> RangeRequest:
    if (since is None) == (from_id is None):
        raise click.UsageError("give either --since TIME (with --until TIME if wanted) or "
                               "--from-id ID")
    if until is not None and since is None:
        raise click.UsageError("--until goes with --since")
    now = time.time()
    try:
        start = None if since is None else parse_time(since, now)
        end = None if until is None else parse_time(until, now)
    except TimeSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    if start is not None and end is not None and end < start:
        raise click.UsageError(f"--until ({format_time(end)}) is before --since "
                               f"({format_time(start)})")
    return RangeRequest(since=start, until=end, from_id=from_id)


def _sink(config_path: Path, name: str) -> tuple[SinkConfig, RelayConfig, JournalConfig]:
    try:
        config = load_config(config_path, parts=Parts.RELAY)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    relay = config.relay
    sinks = relay.sinks if relay is not None else ()
    for sink in sinks:
        if sink.name == name:
            assert relay is not None
            return sink, relay, config.journal
    known = ", ".join(s.name for s in sinks) or "none"
    raise click.UsageError(f"no sink {name!r} in {config_path} (its sinks: {known})")


async def _replay(journal_config: JournalConfig, sink_config: SinkConfig, relay: RelayConfig,
                  request: RangeRequest, dry_run: bool) -> _Outcome:
    if journal_config.backend == "sqlite" and not journal_config.path.is_file():
        raise JournalError(f"no journal at {journal_config.path}")
    # Writable unless counting: the sink may refuse an event again (a new dead letter).
    journal = await (open_journal_readonly(journal_config) if dry_run
                     else open_journal(journal_config))
    try:
        stats = await journal.stats()
        with Progress("scanning the journal", stats.events) as progress:
            found = await find_range(journal, request, last_seq=stats.last_seq or 0,
                                     progress=progress.update)
        _warn_purged(found)
        if dry_run:
            return _Outcome(found, None)
        sink = build_sink(sink_config)
        try:
            with Progress(f"replaying to {sink.name}", found.events) as progress:
                result = await replay_range(sink, journal,
                                            pipeline_settings(relay, sink_config), found.span,
                                            progress=progress.update)
        finally:
            await sink.close()
        return _Outcome(found, result)
    finally:
        await journal.close()


def _warn_purged(found: FoundRange) -> None:
    if found.purged_before:
        oldest = "" if found.oldest_held_at is None else \
            f" (the oldest event held was received at {format_time(found.oldest_held_at)})"
        click.echo(f"warning: {found.purged_before} events older than the journal's oldest "
                   f"were removed by retention{oldest}; those of them in the range cannot be "
                   "replayed", err=True)


def _show(sink: str, outcome: _Outcome, output: str) -> None:
    found, result = outcome.found, outcome.result
    if output == "json":
        echo_json({"sink": sink, "first_seq": found.span.first_seq,
                   "last_seq": found.span.last_seq, "events": found.events,
                   "purged_before_range": found.purged_before, "dry_run": result is None,
                   "delivered": None if result is None else result.delivered,
                   "dead_lettered": None if result is None else result.dead_lettered,
                   "purged_during_replay": None if result is None else result.purged})
        return
    span = f"seq {found.span.first_seq} to {found.span.last_seq}"
    if result is None:
        click.echo(f"dry run: {found.events} events ({span}) would be sent to {sink}")
        return
    click.echo(f"replayed {span} to {sink}: {result.delivered} delivered, "
               f"{result.dead_lettered} dead-lettered")
    if result.purged:
        click.echo(f"warning: {result.purged} events of the range were removed by retention "
                   "before they could be sent", err=True)
