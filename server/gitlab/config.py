"""The stand-in's settings: frozen values, validated whole when built."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditstream.server.gitlab.errors import GitLabConfigError
from auditstream.server.gitlab.streaming import Knobs

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0  # tests bind an ephemeral port; the CLI picks its own default
# GitLab's newest streaming timeout (older versions waited 20-30 s).
DEFAULT_DELIVERY_TIMEOUT_SECONDS = 8.0
# Enough concurrency to look like Sidekiq, few enough sockets for a test machine.
DEFAULT_MAX_CONCURRENT_DELIVERIES = 64
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class GitLabConfig:
    """Where the stand-in listens and how it streams.

    ``strict_urls`` refuses localhost and private destination URLs as GitLab does by default;
    off, loopback URLs are allowed so tests can stream to themselves. ``activity_seed`` makes
    generated activity repeatable; ``knobs`` are the streaming knobs it starts with.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    strict_urls: bool = False
    legacy_api: bool = True  # False: GitLab 20.0, only the consolidated streaming API
    delivery_timeout_seconds: float = DEFAULT_DELIVERY_TIMEOUT_SECONDS
    max_concurrent_deliveries: int = DEFAULT_MAX_CONCURRENT_DELIVERIES
    knobs: Knobs = field(default_factory=Knobs)
    activity_seed: int | None = None
    shutdown_timeout_seconds: float = DEFAULT_SHUTDOWN_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise GitLabConfigError(f"port: must be 0-65535, got {self.port}")
        if not self.delivery_timeout_seconds > 0:
            raise GitLabConfigError("delivery_timeout_seconds: must be more than 0, got "
                                    f"{self.delivery_timeout_seconds}")
        if self.max_concurrent_deliveries < 1:
            raise GitLabConfigError("max_concurrent_deliveries: must be at least 1, got "
                                    f"{self.max_concurrent_deliveries}")
        if self.shutdown_timeout_seconds < 0:
            raise GitLabConfigError("shutdown_timeout_seconds: must be 0 or more, got "
                                    f"{self.shutdown_timeout_seconds}")
