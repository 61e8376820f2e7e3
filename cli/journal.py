"""``auditstream journal``: look into the journal (read-only; safe while it is in use)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from auditstream.cli.output import OUTPUT_OPTION, echo_json, echo_table
from auditstream.common.printable import printable
from auditstream.config.app import load_journal_config
from auditstream.config.errors import ConfigError
from auditstream.journal import (
    Journal,
    JournalConfig,
    JournalError,
    StoredEvent,
    open_journal,
    open_journal_readonly,
)
from auditstream.journal.config import DEFAULT_JOURNAL_PATH
from auditstream.relay.formats import FORMATS, OCSF, RAW
from auditstream.relay.formats.ocsf import to_ocsf

T = TypeVar("T")



def journal_options(command: Any) -> Any:
    """``--config`` and ``--journal``: which journal to look into."""
    command = click.option(
        "--journal", "journal_path", type=click.Path(path_type=Path, dir_okay=False),
        envvar="AUDITSTREAM_JOURNAL",
        help=f"The journal file (default {DEFAULT_JOURNAL_PATH}; overrides --config's "
             "path).")(command)
    return click.option(
        "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
        envvar="AUDITSTREAM_CONFIG",
        help="The TOML config file: its [journal] says which journal (SQLite or Redis).",
    )(command)


@click.group()
def journal() -> None:
    """Inspect the journal: counts, cursors, the latest events."""


@journal.command()
@journal_options
@OUTPUT_OPTION
def stats(config_path: Path | None, journal_path: Path | None, output: str) -> None:
    """Events held, duplicates refused, id collisions, each sink's cursor and backlog, dead
    letters. A collision is an event stored although another destination had stored a
    different event under its id: the receiver's log names both destinations."""
    config = journal_config(config_path, journal_path)
    shown = shown_journal(config)
    result = with_journal(config, lambda j: j.stats())
    if output == "json":
        echo_json({
            "journal": str(shown), "events": result.events,
            "first_seq": result.first_seq, "last_seq": result.last_seq,
            "remembered_ids": result.remembered_ids,
            "duplicates_refused": result.duplicates_refused,
            "collisions": result.collisions,
            "dead_letters": result.dead_letters,
            "sinks": [{"sink": s.sink, "cursor": s.cursor, "backlog": s.backlog,
                       "pending": s.pending}
                      for s in result.sinks],
        })
        return
    echo_table(["journal", "events", "first seq", "last seq", "remembered ids",
                "duplicates refused", "collisions", "dead letters"],
               [[shown, result.events, result.first_seq, result.last_seq,
                 result.remembered_ids, result.duplicates_refused, result.collisions,
                 result.dead_letters]])
    click.echo()
    if result.sinks:
        echo_table(["sink", "cursor", "backlog", "claimed, unconfirmed"],
                   [[s.sink, s.cursor, s.backlog, "-" if s.pending is None else s.pending]
                    for s in result.sinks])
    else:
        click.echo("no sinks yet: nothing has been relayed from this journal")


@journal.command()
@journal_options
@click.option("-n", "count", type=click.IntRange(min=1, max=100_000), default=10,
              show_default=True, help="How many of the latest events.")
@click.option("--format", "event_format", type=click.Choice(FORMATS), default=RAW,
              show_default=True,
              help="Show each event as stored (raw) or as the OCSF event an ocsf sink gets.")
@OUTPUT_OPTION
def tail(config_path: Path | None, journal_path: Path | None, count: int, event_format: str,
         output: str) -> None:
    """The latest events, oldest first, with their metadata and original body (or, with
    --format ocsf, the OCSF event each becomes: a preview of an ocsf sink's input)."""
    events = with_journal(journal_config(config_path, journal_path), lambda j: j.tail(count))
    if output == "json":
        echo_json([to_ocsf(event) if event_format == OCSF else _event_json(event)
                   for event in events])
        return
    for event in events:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.received_at))
        click.echo(printable(f"#{event.seq} {when} {event.destination} {event.instance}:"
                             f"{event.event_id} {event.event_type or '-'}"))
        shown = orjson.dumps(to_ocsf(event)) if event_format == OCSF else event.body
        click.echo("  " + printable(shown.decode("utf-8", "replace")))


def _event_json(event: StoredEvent) -> dict[str, object]:
    try:
        body: object = orjson.loads(event.body)
    except orjson.JSONDecodeError:
        body = event.body.decode("utf-8", "replace")
    return {"seq": event.seq, "instance": event.instance, "event_id": event.event_id,
            "destination": event.destination, "event_type": event.event_type,
            "received_at": event.received_at, "created_at": event.created_at,
            "entity_type": event.entity_type, "entity_path": event.entity_path,
            "body": body, "body_text": event.body.decode("utf-8", "replace")}


def journal_config(config_path: Path | None, journal_path: Path | None) -> JournalConfig:
    """The configured journal (SQLite or Redis); ``--journal`` names a SQLite file."""
    if config_path is None:
        return JournalConfig(path=journal_path or DEFAULT_JOURNAL_PATH)
    try:
        config = load_journal_config(config_path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if journal_path is not None:
        config = replace(config, path=journal_path, backend="sqlite", redis=None)
    return config


def shown_journal(config: JournalConfig) -> Path | str:
    """How the journal is named in the output (never with a password)."""
    if config.redis is None:
        return config.path
    url = config.redis.url
    return f"{url} {{{config.redis.key_prefix}}}"


def with_journal(config: JournalConfig, action: Callable[[Journal], Awaitable[T]], *,
                 writable: bool = False) -> T:
    """Run ``action`` on the journal, opened read-only unless ``writable``; a journal error
    becomes a message and exit status 1."""
    if writable and config.backend == "sqlite" and not config.path.is_file():
        raise click.ClickException(f"no journal at {config.path}")

    async def run() -> T:
        opened = await (open_journal(config) if writable else open_journal_readonly(config))
        try:
            return await action(opened)
        finally:
            await opened.close()

    try:
        return asyncio.run(run())
    except JournalError as exc:
        raise click.ClickException(str(exc)) from exc
