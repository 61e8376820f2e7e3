"""``auditstream deadletters``: the events a sink refused for good, and what to do about them.

``retry`` records a request in the journal; the relay's pipeline for the sink (in whichever
process runs it) sends those events through its usual path, and a dead letter leaves the list
only once the sink confirmed it. ``drop`` forgets exactly the dead letters it listed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import orjson

from auditstream.cli.journal import journal_config, journal_options, with_journal
from auditstream.cli.output import OUTPUT_OPTION, echo_json, echo_table
from auditstream.common.timespec import format_time
from auditstream.journal import DeadLetter, DeadLetterSelection, Journal

# Dead letters are few; a journal with more than this many shows the latest.
MAX_LISTED = 100_000


@click.group()
def deadletters() -> None:
    """The events a sink refused for good: list them, retry them once fixed, or drop them."""


def _selectors(command: Any) -> Any:
    for option in reversed([
        click.option("--sink", help="Only the dead letters of this sink."),
        click.option("--id", "ids", multiple=True,
                     help="Only this dead letter (its id in `deadletters list`); repeatable."),
        click.option("--reason", help="Only those whose reason contains this text, any case "
                                      "(e.g. 'code 6')."),
    ]):
        command = option(command)
    return command


@deadletters.command("list")
@journal_options
@click.option("--sink", help="Only the dead letters of this sink.")
@OUTPUT_OPTION
def list_(config_path: Path | None, journal_path: Path | None, sink: str | None,
          output: str) -> None:
    """Each dead letter: its id, the sink, why the sink refused it, when, and the event."""
    config = journal_config(config_path, journal_path)
    letters = with_journal(config, lambda j: j.dead_letters(sink, MAX_LISTED))
    if output == "json":
        echo_json([_letter_json(letter) for letter in letters])
        return
    if not letters:
        click.echo("no dead letters" + (f" for sink {sink}" if sink else ""))
        return
    echo_table(["id", "sink", "seq", "event id", "dead at", "retry", "reason"],
               [[d.id, d.sink, d.seq, d.event_id, format_time(d.dead_at),
                 "requested" if d.retry_requested_at is not None else "-", d.reason]
                for d in letters])


@deadletters.command()
@journal_options
@_selectors
@OUTPUT_OPTION
def retry(config_path: Path | None, journal_path: Path | None, sink: str | None,
          ids: tuple[str, ...], reason: str | None, output: str) -> None:
    """Send dead letters again, once their cause is fixed (all of them, or those selected).

    The running relay's pipeline for each sink sends them as it sends every event; each
    leaves the list once the sink confirmed it (refused again, it comes back with the new
    reason). Without a running relay they wait for the next one."""
    config = journal_config(config_path, journal_path)
    selection = DeadLetterSelection(sink=sink, ids=frozenset(ids), reason=reason)

    async def request(journal: Journal) -> list[DeadLetter]:
        chosen = await journal.select_dead_letters(selection, MAX_LISTED)
        await journal.retry_dead_letters([d.id for d in chosen], time.time())
        return chosen

    chosen = with_journal(config, request, writable=True)
    _report(chosen, "retry requested", output)


@deadletters.command()
@journal_options
@_selectors
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@OUTPUT_OPTION
def drop(config_path: Path | None, journal_path: Path | None, sink: str | None,
         ids: tuple[str, ...], reason: str | None, yes: bool, output: str) -> None:
    """Forget dead letters for good (all of them, or those selected), after a confirmation.

    Only those listed in the confirmation are dropped, even if more arrive meanwhile."""
    config = journal_config(config_path, journal_path)
    selection = DeadLetterSelection(sink=sink, ids=frozenset(ids), reason=reason)
    chosen = with_journal(config, lambda j: j.select_dead_letters(selection, MAX_LISTED))
    if not chosen:
        _report(chosen, "dropped", output)
        return
    if not yes:
        for letter in chosen:
            click.echo(f"  {letter.id}  {letter.sink}  {letter.event_id}  {letter.reason}",
                       err=True)
        click.confirm(f"Drop these {len(chosen)} dead letters for good?", abort=True,
                      err=True)
    with_journal(config, lambda j: j.remove_dead_letters([d.id for d in chosen]),
                 writable=True)
    _report(chosen, "dropped", output)


def _report(chosen: list[DeadLetter], done: str, output: str) -> None:
    if output == "json":
        echo_json({done.replace(" ", "_"): [d.id for d in chosen], "count": len(chosen)})
        return
    if not chosen:
        click.echo("no dead letters match")
        return
    by_sink: dict[str, int] = {}
    for letter in chosen:
        by_sink[letter.sink] = by_sink.get(letter.sink, 0) + 1
    click.echo(f"{done}: " + ", ".join(f"{count} of sink {sink}"
                                        for sink, count in sorted(by_sink.items())))


def _letter_json(letter: DeadLetter) -> dict[str, object]:
    try:
        event: object = orjson.loads(letter.body)
    except orjson.JSONDecodeError:
        event = letter.body.decode("utf-8", "replace")
    return {"id": letter.id, "sink": letter.sink, "seq": letter.seq,
            "event_id": letter.event_id, "reason": letter.reason, "dead_at": letter.dead_at,
            "dead_at_iso": format_time(letter.dead_at),
            "retry_requested_at": letter.retry_requested_at,
            "destination": letter.event.destination if letter.event else None,
            "instance": letter.event.instance if letter.event else None,
            "event": event}
