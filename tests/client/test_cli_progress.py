"""Progress of long commands: a bar on a terminal, plain lines in a log."""

from __future__ import annotations

import pytest

from auditstream.cli import progress
from auditstream.cli.progress import Progress


def test_without_a_terminal_progress_is_plain_lines_at_most_every_interval_and_at_the_end(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "LINE_INTERVAL_SECONDS", 3600.0)
    with Progress("replaying to splunk", 200, tty=False) as shown:
        for _ in range(4):
            shown.update(50)
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays for --output json
    assert captured.err.splitlines() == ["replaying to splunk: 50 of 200 (25%)",
                                         "replaying to splunk: 200 of 200 (100%)"]


def test_on_a_terminal_progress_is_a_bar_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("scanning the journal", 10, tty=True) as shown:
        shown.update(10)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "scanning the journal" in captured.err


def test_the_last_line_is_not_said_twice(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("scanning the journal", 3, tty=False) as shown:
        shown.update(3)
    assert capsys.readouterr().err.splitlines() == ["scanning the journal: 3 of 3 (100%)"]


def test_an_unknown_total_is_counted_in_plain_lines_even_on_a_terminal(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "LINE_INTERVAL_SECONDS", 3600.0)
    with Progress("events listed by GitLab", None, tty=True) as shown:
        shown.update(100)
        shown.update(40)
    assert capsys.readouterr().err.splitlines() == ["events listed by GitLab: 100 so far",
                                                    "events listed by GitLab: 140 so far"]
