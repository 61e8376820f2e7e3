"""Files are written as if somebody else were on the machine (issue 21): never through a
symlink, owner-only whatever the umask, and tokens only into a folder that is ours alone."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditstream.client.ids import GROUP_DESTINATION
from auditstream.config.errors import ConfigError
from auditstream.config.write import write_destination
from auditstream.journal import JournalConfig
from auditstream.journal.sqlite import SqliteJournal
from auditstream.relay.sinks.file import FileSink
from tests.client.test_config_write_hostile import answered

GID = f"gid://gitlab/{GROUP_DESTINATION}/1"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_symlink_at_a_token_files_name_is_refused_and_its_target_untouched(
        tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    victim.chmod(0o644)
    (tmp_path / "tokens").mkdir(mode=0o700)
    (tmp_path / "tokens" / "siem-1.token").symlink_to(victim)
    with pytest.raises(ConfigError, match=r"would not be in tokens/|it is a symlink"):
        write_destination(tmp_path / "auditstream.toml", answered(GID), "gitlab.com")
    assert victim.read_text() == "keep me\n"
    assert mode(victim) == 0o644


def test_a_symlink_at_the_configs_old_temporary_name_is_never_written(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "auditstream.toml.tmp").symlink_to(victim)
    write_destination(tmp_path / "auditstream.toml", answered(GID), "gitlab.com")
    assert victim.read_text() == "keep me\n"
    assert "siem" in (tmp_path / "auditstream.toml").read_text()


@pytest.mark.parametrize(("make", "problem"), [
    (lambda tokens: tokens.mkdir(mode=0o755), "may be read or written by others"),
    (lambda tokens: tokens.symlink_to(tokens.parent / "elsewhere",
                                      target_is_directory=True), "not a folder"),
])
def test_a_tokens_folder_that_is_not_ours_alone_is_refused(tmp_path: Path, make: object,
                                                           problem: str) -> None:
    (tmp_path / "elsewhere").mkdir()
    tokens = tmp_path / "tokens"
    assert callable(make)
    make(tokens)
    with pytest.raises(ConfigError, match=problem):
        write_destination(tmp_path / "auditstream.toml", answered(GID), "gitlab.com")
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand a folder to another user")
def test_a_tokens_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.mkdir(mode=0o700)
    os.chown(tokens, 65534, 65534)
    with pytest.raises(ConfigError, match="belongs to another user"):
        write_destination(tmp_path / "auditstream.toml", answered(GID), "gitlab.com")


@pytest.mark.usefixtures("open_umask")
def test_under_umask_000_made_folders_are_0700_and_files_0600(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "auditstream.toml"
    token = write_destination(config, answered(GID), "gitlab.com")
    assert (mode(config.parent), mode(config), mode(token.parent), mode(token)) == (
        0o700, 0o600, 0o700, 0o600)

    journal_path = tmp_path / "var" / "journal" / "j.db"

    async def open_and_write() -> None:
        journal = await SqliteJournal.open(JournalConfig(path=journal_path))
        await journal.close()

    asyncio.run(open_and_write())
    assert (mode(journal_path.parent), mode(journal_path.parent.parent)) == (0o700, 0o700)
    assert mode(journal_path) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_an_existing_journal_and_archive_at_0644_become_0600(tmp_path: Path) -> None:
    journal_path = tmp_path / "j.db"

    async def open_and_close() -> None:
        journal = await SqliteJournal.open(JournalConfig(path=journal_path))
        await journal.close()

    asyncio.run(open_and_close())
    for path in tmp_path.glob("j.db*"):
        path.chmod(0o644)
    asyncio.run(open_and_close())
    assert {p.name: mode(p) for p in tmp_path.glob("j.db*")} == {
        p.name: 0o600 for p in tmp_path.glob("j.db*")}

    archive = tmp_path / "archive" / "events.jsonl"
    archive.parent.mkdir()
    archive.write_text("")
    archive.chmod(0o644)
    sink = FileSink("archive", archive)
    sink._open()
    asyncio.run(sink.close())
    assert mode(archive) == 0o600
