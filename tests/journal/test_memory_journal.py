"""What only the memory journal has: a name within this process, and no place in the config
file. Its journal behaviour is the contract suite's (``test_journal_contract.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditstream.config.app import load_journal_config
from auditstream.config.errors import ConfigError
from auditstream.journal import JournalConfig, JournalUnavailable, open_journal
from auditstream.journal.memory import MEMORY_BACKEND, MemoryJournal
from tests.helpers.events import event


async def test_a_name_opened_again_is_the_same_journal_and_another_name_is_not(
        tmp_path: Path) -> None:
    config = JournalConfig(path=tmp_path / "one", backend=MEMORY_BACKEND)
    first = await open_journal(config)
    await first.append([event(1)])
    again = await open_journal(config)
    other = await open_journal(JournalConfig(path=tmp_path / "two", backend=MEMORY_BACKEND))
    assert [e.event_id for e in await again.tail(5)] == ["1"]
    assert await other.tail(5) == []
    assert isinstance(first, MemoryJournal)


async def test_a_name_never_opened_cannot_be_read(tmp_path: Path) -> None:
    config = JournalConfig(path=tmp_path / "never", backend=MEMORY_BACKEND)
    with pytest.raises(JournalUnavailable, match="no journal named"):
        await MemoryJournal.open_readonly(config)


def test_the_config_file_offers_no_memory_journal(tmp_path: Path) -> None:
    # A 200 from the receiver promises the event is on disk: memory is for tests only.
    config = tmp_path / "auditstream.toml"
    config.write_text('[journal]\nbackend = "memory"\n')
    with pytest.raises(ConfigError) as refused:
        load_journal_config(config)
    assert "journal.backend: must be one of sqlite, redis, got 'memory'" in str(refused.value)
