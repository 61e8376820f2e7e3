"""Disk trouble mid-run: 503 with Retry-After, nothing half-stored, back to 200 without a restart.

Three real conditions of the real code path (no mocks): a journal at its ``max_size_bytes``
cap (SQLITE_FULL, in a real ``auditstream run``), a filesystem that is really full (a small
tmpfs, where mounting is allowed), and a journal whose files turn read-only under the running
receiver (``chattr +i``, which binds root too, where the filesystem has it). After each: the
journal passes integrity_check and holds exactly the events that were answered 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError
from auditstream.journal import JournalConfig
from auditstream.journal.sqlite import SqliteJournal
from auditstream.receiver.service import RunningReceiver, start_receiver
from auditstream.server.hec import running_hec
from tests.conftest import TOKEN, receiver_config
from tests.helpers.bodies import gitlab_body
from tests.processes import ServerProcess
from tests.waiting import eventually

HEADERS = {"X-Gitlab-Event-Streaming-Token": TOKEN,
           "Content-Type": "application/x-www-form-urlencoded"}
PADDING = "x" * 2000


async def post(session: aiohttp.ClientSession, url: str,
               event_id: int) -> tuple[int, dict[str, object], str | None]:
    body = gitlab_body(event_id, event_type="user_created", details=PADDING)
    async with session.post(url + "/", data=body, headers=HEADERS) as response:
        return response.status, await response.json(), response.headers.get("Retry-After")


def stored_ids(path: Path) -> tuple[str, set[int]]:
    """integrity_check and the ids in the journal file, read with a separate connection."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        check = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        return check, {int(row[0]) for row in conn.execute("SELECT event_id FROM events")}


def held(path: Path) -> int:
    """How many event bodies the journal file still holds."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


class Poster:
    """Posts numbered events and remembers which were answered 200."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.next_id = 1
        self.ok: set[int] = set()

    async def one(self) -> tuple[int, dict[str, object], str | None]:
        event_id, self.next_id = self.next_id, self.next_id + 1
        answer = await post(self.session, self.url, event_id)
        if answer[0] == 200:
            self.ok.add(event_id)
        return answer

    async def until_refused(self, at_most: int) -> tuple[int, dict[str, object], str | None]:
        for _ in range(at_most):
            answer = await self.one()
            if answer[0] != 200:
                return answer
        raise AssertionError(f"still 200 after {at_most} events")


def assert_unavailable(answer: tuple[int, dict[str, object], str | None]) -> None:
    status, body, retry_after = answer
    assert status == 503, answer
    assert "journal cannot take writes" in str(body["error"])
    assert retry_after is not None
    assert int(retry_after) > 0


# -- the size cap, in a real `auditstream run` --------------------------------------------------

@pytest.mark.slow
async def test_journal_at_its_size_cap_answers_503_and_recovers_once_retention_frees_room(
        tmp_path: Path) -> None:
    """A sink outage fills the capped journal; once the sink is back the relay drains it,
    retention removes the delivered bodies, and the same process takes events again."""
    async with running_hec() as hec:
        outage = hec.faults.busy(retry_after=1)  # until cleared
        config = tmp_path / "auditstream.toml"
        config.write_text(f"""
[receiver]
listen = "127.0.0.1:0"
retry_after_seconds = 3
[[receiver.destinations]]
name = "acme"
token_env = "STREAM_TOKEN"
[journal]
path = "journal.db"
max_size_bytes = 1_000_000
retention_days = 0
purge_interval_seconds = 0.5
[relay]
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.5
[[sinks]]
name = "splunk"
url = "{hec.url}"
token_env = "HEC_TOKEN"
batch_max_wait_seconds = 0
""")
        process = await asyncio.to_thread(
            ServerProcess, "run", "--config", str(config),
            env={"STREAM_TOKEN": TOKEN, "HEC_TOKEN": hec.token})
        try:
            async with aiohttp.ClientSession() as session:
                poster = Poster(session, process.url)
                assert_unavailable(await poster.until_refused(2000))
                full_at = len(poster.ok)
                assert full_at > 100
                assert_unavailable(await poster.one())  # still full: nothing was delivered
                async with session.get(process.url + "/readyz") as response:
                    ready = await response.json()
                assert response.status == 503, ready  # a balancer should look elsewhere
                assert "SQLITE_FULL" in ready["components"]["journal"]["reason"]
                hec.faults.clear(outage)
                await hec.received.wait_until(lambda: len(hec.received.count_by()) >= full_at,
                                              within=30)

                async def takes_events_again() -> bool:
                    return (await poster.one())[0] == 200

                await eventually(takes_events_again, within=30)  # no restart
                # Once retention has caught up with the relay, there is room for a steady
                # stream again (until then, a 503 now and then is the cap doing its job).
                await hec.received.wait_until(
                    lambda: len(hec.received.count_by()) >= len(poster.ok), within=30)
                await eventually(lambda: held(tmp_path / "journal.db") == 0, within=30)
                for _ in range(50):
                    assert (await poster.one())[0] == 200
                await hec.received.wait_until(
                    lambda: len(hec.received.count_by()) >= len(poster.ok), within=30)
            assert await asyncio.to_thread(process.terminate) == 0
        finally:
            await asyncio.to_thread(process.kill)
    at_sink = {int(str(key)) for key in hec.received.count_by()}
    assert at_sink == poster.ok  # every 200 delivered; nothing refused was stored
    check, _ = stored_ids(tmp_path / "journal.db")
    assert check == "ok"
    assert "journal cannot take writes" in process.stderr


