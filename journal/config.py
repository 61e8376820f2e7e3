"""The journal's configuration: one frozen value, validated where the config file is read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_JOURNAL_PATH = Path("auditstream.db")
DEFAULT_DEDUP_WINDOW_SECONDS = 30 * 24 * 3600.0
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600.0
# GitLab never retries: waiting a little for a lock held by another process (a relay acking)
# is better than answering 503 and losing the event. Still well under GitLab's 8 s timeout.
DEFAULT_BUSY_TIMEOUT_SECONDS = 2.0
DEFAULT_PURGE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """Where the journal lives and how long it remembers."""

    path: Path = DEFAULT_JOURNAL_PATH
    backend: str = "sqlite"
    dedup_window_seconds: float = DEFAULT_DEDUP_WINDOW_SECONDS
    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS
    purge_interval_seconds: float = DEFAULT_PURGE_INTERVAL_SECONDS
