"""What outsiders write reaches logs and terminals escaped (issue 21): a request path, a sink's
answer, an event's type or a GitLab name with CR, LF or ANSI escapes cannot forge a line or
rewrite one on a terminal."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

from click.testing import CliRunner

from auditstream.cli.logs import FieldsFormatter
from auditstream.cli.main import cli
from auditstream.cli.output import echo_table
from auditstream.common.printable import printable
from auditstream.journal import IncomingEvent, JournalConfig
from auditstream.journal.sqlite import SqliteJournal
from tests.processes import ServerProcess, run_cli
from tests.waiting import eventually

FORGED = "\r\x1b[2K2026-12-04T00:00:00+0000 INFO auditstream.receiver request stored\n"


def test_printable_escapes_every_control_character_and_keeps_the_rest() -> None:
    assert printable("plain text, ünïcode ✓") == "plain text, ünïcode ✓"
    assert printable("a\nb\rc\td\x1b[31me\x7ff\x9bg") == "a\\nb\\rc\\td\\x1b[31me\\x7ff\\x9bg"


def test_a_log_lines_message_and_fields_stay_one_escaped_line() -> None:
    record = logging.LogRecord("auditstream.relay", logging.WARNING, "x", 1,
                               "sink said: %s", (FORGED,), None)
    record.path = FORGED
    line = FieldsFormatter().format(record)
    assert "\n" not in line
    assert "\r" not in line
    assert "\x1b" not in line
    assert line.count("\\x1b[2K") == 2


async def test_a_request_path_with_escapes_is_logged_escaped(tmp_path: Path) -> None:
    with ServerProcess("receive", "--listen", "127.0.0.1:0", "--journal",
                       str(tmp_path / "j.db"), "--token-env", "STREAM_TOKEN",
                       env={"STREAM_TOKEN": "control-characters-token-0123"}) as receiver:
        host, port = receiver.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            # Percent-encoded on the wire; the request's path is decoded: ESC and CR.
            connection.sendall(b"POST /%1b[2K%0dINFO/acme HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 2\r\n\r\n{}")
            connection.recv(4096)
        await eventually(lambda: "request refused" in receiver.stderr)
        assert receiver.terminate() == 0
    assert "\x1b" not in receiver.stderr
    assert "path=/\\x1b[2K\\rINFO/acme" in receiver.stderr


def test_table_cells_with_newlines_stay_one_row() -> None:
    runner = CliRunner()

    @cli.command("table-probe", hidden=True)
    def probe() -> None:
        echo_table(["id", "name"], [[1, "acme\n2  forged-row"], [3, "\x1b[31mred"]])

    try:
        output = runner.invoke(cli, ["table-probe"]).output
    finally:
        cli.commands.pop("table-probe")
    assert output.splitlines() == ["id  name", "1   acme\\n2  forged-row",
                                   "3   \\x1b[31mred"]


def test_journal_tail_shows_an_event_types_escape_escaped(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    body = b'{"id":1,"event_type":"user_created\\u001b[2J","entity_path":"acme\\r"}'

    async def fill() -> None:
        journal = await SqliteJournal.open(JournalConfig(path=path))
        try:
            await journal.append([IncomingEvent("default", "1", ("id:1",), "acme", 1.0, body,
                                                "user_created\x1b[2J")])
        finally:
            await journal.close()

    asyncio.run(fill())
    result = run_cli("journal", "tail", "--journal", str(path))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "user_created\\x1b[2J" in result.stdout
