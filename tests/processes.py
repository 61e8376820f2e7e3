"""Running the real ``auditstream`` command as a user does: a subprocess, bounded in time."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

AUDITSTREAM = str(Path(sys.executable).parent / "auditstream")
_URL = re.compile(r"listening on (http://\S+)")


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one command to completion and capture what it printed."""
    return subprocess.run([AUDITSTREAM, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


def serve_held(listener: socket.socket, *args: str, **options: Any) -> ServerProcess:
    """Start ``auditstream *args`` serving the test's held socket, and close the test's copy:
    the port was never free for another to take, and from now on the process alone holds it,
    so once it stops connections are refused, as by a receiver that is down. (A test that
    keeps its copy has connections wait in the queue for the next process instead.)"""
    with listener:
        return ServerProcess(*args, listener=listener, **options)


class ServerProcess:
    """A long-running ``auditstream`` command that prints ``listening on URL`` when ready."""

    def __init__(self, *args: str, env: dict[str, str] | None = None,
                 ready_timeout: float = 30, command: str = AUDITSTREAM,
                 cwd: Path | None = None,
                 preexec_fn: Callable[[], None] | None = None,
                 pass_fds: tuple[int, ...] = (),
                 listener: socket.socket | None = None) -> None:
        """``pass_fds``: descriptors the command inherits, under the same numbers.
        ``listener``: a socket the test holds (``held_port``), which the command serves as
        ``--listen fd:N``; see ``serve_held`` to give it up to the command."""
        if listener is not None:
            args = (*args, "--listen", f"fd:{listener.fileno()}")
            pass_fds = (*pass_fds, listener.fileno())
        self.process = subprocess.Popen(
            [command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})}, cwd=cwd,
            preexec_fn=preexec_fn, pass_fds=pass_fds)
        self.stderr_lines: list[str] = []
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()
        self.url = self._wait_for_url(ready_timeout)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def _wait_for_url(self, timeout: float) -> str:
        assert self.process.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                match = _URL.search(line)
                if match:
                    found.append(match.group(1))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.kill()
            raise AssertionError("no 'listening on' line in time; stderr:\n"
                                 + "".join(self.stderr_lines))
        return found[0]

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._close_pipes()
        return code

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up, as in a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        self._stderr_reader.join(5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr (complete once it has exited)."""
        return "".join(self.stderr_lines)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

