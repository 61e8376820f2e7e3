"""Hostile requests against a real `auditstream receive` over raw sockets: a 4xx with a reason
or a correct 200, never a 5xx, never a crash, memory bounded; and slow or idle clients and
oversized headers do not stop anyone else.

One receiver process serves the whole module, so whatever an example does to it is still
there for the next one, and at the end it must be alive, answering, and within its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auditstream.receiver.errors import BadRequest
from auditstream.receiver.parse import parse_body
from auditstream.server.gitlab.config import DEFAULT_DELIVERY_TIMEOUT_SECONDS
from tests.processes import ServerProcess
from tests.receiver.test_hostile_parse import event_like
from tests.waiting import eventually

TOKEN = "hostile-http-token-0123"
LIMIT = 64 * 1024
MAX_RSS_BYTES = 300 * 1024 * 1024
RESET = 0  # no answer: the connection was reset after a refusal


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


@pytest.fixture(scope="module")
def receiver_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("hostile-http")
    config = folder / "auditstream.toml"
    config.write_text(f'[receiver]\nlisten = "127.0.0.1:0"\nmax_body_bytes = {LIMIT}\n'
                      '[[receiver.destinations]]\nname = "acme"\ntoken_env = "T"\n'
                      '[journal]\npath = "journal.db"\n')
    with ServerProcess("receive", "--config", str(config), env={"T": TOKEN}) as process:
        yield process
        assert process.process.poll() is None, "the receiver died:\n" + process.stderr


def address(process: ServerProcess) -> tuple[str, int]:
    host, port = process.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def exchange(process: ServerProcess, request: bytes, timeout: float = 10.0) -> Reply:
    """Send raw bytes, read the whole answer (the request says Connection: close)."""
    with socket.create_connection(address(process), timeout=timeout) as conn:
        # refused before we finished sending: the answer is still there to read
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(request)
        chunks = []
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        # aiohttp answered 4xx and closed with our unread bytes in its buffer, so the kernel
        # sent a reset that can overtake the answer: refused at the connection (the process
        # being alive afterwards is checked at the end).
        return Reply(RESET, b"")
    while raw.startswith(b"HTTP/1.1 100 "):  # Expect: 100-continue, then the answer
        raw = raw.partition(b"\r\n\r\n")[2]
    assert raw.startswith(b"HTTP/1."), raw[:200]
    head, _, body = raw.partition(b"\r\n\r\n")
    return Reply(int(head.split(b" ", 2)[1]), body)


def request(body: bytes, headers: list[tuple[bytes, bytes]], *,
            length: bytes | None = None, path: bytes = b"/") -> bytes:
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close",
             b"Content-Length: " + (length if length is not None else str(len(body)).encode())]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


tokens = st.sampled_from([None, TOKEN, TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "", "x" * 9000,
                          TOKEN[:1], "\u00e9" + TOKEN]).map(
    lambda t: None if t is None else t.encode("latin-1"))
encodings = st.sampled_from([None, b"gzip", b"gzip-but-plain", b"br", b"gzip, gzip", b"bomb"])
absurd = st.lists(st.sampled_from([
    (b"X-Gitlab-Audit-Event-Type", b"a" * 7000),
    (b"X-Gitlab-Audit-Event-Type", b"\x80\xff\xfe"),
    (b"Content-Type", b"multipart/form-data; boundary=" + b"-" * 500),
    (b"Content-Type", b"application/x-www-form-urlencoded"),
    (b"Transfer-Encoding", b"chunked"),
    (b"Expect", b"100-continue"),
    (b"X-Forwarded-For", b"1.2.3.4, garbage, ::1"),
    (b"X-Pad", b"y" * 20_000),
]), max_size=3)


def encode(body: bytes, encoding: bytes | None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    if encoding is None:
        return body, []
    if encoding == b"gzip":
        return gzip.compress(body), [(b"Content-Encoding", b"gzip")]
    if encoding == b"gzip-but-plain":
        return body, [(b"Content-Encoding", b"gzip")]
    if encoding == b"bomb":
        squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        bomb = b"".join(squeeze.compress(b"{" * 2**20) for _ in range(16)) + squeeze.flush()
        return bomb, [(b"Content-Encoding", b"gzip")]
    return body, [(b"Content-Encoding", encoding)]


def expected_events(body: bytes) -> int | None:
    try:
        return len(parse_body(body, None))
    except BadRequest:
        return None


@given(event_like() | st.binary(max_size=3000), tokens, encodings, absurd)
@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(b'{"id": 1}', TOKEN.encode(), b"bomb", [])
@example(b'{"id": 1, "x": NaN}', TOKEN.encode(), None, [])
@example(b"[" * 100_000, TOKEN.encode(), b"gzip", [])
def test_hostile_requests_get_a_4xx_with_a_reason_or_a_correct_200(
        receiver_process: ServerProcess, body: bytes, token: bytes | None,
        encoding: bytes | None,
        extra: list[tuple[bytes, bytes]]) -> None:
    wire, encoding_headers = encode(body, encoding)
    headers = encoding_headers + list(extra)
    if token is not None:
        headers.append((b"X-Gitlab-Event-Streaming-Token", token))
    reply = exchange(receiver_process, request(wire, headers))
    assert reply.status < 500, reply
    if reply.status == RESET:
        return
    if reply.status != 200:
        assert 400 <= reply.status < 500
        assert reply.body.strip(), reply  # a reason, always
        return
    assert token == TOKEN.encode()
    count = expected_events(body)
    assert count is not None  # a 200 only for a body the parser takes whole
    answer = orjson.loads(reply.body)
    assert answer["accepted"] + answer["duplicates"] == count


@pytest.mark.parametrize("framing", [
    request(b'{"id": 1}', [(b"X-Gitlab-Event-Streaming-Token", TOKEN.encode())],
            length=b"-1"),
    request(b'{"id": 1}', [(b"X-Gitlab-Event-Streaming-Token", TOKEN.encode())],
            length=b"99999999999999999999999"),
    request(b'{"id": 1}', [(b"Content-Length", b"3"),
                           (b"X-Gitlab-Event-Streaming-Token", TOKEN.encode())]),
    request(b"zz\r\n{}\r\n0\r\n\r\n", [(b"Transfer-Encoding", b"chunked")], length=b"0"),
    b"POST / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 500 + b"Connection: close\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nX-Bad\x00Name: 1\r\nConnection: close\r\n\r\n",
    b"POST /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GARBAGE\r\n\r\n",
])
def test_absurd_framing_gets_a_4xx(receiver_process: ServerProcess, framing: bytes) -> None:
    reply = exchange(receiver_process, framing)
    assert reply.status == RESET or 400 <= reply.status < 500, reply


def test_after_all_that_the_receiver_answers_and_its_memory_stayed_bounded(
        receiver_process: ServerProcess) -> None:
    body = orjson.dumps({"id": "after-the-storm"})
    reply = exchange(receiver_process, request(body, [(b"X-Gitlab-Event-Streaming-Token",
                                               TOKEN.encode())]))
    assert reply.status == 200
    status = Path(f"/proc/{receiver_process.process.pid}/status").read_text()
    peak = int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmHWM:"))) * 1024
    assert peak < MAX_RSS_BYTES, f"peak RSS {peak / 2**20:.0f} MiB"


async def test_slow_idle_and_oversized_clients_do_not_stop_others(
        receiver_process: ServerProcess) -> None:
    host, port = address(receiver_process)
    holders: list[asyncio.StreamWriter] = []

    # The hostile clients come from another address than the real one: one address may hold
    # only max_connections_per_client connections (256 by default), as a flood would.
    hostile = ("127.0.0.2", 0)

    async def connect() -> asyncio.StreamWriter:
        _, writer = await asyncio.open_connection(host, port, local_addr=hostile)
        holders.append(writer)
        return writer

    async def slowloris(writer: asyncio.StreamWriter, seconds: float) -> None:
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + seconds
        with contextlib.suppress(ConnectionError):  # over the per-client cap: closed at once
            while time.monotonic() < deadline:
                writer.write(b"X")  # one byte of a header that never ends
                await writer.drain()
                await asyncio.sleep(0.25)

    async def oversized() -> None:
        reader, writer = await asyncio.open_connection(host, port, local_addr=hostile)
        holders.append(writer)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * 200_000 + b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await reader.read(100)

    async def answered_post(number: int) -> None:
        """GitLab's request, answered 200 within GitLab's own timeout (it never retries)."""
        reply = await asyncio.to_thread(exchange, receiver_process, request(
            orjson.dumps({"id": f"meanwhile-{number}"}),
            [(b"X-Gitlab-Event-Streaming-Token", TOKEN.encode())]),
            DEFAULT_DELIVERY_TIMEOUT_SECONDS)
        assert reply.status == 200

    try:
        for _ in range(500):
            await connect()  # idle: connected, never a byte
        slow = [asyncio.create_task(slowloris(await connect(), 4.0)) for _ in range(100)]
        big = [asyncio.create_task(oversized()) for _ in range(20)]
        # The storm is at its height once the receiver refuses the flooding address.
        await eventually(lambda: "connections refused: over max_connections_per_client"
                         in receiver_process.stderr)
        for number in range(30):
            await answered_post(number)
        await asyncio.gather(*slow, *big)
    finally:
        for writer in holders:
            writer.close()


async def test_a_client_gone_mid_body_is_one_refusal_line_not_a_traceback(
        receiver_process: ServerProcess) -> None:
    host, port = address(receiver_process)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event-Streaming-Token: "
                 + TOKEN.encode() + b"\r\nContent-Length: 500\r\n\r\n"
                 + b'{"id": "gone-mid-body", "details": {')
    await writer.drain()
    writer.write_eof()  # 40 of the 500 bytes it announced, then nothing more
    with contextlib.suppress(ConnectionError):
        await asyncio.wait_for(reader.read(), 5.0)
    writer.close()
    await eventually(lambda: "connection closed before the body was complete"
                     in receiver_process.stderr, within=5)
    assert "Traceback" not in receiver_process.stderr, receiver_process.stderr
    assert exchange(receiver_process, request(
        orjson.dumps({"id": "after-gone-mid-body"}),
        [(b"X-Gitlab-Event-Streaming-Token", TOKEN.encode())])).status == 200


async def test_malformed_http_is_one_warning_line_not_a_traceback(
        receiver_process: ServerProcess) -> None:
    reply = exchange(receiver_process, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n{}")
    assert reply.status in (400, RESET)
    await eventually(lambda: "malformed HTTP request refused: 400" in receiver_process.stderr,
                     within=5)
    assert "Traceback" not in receiver_process.stderr, receiver_process.stderr
