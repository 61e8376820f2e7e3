"""The relay's configuration: frozen values, built and validated by ``auditstream.config.app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from auditstream.common.secrets import Secret
from auditstream.relay.batch import (
    DEFAULT_BATCH_MAX_BYTES,
    DEFAULT_BATCH_MAX_EVENTS,
    DEFAULT_BATCH_MAX_WAIT_SECONDS,
)
from auditstream.relay.decision import (
    DEFAULT_BACKOFF_BASE_SECONDS,
    DEFAULT_BACKOFF_CAP_SECONDS,
    DEFAULT_PAUSE_RETRY_SECONDS,
)
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.relay.sinks.hec import DEFAULT_GZIP_LEVEL, DEFAULT_TIMEOUT_SECONDS

# Vector polls /ack every 10 s; Splunk may hold a small last batch about 2 minutes.
DEFAULT_ACK_POLL_SECONDS = 10.0
DEFAULT_ACK_TIMEOUT_SECONDS = 300.0
DEFAULT_MAX_PENDING_ACKS = 100
# How long a relay in another process than the receiver waits between looks at the journal.
DEFAULT_POLL_SECONDS = 0.5
DEFAULT_WINDOWS_IN_FLIGHT = 2
# Requests per sink at once: two keep the sink busy while the relay prepares the next batch
# (one left both idle half the time); more measured no faster (docs/benchmarks-relay.md).
DEFAULT_MAX_REQUESTS_IN_FLIGHT = 2
DEFAULT_GZIP = True
DEFAULT_ACK = False
DEFAULT_TLS_VERIFY = True


@dataclass(frozen=True, slots=True)
class BatchSettings:
    max_events: int = DEFAULT_BATCH_MAX_EVENTS
    max_bytes: int = DEFAULT_BATCH_MAX_BYTES
    max_wait_seconds: float = DEFAULT_BATCH_MAX_WAIT_SECONDS


@dataclass(frozen=True, slots=True)
class RetrySettings:
    backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = DEFAULT_BACKOFF_CAP_SECONDS
    pause_retry_seconds: float = DEFAULT_PAUSE_RETRY_SECONDS


@dataclass(frozen=True, slots=True)
class AckSettings:
    poll_seconds: float = DEFAULT_ACK_POLL_SECONDS
    timeout_seconds: float = DEFAULT_ACK_TIMEOUT_SECONDS
    max_pending: int = DEFAULT_MAX_PENDING_ACKS


@dataclass(frozen=True, slots=True)
class HecSinkConfig:
    name: str
    url: str
    token: Secret
    gzip: bool = DEFAULT_GZIP
    gzip_level: int = DEFAULT_GZIP_LEVEL
    ack: bool = DEFAULT_ACK
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ca_file: Path | None = None
    tls_verify: bool = DEFAULT_TLS_VERIFY
    envelope: EnvelopeSettings = field(default_factory=EnvelopeSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)


@dataclass(frozen=True, slots=True)
class FileSinkConfig:
    name: str
    path: Path
    envelope: EnvelopeSettings = field(default_factory=EnvelopeSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)


SinkConfig = HecSinkConfig | FileSinkConfig


@dataclass(frozen=True, slots=True)
class RelayConfig:
    sinks: tuple[SinkConfig, ...]
    retry: RetrySettings = field(default_factory=RetrySettings)
    ack: AckSettings = field(default_factory=AckSettings)
    poll_seconds: float = DEFAULT_POLL_SECONDS
    windows_in_flight: int = DEFAULT_WINDOWS_IN_FLIGHT
    max_requests_in_flight: int = DEFAULT_MAX_REQUESTS_IN_FLIGHT

    def __post_init__(self) -> None:
        if self.max_requests_in_flight < 1:
            raise ValueError(f"max_requests_in_flight must be at least 1, "
                             f"got {self.max_requests_in_flight}")