# -- a really full filesystem ---------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs of our own; skipped where this sandbox may not mount."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN): "
                    f"{mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.asynccontextmanager
async def receiver_on(path: Path) -> AsyncIterator[tuple[SqliteJournal, RunningReceiver]]:
    journal = await SqliteJournal.open(JournalConfig(path=path, busy_timeout_seconds=0.2))
    running = await start_receiver(receiver_config(max_body_bytes=64 * 1024), journal)
    try:
        yield journal, running
    finally:
        await running.stop()
        await journal.close()


def fill_disk(folder: Path) -> Path:
    ballast = folder / "ballast"
    with ballast.open("wb") as handle, contextlib.suppress(OSError):  # ENOSPC: the point
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return ballast


async def test_full_disk_answers_503_and_recovers_once_space_returns(small_disk: Path) -> None:
    path = small_disk / "journal.db"
    async with receiver_on(path) as (_journal, running), aiohttp.ClientSession() as session:
        poster = Poster(session, running.url)
        for _ in range(20):
            assert (await poster.one())[0] == 200
        ballast = fill_disk(small_disk)
        assert_unavailable(await poster.until_refused(500))
        ballast.unlink()  # space returns

        async def takes_events_again() -> bool:
            return (await poster.one())[0] == 200

        await eventually(takes_events_again, within=10)
        for _ in range(20):
            assert (await poster.one())[0] == 200
    check, ids = stored_ids(path)
    assert check == "ok"
    assert ids == poster.ok


# -- files that turn read-only under the running receiver ------------------------------------

@pytest.fixture
def immutable_supported(tmp_path: Path) -> None:
    probe = tmp_path / "chattr-probe"
    probe.touch()
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    done = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"this filesystem has no immutable flag: {done.stderr.strip()}")
    subprocess.run(["chattr", "-i", str(probe)], check=True)


def set_immutable(paths: list[Path], on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)


async def test_journal_turned_read_only_answers_503_and_recovers_once_writable(
        tmp_path: Path, immutable_supported: None) -> None:
    path = tmp_path / "journal.db"
    files = [path, path.with_name(path.name + "-wal")]
    async with receiver_on(path) as (_journal, running), aiohttp.ClientSession() as session:
        poster = Poster(session, running.url)
        for _ in range(20):
            assert (await poster.one())[0] == 200
        set_immutable(files, True)  # even root may not write them now
        try:
            assert_unavailable(await poster.one())
            assert_unavailable(await poster.one())
        finally:
            set_immutable(files, False)

        async def takes_events_again() -> bool:
            return (await poster.one())[0] == 200

        await eventually(takes_events_again, within=10)  # the same process, no restart
        for _ in range(20):
            assert (await poster.one())[0] == 200
    check, ids = stored_ids(path)
    assert check == "ok"
    assert ids == poster.ok


@pytest.mark.parametrize("value", ['"1GB"', "1000", "true"])
def test_a_wrong_max_size_bytes_is_an_error_naming_the_key_and_the_file(tmp_path: Path,
                                                                         value: str) -> None:
    path = tmp_path / "auditstream.toml"
    path.write_text(f"[journal]\nmax_size_bytes = {value}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, {})
    assert str(error.value).startswith(f"{path}: journal.max_size_bytes: ")


def test_max_size_bytes_reaches_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "auditstream.toml"
    path.write_text("[journal]\nmax_size_bytes = 1_000_000_000\n")
    assert load_config(path, {}).journal.max_size_bytes == 1_000_000_000
