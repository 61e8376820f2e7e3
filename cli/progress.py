"""Progress of long commands: a bar on a terminal, plain lines otherwise (a log file, CI).

Both go to stderr, so ``--output json`` on stdout stays parseable."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

import click

# Plain lines: at most one per this long, and one at the end.
LINE_INTERVAL_SECONDS = 2.0


class Progress:
    """``update(n)`` as work gets done; a context manager that closes the bar or writes the
    last line."""

    def __init__(self, label: str, total: int | None, *, tty: bool | None = None) -> None:
        """``total`` None: not known beforehand (GitLab's keyset pages give no count); then
        plain lines of what is done so far, on a terminal too."""
        self._label = label
        self._total = None if total is None else max(0, total)
        self._done = 0
        self._tty = (sys.stderr.isatty() if tty is None else tty) and total is not None
        self._bar: Any = None
        self._last_line = float("-inf")
        self._shown = -1  # what the last plain line said

    def __enter__(self) -> Progress:
        if self._tty:
            self._bar = click.progressbar(length=self._total, label=self._label,
                                          file=sys.stderr, show_pos=True)
            self._bar.__enter__()
        return self

    def update(self, count: int) -> None:
        self._done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        now = time.monotonic()
        if now - self._last_line >= LINE_INTERVAL_SECONDS:
            self._line()
            self._last_line = now

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, traceback)
        elif kind is None and self._shown != self._done:
            self._line()

    def _line(self) -> None:
        self._shown = self._done
        if self._total is None:
            click.echo(f"{self._label}: {self._done} so far", err=True)
            return
        share = f" ({100 * self._done // self._total}%)" if self._total else ""
        click.echo(f"{self._label}: {self._done} of {self._total}{share}", err=True)
