"""journal: the durable, deduplicating log between receiver and relay."""

from auditstream.journal.base import Journal
from auditstream.journal.config import JournalConfig
from auditstream.journal.deadletters import DeadLetterSelection
from auditstream.journal.errors import (
    JournalClosed,
    JournalCorrupt,
    JournalError,
    JournalUnavailable,
)
from auditstream.journal.model import (
    BACKFILL,
    ORIGINS,
    STREAM,
    AppendOutcome,
    DeadLetter,
    IncomingEvent,
    JournalStats,
    PurgeResult,
    SinkPosition,
    StoredEvent,
)
from auditstream.journal.open import open_journal, open_journal_readonly

__all__ = [
    "BACKFILL",
    "ORIGINS",
    "STREAM",
    "AppendOutcome",
    "DeadLetter",
    "DeadLetterSelection",
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
