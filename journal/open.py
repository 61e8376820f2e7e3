"""Open the configured journal backend."""

from __future__ import annotations

from auditstream.journal.base import Journal
from auditstream.journal.config import JournalConfig
from auditstream.journal.errors import JournalUnavailable
from auditstream.journal.sqlite import SqliteJournal

BACKENDS = ("sqlite", "redis")


async def open_journal(config: JournalConfig) -> Journal:
    """Open the journal for reading and writing, creating it if needed."""
    if config.backend == "sqlite":
        return await SqliteJournal.open(config)
    if config.backend == "redis":
        from auditstream.journal.redis_journal import (
            RedisJournal,  # only those who use Redis load it
        )

        return await RedisJournal.open(config)
    raise JournalUnavailable(f"unknown journal backend {config.backend!r}")


async def open_journal_readonly(config: JournalConfig) -> Journal:
    """Open an existing journal for inspection only."""
    if config.backend == "sqlite":
        return await SqliteJournal.open_readonly(config)
    if config.backend == "redis":
        from auditstream.journal.redis_journal import RedisJournal

        return await RedisJournal.open_readonly(config)
    raise JournalUnavailable(f"unknown journal backend {config.backend!r}")
