"""Open the configured journal backend."""

from __future__ import annotations

from auditstream.journal.base import Journal
from auditstream.journal.config import JournalConfig
from auditstream.journal.errors import JournalUnavailable
from auditstream.journal.memory import MEMORY_BACKEND, MemoryJournal
from auditstream.journal.sqlite import SqliteJournal

# What the config file offers. The memory backend is not among them: a receiver's 200 promises
# the event is on disk (journal.memory says where it is used).
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
    if config.backend == MEMORY_BACKEND:
        return await MemoryJournal.open(config)
    raise JournalUnavailable(f"unknown journal backend {config.backend!r}")


async def open_journal_readonly(config: JournalConfig) -> Journal:
    """Open an existing journal for inspection only."""
    if config.backend == "sqlite":
        return await SqliteJournal.open_readonly(config)
    if config.backend == "redis":
        from auditstream.journal.redis_journal import RedisJournal

        return await RedisJournal.open_readonly(config)
    if config.backend == MEMORY_BACKEND:
        return await MemoryJournal.open_readonly(config)
    raise JournalUnavailable(f"unknown journal backend {config.backend!r}")
