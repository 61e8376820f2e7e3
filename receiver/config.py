"""The receiver's configuration: frozen values, built and validated by ``config.app``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditstream.common.secrets import Secret
from auditstream.receiver.network import Network

DEFAULT_LISTEN_HOST = "127.0.0.1"
DEFAULT_LISTEN_PORT = 8080
DEFAULT_LISTEN = f"{DEFAULT_LISTEN_HOST}:{DEFAULT_LISTEN_PORT}"
DEFAULT_CONTENT_HASH_DEDUP = False
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_INSTANCE = "default"
DEFAULT_DESTINATION = "default"
# A destination's tokens: the old and the new while GitLab's token rotates.
MAX_TOKENS_PER_DESTINATION = 2
# What a 503 asks the sender to wait. GitLab itself never retries, but a proxy or a batched
# sender may, and a short wait is all a lock or a full disk usually needs.
DEFAULT_RETRY_AFTER_SECONDS = 5
# How long a request's body may take to arrive once its headers are in. GitLab sends its
# events whole and gives up after 8-30 s itself; without a bound a client that trickles a body
# holds a connection and a handler for as long as it likes.
DEFAULT_BODY_TIMEOUT_SECONDS = 30.0
# How long a connection may wait for a request's headers to be complete: from its opening, or
# from its previous answer. aiohttp closes it then, whether it sent nothing or trickles a
# header (slowloris). The default is aiohttp's own since 3.10 (aio-libs/aiohttp#9285): longer
# than a reverse proxy's keep-alive (nginx 75 s, AWS ALB 1 h), so that a proxy never sends a
# request into a connection we are closing. Lower it when GitLab connects directly.
DEFAULT_IDLE_TIMEOUT_SECONDS = 3630.0
# One address may hold this many connections at once (trusted proxies excepted). GitLab's
# Sidekiq sends from a few hosts with a few connections each; a flood from one address of
# idle connections stops here, before it takes the descriptors GitLab needs.
DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 256
# Refusals of a token we do not hold on one destination's path, within the interval, that
# count as token drift (GitLab sends with a token the receiver lacks): a single wrong token
# is a typo or a probe, several in a few minutes are GitLab.
DEFAULT_DRIFT_REFUSALS = 3
DEFAULT_DRIFT_INTERVAL_SECONDS = 300.0
# How long in-flight requests may take to finish on SIGTERM before the server closes.
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class DestinationConfig:
    """One GitLab streaming destination this receiver answers for.

    ``tokens`` holds one token, or two while a rotation is under way. ``path``, when set,
    binds the destination to that URL path; otherwise any path not bound to another
    destination reaches it. ``expect_event_within_seconds``, when set, is how long it may go
    without an event before it counts as silent (see ``receiver.silence``); ``gitlab_scope``
    (``group:<path>`` or ``instance``) is where GitLab keeps it, for the fix a warning names;
    ``gitlab_id`` is its global id there (both written by ``destinations create|sync``).
    """

    name: str
    tokens: tuple[Secret, ...]
    instance: str = DEFAULT_INSTANCE
    path: str | None = None
    content_hash_dedup: bool = DEFAULT_CONTENT_HASH_DEDUP
    expect_event_within_seconds: float | None = None
    gitlab_scope: str | None = None
    gitlab_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """Where to listen and whom to accept.

    ``tls_cert`` and ``tls_key`` (both or neither) serve HTTPS. ``allow_networks``, when not
    empty, are the only client networks that may send events (403 for others; health and
    metrics stay open to probes). ``trusted_proxies`` are the reverse proxies whose
    ``X-Forwarded-For`` is believed when telling who the client is. ``token_drift_refusals``
    refusals of an unknown token on a destination's path within ``token_drift_interval_seconds``
    are token drift; ``config_path`` is the file the settings came from (named in the fix).
    ``listen_fd``, when set, is a TCP socket this process inherited open (``listen =
    "fd:3"``: systemd's socket activation, or a supervisor that holds the port across
    restarts); ``host`` and ``port`` are then unknown until it is served (``""`` and 0).
    """

    destinations: tuple[DestinationConfig, ...]
    host: str = DEFAULT_LISTEN_HOST
    port: int = DEFAULT_LISTEN_PORT
    listen_fd: int | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS
    idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    shutdown_timeout_seconds: float = DEFAULT_SHUTDOWN_TIMEOUT_SECONDS
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allow_networks: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    max_connections: int | None = None  # None: the open-files limit less what others need
    max_connections_per_client: int = DEFAULT_MAX_CONNECTIONS_PER_CLIENT
    token_drift_refusals: int = DEFAULT_DRIFT_REFUSALS
    token_drift_interval_seconds: float = DEFAULT_DRIFT_INTERVAL_SECONDS
    config_path: str | None = None
