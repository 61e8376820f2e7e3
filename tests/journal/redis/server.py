"""A real ``redis-server`` for tests: a unix socket in a temp folder, with its files.

A unix socket has no port to pick before the server binds it, so no other test can take it
first. Only a primary that a replica follows listens on TCP (``tcp=True``: replication speaks
nothing else, and redis-server cannot be handed a bound socket); its port is picked free and
tried again if taken in between.

Skipped, saying why, where the binary is missing; under CI (``CI`` set) that is a failure
instead, since ``.ci/run`` installs it and a silent skip would hide the Redis tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from auditstream.journal import JournalConfig
from auditstream.journal.config import RedisSettings
from tests.helpers.ports import unused_port

READY_TIMEOUT_SECONDS = 10.0


def redis_server_binary() -> str:
    """The redis-server binary, or skip (fail under CI) with the reason."""
    path = shutil.which("redis-server")
    if path is None:
        reason = ("redis-server is not installed (apt-get install redis-server), so the Redis "
                  "journal tests cannot run")
        if os.environ.get("CI"):
            pytest.fail(reason + "; .ci/run installs it, so CI must not skip them")
        pytest.skip(reason)
    return path


@dataclass(slots=True)
class RedisServer:
    """One redis-server process; ``url`` reaches it (``port``: its TCP port, 0 for none)."""

    process: subprocess.Popen[bytes]
    socket_path: Path
    folder: Path
    port: int = 0

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket_path}?db=0"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running_redis(folder: Path, *options: str, tcp: bool = False) -> Iterator[RedisServer]:
    """Start redis-server (no snapshots, no AOF unless ``options`` say so); stop it after."""
    server = start_redis(folder, *options, tcp=tcp)
    try:
        yield server
    finally:
        server.stop()


def start_redis(folder: Path, *options: str, tcp: bool = False) -> RedisServer:
    binary = redis_server_binary()
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    for attempt in range(5 if tcp else 1):  # a free port may be taken between probe and bind
        port = unused_port() if tcp else 0
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--unixsocket", str(socket_path),
             "--unixsocketperm", "700", "--dir", str(folder), "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning",
             "--logfile", str(folder / f"redis-{attempt}.log"), *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _answers(socket_path, process):
            return RedisServer(process, socket_path, folder, port)
        process.kill()
        process.wait(10)
    raise RuntimeError(f"redis-server did not start; see the logs in {folder}")


def redis_journal_config(server: RedisServer, **settings: Any) -> JournalConfig:
    """A journal config on ``server`` under a key prefix of its own (tests share a server)."""
    redis = RedisSettings(url=server.url, key_prefix=f"test-{uuid.uuid4().hex[:12]}")
    return JournalConfig(backend="redis", redis=replace(redis, **settings))


def _answers(socket_path: Path, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(1)
                conn.connect(str(socket_path))
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False
