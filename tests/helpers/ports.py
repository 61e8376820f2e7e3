"""Ports for tests, held from the moment they are picked.

A port bound, closed and handed to a server started later can be taken in between (by a
parallel test, by anything on the machine). Servers in this process bind port 0 and the test
reads the address back; where the test needs the port first, it holds a bound socket
(``held_port``) and hands that socket to the server (``start_receiver(listener=)``,
``running_hec(listener=)``). Until then, connecting to it is refused: "a sink that is down"."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from auditstream.receiver.connections import reserve

LOOPBACK = "127.0.0.1"


@contextmanager
def held_port() -> Iterator[socket.socket]:
    """A socket bound to a port of the system's choosing on 127.0.0.1, not listening: the
    port is this test's until the block ends or a server takes the socket over."""
    with reserve(LOOPBACK, 0) as held:
        yield held


def port_of(held: socket.socket) -> int:
    port: int = held.getsockname()[1]
    return port


def held_again(held: socket.socket) -> socket.socket:
    """Hold ``held``'s port again, not listening, once the process that served it (``--listen
    fd:N``) stopped: connections are refused again, as by a receiver that is down. The port
    is free only between two calls of this process (SO_REUSEADDR: the served connections'
    TIME_WAIT would refuse the bind)."""
    port = port_of(held)
    held.close()
    again = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    again.bind((LOOPBACK, port))
    return again


def unused_port() -> int:
    """A port free a moment ago, for a server in another process that must be told its port
    before it starts (redis-server; an ``auditstream`` subprocess whose URL GitLab needs
    first). Racy by nature: prefer port 0 and reading the address back, or ``held_port``."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return port_of(probe)
