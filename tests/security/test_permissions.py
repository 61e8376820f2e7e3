"""What auditstream writes to disk is the owner's alone: the journal (with its WAL and shared
memory files), the archive, the config file and token files the CLI writes. Tested under a
umask of 0, so nothing rests on the operator's umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditstream.client.models import Destination
from auditstream.config.write import write_destination
from auditstream.journal import IncomingEvent, JournalConfig
from auditstream.journal.sqlite import SqliteJournal
from auditstream.relay.batch import Batch
from auditstream.relay.envelope import Envelope
from auditstream.relay.sinks.file import FileSink


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_journal_file_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = await SqliteJournal.open(JournalConfig(path=path))
    try:
        await journal.append([IncomingEvent(
            instance="default", event_id="1", dedup_keys=("id:1",), destination="d",
            received_at=1.0, body=b'{"id":1}')])
        for suffix in ("", "-wal", "-shm"):
            assert mode(path.with_name(path.name + suffix)) == 0o600, suffix
    finally:
        await journal.close()


async def test_archive_is_owner_only(tmp_path: Path) -> None:
    sink = FileSink("archive", tmp_path / "archive.jsonl")
    await sink.send(Batch((Envelope(seq=1, index=None, data=b'{"event":1}'),)))
    await sink.close()
    assert mode(tmp_path / "archive.jsonl") == 0o600


def destination(token: str) -> Destination:
    return Destination(id="gid://gitlab/AuditEvents::ExternalAuditEventDestination/7",
                       name="siem", url="https://receiver.example.com/acme",
                       verification_token=token, event_type_filters=(), headers=(),
                       scope="group:acme")


def test_config_and_token_files_written_by_the_cli_are_owner_only(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    token_file = write_destination(config, destination("a" * 24), "gitlab.example.com")
    assert mode(config) == 0o600
    assert mode(token_file) == 0o600
    assert mode(token_file.parent) == 0o700


def test_files_left_readable_by_others_are_made_owner_only_when_rewritten(
        tmp_path: Path) -> None:
    # A token file a person made by hand, or a temporary file a crash left behind, keeps its
    # mode when opened with O_TRUNC: the writer must set it, not only ask for it at creation.
    config = tmp_path / "auditstream.toml"
    token_file = write_destination(config, destination("a" * 24), "gitlab.example.com")
    token_file.chmod(0o644)
    leftover = config.with_name(config.name + ".tmp")
    leftover.write_text("")
    leftover.chmod(0o644)
    write_destination(config, destination("b" * 24), "gitlab.example.com")
    assert mode(token_file) == 0o600
    assert mode(config) == 0o600
