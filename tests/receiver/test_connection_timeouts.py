"""Connections that stall are ended, against a real `auditstream receive` over raw sockets.

A body that stops arriving gets a 408 with a reason (``body_timeout_seconds``); a connection
that never completes its headers, silent or trickling (slowloris), is closed
(``idle_timeout_seconds``); a client that keeps sending requests keeps its connection. Without
these bounds every stalled client holds a file descriptor, and enough of them leave none for
GitLab, which never retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import orjson
import pytest

from tests.processes import ServerProcess

TOKEN = "connection-timeouts-token-0123"
BODY_TIMEOUT_SECONDS = 1
IDLE_TIMEOUT_SECONDS = 1
# How much later than its bound a stalled connection may end (a loaded CI machine).
SLACK_SECONDS = 5.0


@pytest.fixture(scope="module")
def receiver_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("connection-timeouts")
    config = folder / "auditstream.toml"
    config.write_text('[receiver]\nlisten = "127.0.0.1:0"\n'
                      f"body_timeout_seconds = {BODY_TIMEOUT_SECONDS}\n"
                      f"idle_timeout_seconds = {IDLE_TIMEOUT_SECONDS}\n"
                      '[[receiver.destinations]]\nname = "acme"\ntoken_env = "T"\n'
                      '[journal]\npath = "journal.db"\n')
    with ServerProcess("receive", "--config", str(config), env={"T": TOKEN}) as process:
        yield process
        assert process.process.poll() is None, "the receiver died:\n" + process.stderr
        assert "Traceback" not in process.stderr, process.stderr


async def connect(
        receiver_process: ServerProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = receiver_process.url.removeprefix("http://").rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


def post(body: bytes, *, close: bool = False) -> bytes:
    return (b"POST / HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event-Streaming-Token: " + TOKEN.encode()
            + b"\r\nContent-Length: " + str(len(body)).encode()
            + (b"\r\nConnection: close" if close else b"") + b"\r\n\r\n" + body)


async def read_answer(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, object]]:
    """One answer's head and JSON body (read by its Content-Length, not to the end)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SLACK_SECONDS)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    body = await asyncio.wait_for(reader.readexactly(length), SLACK_SECONDS)
    return head, orjson.loads(body)


async def seconds_until_closed(reader: asyncio.StreamReader, started: float) -> float:
    """Read until the receiver closes the connection; how long after ``started`` it did."""
    try:
        while await asyncio.wait_for(reader.read(1024), IDLE_TIMEOUT_SECONDS + SLACK_SECONDS):
            pass  # no answer is expected; read to the end
    except ConnectionResetError:
        pass  # closed with our bytes unread: the kernel resets, and that is a close too
    return time.monotonic() - started


async def test_a_body_that_stalls_gets_408_with_a_reason_and_nothing_is_stored(
        receiver_process: ServerProcess) -> None:
    reader, writer = await connect(receiver_process)
    started = time.monotonic()
    writer.write(post(b'{"id": "stalled-body", "details": {}}' + b" " * 400)[:-400])
    await writer.drain()  # all but the last 400 bytes it announced, then silence, line open
    head, answer = await read_answer(reader)
    waited = time.monotonic() - started
    writer.close()
    assert head.startswith(b"HTTP/1.1 408"), head
    assert b"connection: close" in head.lower()
    assert "not complete within 1 s" in str(answer["error"])
    assert waited >= BODY_TIMEOUT_SECONDS  # not cut early (and read_answer bounds it late)
    # Nothing of it was stored: the same id, sent whole, is a new event.
    reader, writer = await connect(receiver_process)
    writer.write(post(b'{"id": "stalled-body"}', close=True))
    head, answer = await read_answer(reader)
    writer.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    assert answer == {"accepted": 1, "duplicates": 0}


async def test_a_connection_that_sends_nothing_is_closed(
        receiver_process: ServerProcess) -> None:
    reader, writer = await connect(receiver_process)
    waited = await seconds_until_closed(reader, time.monotonic())
    writer.close()
    assert waited >= IDLE_TIMEOUT_SECONDS * 0.9  # not cut early (and the read bounds it late)


async def test_a_header_trickled_a_byte_at_a_time_is_cut_off(
        receiver_process: ServerProcess) -> None:
    reader, writer = await connect(receiver_process)
    started = time.monotonic()
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        while True:
            writer.write(b"X")  # a header line that never ends, one byte every 100 ms
            await writer.drain()
            await asyncio.sleep(0.1)

    trickling = asyncio.create_task(trickle())
    try:
        waited = await seconds_until_closed(reader, started)
    finally:
        trickling.cancel()
        writer.close()
    assert waited >= IDLE_TIMEOUT_SECONDS * 0.9  # not cut early (and the read bounds it late)


async def test_a_client_that_keeps_sending_requests_keeps_its_connection(
        receiver_process: ServerProcess) -> None:
    reader, writer = await connect(receiver_process)
    started = time.monotonic()
    number = 0
    while time.monotonic() - started < 3 * IDLE_TIMEOUT_SECONDS:  # well past the idle bound
        writer.write(post(orjson.dumps({"id": f"kept-alive-{number}"})))
        head, answer = await read_answer(reader)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert answer == {"accepted": 1, "duplicates": 0}
        number += 1
        await asyncio.sleep(IDLE_TIMEOUT_SECONDS / 3)
    writer.close()
    assert number >= 6
