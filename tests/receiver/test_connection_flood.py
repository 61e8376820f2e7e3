"""A flood of idle connections (issue 21): the receiver keeps answering GitLab, and its log
stays small. Under a 1,024 open-files limit, 1,100 idle connections used to starve every real
request and write a million ``socket.accept() out of system resource`` tracebacks."""

from __future__ import annotations

import logging
import resource
import socket
from pathlib import Path

import orjson

from auditstream.cli.logs import RepeatedLines
from tests.processes import ServerProcess
from tests.receiver.test_hostile_http import exchange, request

TOKEN = "flood-token-0123456789abcdef"
OPEN_FILES_LIMIT = 256  # soft and hard: raising the soft one cannot help here
IDLE_CONNECTIONS = 400  # more than the receiver may open


def _low_open_files_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))


def test_idle_connections_over_the_open_files_limit_leave_gitlab_answered(
        tmp_path: Path) -> None:
    receiver = ServerProcess("receive", "--listen", "127.0.0.1:0", "--journal",
                             str(tmp_path / "j.db"), "--token-env", "STREAM_TOKEN",
                             env={"STREAM_TOKEN": TOKEN}, preexec_fn=_low_open_files_limit)
    idle: list[socket.socket] = []
    try:
        host, port = receiver.url.removeprefix("http://").rsplit(":", 1)
        for _ in range(IDLE_CONNECTIONS):  # from another address than GitLab's below
            idle.append(socket.create_connection((host, int(port)), timeout=5,
                                                 source_address=("127.0.0.2", 0)))
        # GitLab, meanwhile, from its own address: answered as if nothing were going on.
        for number in range(20):
            reply = exchange(receiver, request(orjson.dumps({"id": number}), [
                (b"X-Gitlab-Event-Streaming-Token", TOKEN.encode())]), 5.0)
            assert reply.status == 200
        assert "connections refused: over max_connections_per_client" in receiver.stderr
        assert len(receiver.stderr) < 4096, receiver.stderr[-2000:]
        assert "Traceback" not in receiver.stderr
    finally:
        for connection in idle:
            connection.close()
        receiver.kill()


def test_a_repeated_log_line_is_written_a_few_times_then_counted() -> None:
    now = [0.0]
    lines = RepeatedLines(burst=3, window=60.0, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("auditstream.receiver", logging.WARNING, "x", 1, message,
                                 None, None)

    passed = [lines.filter(record("request refused")) for _ in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert lines.filter(record("another line"))  # another kind is not held back
    now[0] = 61.0
    after = record("request refused")
    assert lines.filter(after)
    assert after.__dict__["suppressed"] == 7
