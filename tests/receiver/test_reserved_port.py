"""A port reserved before the receiver starts (the demo needs its URL first) is held, refuses
connections until the receiver serves on it, and is where the receiver then listens."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from auditstream.journal import Journal
from auditstream.receiver.connections import reserve
from auditstream.receiver.service import start_receiver
from tests.conftest import receiver_config


def test_a_reserved_port_refuses_connections_and_cannot_be_taken() -> None:
    with reserve("127.0.0.1", 0) as held:
        port = held.getsockname()[1]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with pytest.raises(OSError, match="in use"):
            socket.create_server(("127.0.0.1", port)).close()


async def test_the_receiver_serves_on_the_port_reserved_for_it(journal: Journal) -> None:
    with reserve("127.0.0.1", 0) as held:
        port = held.getsockname()[1]
        running = await start_receiver(receiver_config(), journal, listener=held)
        try:
            assert running.url == f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
                    http.get(running.url + "/healthz") as answer:
                assert answer.status == 200
        finally:
            await running.stop()
