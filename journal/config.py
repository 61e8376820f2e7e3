"""The journal's configuration: one frozen value, validated where the config file is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from auditstream.common.secrets import Secret

DEFAULT_JOURNAL_PATH = Path("auditstream.db")
DEFAULT_DEDUP_WINDOW_SECONDS = 30 * 24 * 3600.0
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600.0
# GitLab never retries: waiting a little for a lock held by another process (a relay acking)
# is better than answering 503 and losing the event. Still well under GitLab's 8 s timeout.
DEFAULT_BUSY_TIMEOUT_SECONDS = 2.0
DEFAULT_PURGE_INTERVAL_SECONDS = 3600.0
# Redis: every key of one journal shares this hash tag, so one Cluster slot holds them all.
DEFAULT_REDIS_KEY_PREFIX = "auditstream"
# A relay's claimed events idle this long (it crashed, or lost Redis) go to another relay.
# A live relay renews its claims well before, however slow its sink.
DEFAULT_CLAIM_IDLE_SECONDS = 60.0
# How long the receiver waits for replicas to confirm a write (WAIT) before answering 503.
DEFAULT_WAIT_TIMEOUT_SECONDS = 2.0
DEFAULT_WAIT_REPLICAS = 0
DEFAULT_BACKEND = "sqlite"
# The smallest cap on an SQLite journal's file worth having: a few pages past the schema.
MIN_JOURNAL_SIZE_BYTES = 65536


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where a Redis journal lives and what a 200 waits for (see ``journal.redis_journal``).

    ``wait_replicas``: an append returns only once that many replicas have the write (Redis
    ``WAIT``); fewer within ``wait_timeout_seconds`` make it fail, so the receiver answers 503.
    """

    url: str
    password: Secret | None = field(default=None, repr=False)
    key_prefix: str = DEFAULT_REDIS_KEY_PREFIX
    wait_replicas: int = DEFAULT_WAIT_REPLICAS
    wait_timeout_seconds: float = DEFAULT_WAIT_TIMEOUT_SECONDS
    claim_idle_seconds: float = DEFAULT_CLAIM_IDLE_SECONDS


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """Where the journal lives and how long it remembers. ``redis`` is set for that backend.

    ``max_size_bytes`` (SQLite) caps the database file: past it, appends fail as on a full
    disk and the receiver answers 503 until retention frees room, so a long sink outage
    cannot fill a disk that other services share. None: no cap but the disk's.
    """

    path: Path = DEFAULT_JOURNAL_PATH
    backend: str = DEFAULT_BACKEND
    dedup_window_seconds: float = DEFAULT_DEDUP_WINDOW_SECONDS
    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS
    purge_interval_seconds: float = DEFAULT_PURGE_INTERVAL_SECONDS
    max_size_bytes: int | None = None
    redis: RedisSettings | None = None

    def describe(self) -> str:
        """Where the journal is, for people: the file, or the Redis URL (no password)."""
        if self.backend == "redis" and self.redis is not None:
            return f"redis {self.redis.url} (keys {{{self.redis.key_prefix}}})"
        return str(self.path)
