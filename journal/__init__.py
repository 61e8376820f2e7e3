"""journal: the durable, deduplicating log between receiver and relay."""

from journal.base import Journal
from journal.config import JournalConfig
from journal.errors import JournalClosed, JournalCorrupt, JournalError, JournalUnavailable
from journal.model import (
    AppendOutcome,
    DeadLetter,
    IncomingEvent,
    JournalStats,
    PurgeResult,
    SinkPosition,
    StoredEvent,
)
from journal.open import open_journal, open_journal_readonly

__all__ = [
    "AppendOutcome",
    "DeadLetter",
    "IncomingEvent",
    "Journal",
    "JournalClosed",
    "JournalConfig",
    "JournalCorrupt",
    "JournalError",
    "JournalStats",
    "JournalUnavailable",
    "PurgeResult",
    "SinkPosition",
    "StoredEvent",
    "open_journal",
    "open_journal_readonly",
]
