"""Output for people (aligned tables) and for scripts (JSON), chosen by ``--output``."""

from __future__ import annotations

from collections.abc import Sequence

import click
import orjson

from auditstream.common.printable import printable

OUTPUT_OPTION = click.option(
    "--output", "output", type=click.Choice(["table", "json"]), default="table",
    show_default=True, help="table for people, json for scripts.")


def echo_json(value: object) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    # Each cell on one line, whatever GitLab or an event put in it (common/printable.py).
    cells = [[str(h) for h in headers],
             *[["" if c is None else printable(str(c)) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())
