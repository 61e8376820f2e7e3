"""``auditstream journal``: look into the journal (read-only; safe while it is in use)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import orjson

from client.output import OUTPUT_OPTION, echo_json, echo_table
from journal import Journal, JournalConfig, JournalError, StoredEvent, open_journal_readonly

T = TypeVar("T")

JOURNAL_OPTION = click.option(
    "--journal", "journal_path", type=click.Path(path_type=Path, dir_okay=False),
    default=Path("auditstream.db"), show_default=True, envvar="AUDITSTREAM_JOURNAL",
    help="The journal file.")


@click.group()
def journal() -> None:
    """Inspect the journal: counts, cursors, the latest events."""


@journal.command()
@JOURNAL_OPTION
@OUTPUT_OPTION
def stats(journal_path: Path, output: str) -> None:
    """Events held, duplicates refused, each sink's cursor and backlog, dead letters."""
    result = _with_journal(journal_path, lambda j: j.stats())
    if output == "json":
        echo_json({
            "journal": str(journal_path), "events": result.events,
            "first_seq": result.first_seq, "last_seq": result.last_seq,
            "remembered_ids": result.remembered_ids,
            "duplicates_refused": result.duplicates_refused,
            "dead_letters": result.dead_letters,
            "sinks": [{"sink": s.sink, "cursor": s.cursor, "backlog": s.backlog}
                      for s in result.sinks],
        })
        return
    echo_table(["journal", "events", "first seq", "last seq", "remembered ids",
                "duplicates refused", "dead letters"],
               [[journal_path, result.events, result.first_seq, result.last_seq,
                 result.remembered_ids, result.duplicates_refused, result.dead_letters]])
    click.echo()
    if result.sinks:
        echo_table(["sink", "cursor", "backlog"],
                   [[s.sink, s.cursor, s.backlog] for s in result.sinks])
    else:
        click.echo("no sinks yet: nothing has been relayed from this journal")


@journal.command()
@JOURNAL_OPTION
@click.option("-n", "count", type=click.IntRange(min=1, max=100_000), default=10,
              show_default=True, help="How many of the latest events.")
@OUTPUT_OPTION
def tail(journal_path: Path, count: int, output: str) -> None:
    """The latest events, oldest first, with their metadata and original body."""
    events = _with_journal(journal_path, lambda j: j.tail(count))
    if output == "json":
        echo_json([_event_json(event) for event in events])
        return
    for event in events:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.received_at))
        click.echo(f"#{event.seq} {when} {event.destination} {event.instance}:{event.event_id} "
                   f"{event.event_type or '-'}")
        click.echo("  " + event.body.decode("utf-8", "replace"))


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


def _with_journal(path: Path, action: Callable[[Journal], Awaitable[T]]) -> T:
    async def run() -> T:
        opened = await open_journal_readonly(JournalConfig(path=path))
        try:
            return await action(opened)
        finally:
            await opened.close()

    try:
        return asyncio.run(run())
    except JournalError as exc:
        raise click.ClickException(str(exc)) from exc
