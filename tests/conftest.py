"""Fixtures shared by the whole suite: real journals, real servers on port 0.

``journal`` is the in-memory journal (it passes the journal contract suite): for the tests of
the receiver, the relay and the rest where the disk is not the point. Where it is (files,
reopening, locks, a second process), ``sqlite_journal`` is a real SQLite file at
``journal_config.path``."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from auditstream.common.secrets import Secret
from auditstream.journal import Journal, JournalConfig
from auditstream.journal.memory import MEMORY_BACKEND, MemoryJournal
from auditstream.journal.sqlite import SqliteJournal
from auditstream.receiver.config import DestinationConfig, ReceiverConfig
from auditstream.receiver.service import RunningReceiver, start_receiver
from auditstream.server.hec import HecConfig, RunningHec, running_hec
from tests.helpers.ports import held_port

# The machines that run this suite are shared and noisy: Hypothesis's per-example deadline
# (200 ms) failed a property test on a slow moment, not on a wrong answer. pytest-timeout bounds
# every test instead (pyproject.toml).
settings.register_profile("auditstream", deadline=None)
settings.load_profile("auditstream")

TOKEN = "tok-default-0123456789ab"
OTHER_TOKEN = "tok-other-0123456789abcd"


@pytest.fixture
def journal_config(tmp_path: Path) -> JournalConfig:
    return JournalConfig(path=tmp_path / "journal.db", busy_timeout_seconds=0.2)


@pytest.fixture
async def sqlite_journal(journal_config: JournalConfig) -> AsyncIterator[SqliteJournal]:
    opened = await SqliteJournal.open(journal_config)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def journal(journal_config: JournalConfig) -> AsyncIterator[Journal]:
    """A journal of this process's memory, named after the test's own folder."""
    opened = await MemoryJournal.open(replace(journal_config, backend=MEMORY_BACKEND))
    try:
        yield opened
    finally:
        await opened.close()


def destination(name: str = "default", token: str = TOKEN, *, instance: str = "default",
                path: str | None = None, content_hash_dedup: bool = False,
                previous_token: str | None = None) -> DestinationConfig:
    tokens = (Secret(token),) if previous_token is None else (Secret(previous_token),
                                                              Secret(token))
    return DestinationConfig(name=name, tokens=tokens, instance=instance, path=path,
                             content_hash_dedup=content_hash_dedup)


@dataclass(slots=True)
class ReceiverUnderTest:
    running: RunningReceiver
    journal: Journal

    @property
    def url(self) -> str:
        return self.running.url


def receiver_config(*destinations: DestinationConfig, **limits: Any) -> ReceiverConfig:
    """A receiver on 127.0.0.1, port 0, with small limits that tests can reach."""
    settings: dict[str, Any] = {"max_body_bytes": 64 * 1024, "retry_after_seconds": 7, **limits}
    return ReceiverConfig(destinations=destinations or (destination(),), host="127.0.0.1",
                          port=0, **settings)


StartReceiver = Callable[[ReceiverConfig], Awaitable[ReceiverUnderTest]]


@pytest.fixture
async def start_receiver_on_journal(journal: Journal) -> AsyncIterator[StartReceiver]:
    """Start receivers with a given config on the test's journal; all stopped at the end."""
    async with receivers_on(journal) as start:
        yield start


@pytest.fixture
async def start_receiver_on_sqlite(sqlite_journal: SqliteJournal,
                                   ) -> AsyncIterator[StartReceiver]:
    """As ``start_receiver_on_journal``, on the SQLite file (for a test of what the disk
    does: a lock held by another process, a full disk)."""
    async with receivers_on(sqlite_journal) as start:
        yield start


@asynccontextmanager
async def receivers_on(journal: Journal) -> AsyncIterator[StartReceiver]:
    running: list[RunningReceiver] = []

    async def start(config: ReceiverConfig) -> ReceiverUnderTest:
        started = await start_receiver(config, journal)
        running.append(started)
        return ReceiverUnderTest(started, journal)

    try:
        yield start
    finally:
        for started in running:
            await started.stop()


@pytest.fixture
async def receiver(start_receiver_on_journal: StartReceiver) -> ReceiverUnderTest:
    return await start_receiver_on_journal(receiver_config())


@pytest.fixture
def held_listener() -> Iterator[socket.socket]:
    """A port of the system's choosing on 127.0.0.1, bound (not listening) for the test: for
    an ``auditstream`` process whose URL GitLab must know before it starts
    (``tests.processes.serve_held``)."""
    with held_port() as held:
        yield held


@pytest.fixture
def hec_config() -> HecConfig:
    """The HEC stand-in's settings for ``hec``: its defaults (one token, no ack). A folder
    whose tests need another stand-in says so by overriding this, not ``hec``."""
    return HecConfig()


@pytest.fixture
async def hec(hec_config: HecConfig) -> AsyncIterator[RunningHec]:
    """A HEC stand-in on 127.0.0.1, port 0, for the length of the test."""
    async with running_hec(hec_config) as running:
        yield running
