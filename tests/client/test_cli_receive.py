"""``auditstream receive`` as a user runs it: a real process, real signals, a real journal."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.journal import JournalConfig
from auditstream.journal.sqlite import SqliteJournal
from tests.helpers.ports import held_port, port_of
from tests.processes import AUDITSTREAM, ServerProcess, run_cli
from tests.waiting import eventually

TOKEN = "cli-token-0123456789abcd"
ENV = {"STREAM_TOKEN": TOKEN}
HEADERS = {"X-Gitlab-Event-Streaming-Token": TOKEN,
           "Content-Type": "application/x-www-form-urlencoded"}


def start(journal: Path, *extra: str) -> ServerProcess:
    return ServerProcess("receive", "--listen", "127.0.0.1:0", "--journal", str(journal),
                         "--token-env", "STREAM_TOKEN", *extra, env=ENV)


async def post_all(url: str, ids: range, acknowledged: list[int] | None = None,
                   hundred_acknowledged: asyncio.Event | None = None) -> list[int]:
    """POST each id concurrently; the ids answered 200, also appended to ``acknowledged``."""
    acknowledged = [] if acknowledged is None else acknowledged
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def one(event_id: int) -> None:
            try:
                async with session.post(url, data=orjson.dumps({"id": event_id}),
                                        headers=HEADERS) as response:
                    if response.status == 200:
                        acknowledged.append(event_id)
                        if hundred_acknowledged and len(acknowledged) >= 100:
                            hundred_acknowledged.set()
            except aiohttp.ClientError:
                pass

        await asyncio.gather(*(one(i) for i in ids))
    return sorted(acknowledged)


async def journal_ids(path: Path) -> set[str]:
    journal = await SqliteJournal.open(JournalConfig(path=path))
    try:
        return {event.event_id for event in await journal.tail(1_000_000)}
    finally:
        await journal.close()


@pytest.mark.slow
async def test_every_200_survives_a_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with start(path) as receiver:
        acknowledged = await post_all(receiver.url, range(1, 401))
        # Kill while a second burst is in flight: its 200s, too, must be on disk.
        during_kill: list[int] = []
        hundred = asyncio.Event()
        burst = asyncio.create_task(post_all(receiver.url, range(401, 3401), during_kill,
                                             hundred))
        await asyncio.wait_for(hundred.wait(), 30)
        receiver.kill()
        await burst
    # The kill must land mid-burst, or the test proves nothing about in-flight requests.
    assert 100 <= len(during_kill) < 3000, len(during_kill)
    acknowledged += during_kill
    stored = await journal_ids(path)
    missing = {str(i) for i in acknowledged} - stored
    assert not missing, f"{len(missing)} events answered 200 were lost"


async def test_sigterm_finishes_requests_and_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    receiver = start(path)
    try:
        assert await post_all(receiver.url, range(1, 51)) == list(range(1, 51))
        assert receiver.terminate() == 0
    finally:
        receiver.kill()
    assert "stopped" in receiver.stderr
    assert TOKEN not in receiver.stderr
    assert len(await journal_ids(path)) == 50


def test_receive_without_a_token_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("receive", "--journal", str(tmp_path / "j.db"))
    assert result.returncode == 2
    assert "--token-env" in result.stderr
    assert "Traceback" not in result.stderr


def test_unset_token_variable_is_named(tmp_path: Path) -> None:
    result = run_cli("receive", "--token-env", "NOT_SET_ANYWHERE_42",
                     "--journal", str(tmp_path / "j.db"))
    assert result.returncode == 2
    assert "NOT_SET_ANYWHERE_42 is not set" in result.stderr


def test_bad_config_key_is_named_with_the_file(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    config.write_text('[receiver]\nlisten = "127.0.0.1:0"\nmax_bodyy = 5\n')
    result = run_cli("receive", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}: receiver.max_bodyy: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_names_the_setting_and_creates_nothing(tmp_path: Path) -> None:
    with start(tmp_path / "a.db") as first:
        port = first.url.rsplit(":", 1)[1]
        result = run_cli("run", "--listen", f"127.0.0.1:{port}", "--journal",
                         str(tmp_path / "b.db"), "--token-env", "STREAM_TOKEN",
                         "--file-sink", str(tmp_path / "out.jsonl"), env=ENV)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "--listen (or [receiver] listen" in result.stderr
    assert "Traceback" not in result.stderr
    assert "stopping" not in result.stderr  # nothing had started
    assert not (tmp_path / "b.db").exists()
    assert not (tmp_path / "out.jsonl").exists()
    assert not (tmp_path / "events.jsonl").exists()


def test_journal_in_an_unwritable_place_names_the_setting(tmp_path: Path) -> None:
    read_only = tmp_path / "ro"
    read_only.mkdir()
    # A read-only file system (a bind mount) where root may run this; a 0555 folder otherwise.
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(read_only), str(read_only)],
                             capture_output=True, check=False).returncode == 0
    if not mounted:
        read_only.chmod(0o555)
    try:
        if os.access(read_only, os.W_OK):
            pytest.skip("no read-only place can be made here (root without mount rights)")
        result = run_cli("receive", "--listen", "127.0.0.1:0", "--journal",
                         str(read_only / "j.db"), "--token-env", "STREAM_TOKEN", env=ENV)
    finally:
        if mounted:
            subprocess.run(["umount", str(read_only)], check=False)
        read_only.chmod(0o755)
    assert result.returncode == 1
    assert f"cannot write the journal at {read_only / 'j.db'}" in result.stderr
    assert "--journal (or [journal] path" in result.stderr
    assert "Traceback" not in result.stderr


def test_receive_with_a_config_file_serves_its_destinations(tmp_path: Path) -> None:
    (tmp_path / "acme.token").write_text(TOKEN + "\n")
    config = tmp_path / "auditstream.toml"
    config.write_text(
        '[receiver]\nlisten = "127.0.0.1:0"\n'
        '[[receiver.destinations]]\nname = "acme"\ninstance = "gitlab.example.com"\n'
        'token_file = "acme.token"\npath = "/acme"\n'
        '[journal]\npath = "data/journal.db"\n')
    with ServerProcess("receive", "--config", str(config)) as receiver:
        assert asyncio.run(post_all(receiver.url + "/acme", range(1, 4))) == [1, 2, 3]
        assert receiver.terminate() == 0
    stats = run_cli("journal", "stats", "--journal", str(tmp_path / "data/journal.db"),
                    "--output", "json")
    assert stats.returncode == 0, stats.stderr
    assert orjson.loads(stats.stdout)["events"] == 3


async def test_an_inherited_socket_keeps_gitlabs_connections_across_a_restart(
        tmp_path: Path) -> None:
    # The test holds the socket as systemd's socket activation does: the port is never free
    # to take, and a connection made while no receiver runs waits in the queue for the next.
    with held_port() as held:
        fd = str(held.fileno())
        url = f"http://127.0.0.1:{port_of(held)}"
        first = ServerProcess("receive", "--listen", f"fd:{fd}", "--journal",
                              str(tmp_path / "j.db"), "--token-env", "STREAM_TOKEN", env=ENV,
                              pass_fds=(held.fileno(),))
        with first:
            assert first.url == url
            assert await post_all(url, range(1, 3)) == [1, 2]
            assert first.terminate() == 0
        during_restart = asyncio.create_task(post_all(url, range(3, 4)))
        await eventually(lambda: waiting_connections(held) == 1)  # in the kernel's queue
        assert not during_restart.done()
        second = await asyncio.to_thread(
            ServerProcess, "receive", "--listen", f"fd:{fd}", "--journal",
            str(tmp_path / "j.db"), "--token-env", "STREAM_TOKEN", env=ENV,
            pass_fds=(held.fileno(),))
        with second:
            assert await during_restart == [3]
    assert await journal_ids(tmp_path / "j.db") == {"1", "2", "3"}


def waiting_connections(listening: socket.socket) -> int:
    """Connections in a listening socket's accept queue (Linux: TCP_INFO's ``tcpi_unacked``
    holds it for a listener, as ``ss -l`` shows it in Recv-Q)."""
    info = listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    queued: int = struct.unpack_from("I", info, 24)[0]  # after 8 one-byte fields, 4 u32s
    return queued


@pytest.mark.parametrize(("listen", "problem"), [
    ("fd:250", "Bad file descriptor"),
    ("fd:2", "Socket operation on non-socket"),  # the captured stderr: a pipe
])
def test_an_inherited_descriptor_that_is_no_socket_names_the_setting(
        tmp_path: Path, listen: str, problem: str) -> None:
    result = run_cli("receive", "--listen", listen, "--journal", str(tmp_path / "j.db"),
                     "--token-env", "STREAM_TOKEN", env=ENV)
    assert result.returncode == 1
    assert f"cannot listen on {listen}: " in result.stderr
    assert problem in result.stderr
    assert "--listen (or [receiver] listen" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "j.db").exists()


@pytest.mark.parametrize(("kind", "problem"), [
    (socket.SOCK_STREAM, "it is not bound to an address"),
    (socket.SOCK_DGRAM, "it is not a TCP socket"),
])
def test_an_inherited_socket_that_cannot_serve_is_refused(
        tmp_path: Path, kind: socket.SocketKind, problem: str) -> None:
    with socket.socket(socket.AF_INET, kind) as passed:
        if kind == socket.SOCK_DGRAM:
            passed.bind(("127.0.0.1", 0))
        result = subprocess.run(
            [AUDITSTREAM, "receive", "--listen", f"fd:{passed.fileno()}", "--journal",
             str(tmp_path / "j.db"), "--token-env", "STREAM_TOKEN"],
            capture_output=True, text=True, timeout=60, env={**os.environ, **ENV},
            pass_fds=(passed.fileno(),), check=False)
    assert result.returncode == 1
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_fd_listen_needs_a_number(tmp_path: Path) -> None:
    result = run_cli("receive", "--listen", "fd:three", "--journal", str(tmp_path / "j.db"),
                     "--token-env", "STREAM_TOKEN", env=ENV)
    assert result.returncode == 2
    assert "--listen: expected fd:N" in result.stderr


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="systemd-socket-activate is not installed (apt-get install systemd)")
async def test_systemds_socket_activation_starts_the_receiver_on_gitlabs_first_connection(
        tmp_path: Path) -> None:
    # systemd-socket-activate does what auditstream.socket does: holds the port, starts the
    # command at the first connection with the socket as fd 3. It takes an address to bind,
    # so the test hands it its own socket the way systemd hands sockets down (LISTEN_FDS).
    with held_port() as held:
        held.listen()
        fd = held.fileno()
        as_fd_3 = "" if fd == 3 else f"exec 3<&{fd} {fd}<&-; "
        shell = (f"{as_fd_3}export LISTEN_PID=$$ LISTEN_FDS=1; exec systemd-socket-activate "
                 f"-E STREAM_TOKEN {AUDITSTREAM} receive --listen fd:3 --journal "
                 f"{tmp_path / 'j.db'} --token-env STREAM_TOKEN")
        activator = await asyncio.to_thread(
            subprocess.Popen, ["bash", "-c", shell], pass_fds=(fd,),
            env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        url = f"http://127.0.0.1:{port_of(held)}"
    try:
        # No receiver runs yet: this connection is what starts it.
        assert await post_all(url, range(1, 4)) == [1, 2, 3]
    finally:
        activator.terminate()
        out, err = await asyncio.to_thread(activator.communicate, timeout=30)
    assert activator.returncode == 0, err
    assert f"receiver listening on {url}" in out
    assert await journal_ids(tmp_path / "j.db") == {"1", "2", "3"}
