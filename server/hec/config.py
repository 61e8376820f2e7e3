"""The stand-in's configuration: frozen values, validated whole when built."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditstream.server.hec.errors import HecConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0  # tests bind an ephemeral port; the CLI defaults to Splunk's 8088 itself
# Splunk's default is 800 MB; sites usually set 1-10 MB, and a stand-in has no use for more.
DEFAULT_MAX_CONTENT_LENGTH = 10 * 1024 * 1024
# Splunk fails a single event over about 5 MB with code 6.
DEFAULT_MAX_EVENT_BYTES = 5 * 1024 * 1024
DEFAULT_INDEX = "main"
# A fixed, obviously fake token, so ``running_hec()`` works without any setup.
DEFAULT_TOKEN = "00000000-0000-4000-8000-000000000000"  # noqa: S105 (a test value)
# How long stopping waits for in-flight answers before closing their connections.
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class HecToken:
    """One HEC token and what it allows, as a Splunk HEC input configures it.

    ``indexes`` empty means any index; otherwise an envelope's ``index`` must be one of them
    (code 7), and ``default_index`` must be one too. ``value`` never shows in a repr.
    """

    value: str = field(repr=False)
    name: str = "default"
    indexes: tuple[str, ...] = ()
    default_index: str = DEFAULT_INDEX
    ack: bool = False
    query_auth: bool = False
    disabled: bool = False

    def allows_index(self, index: str) -> bool:
        return not self.indexes or index in self.indexes


@dataclass(frozen=True, slots=True)
class HecConfig:
    """Where the stand-in listens, the tokens it knows and its limits."""

    tokens: tuple[HecToken, ...] = (HecToken(DEFAULT_TOKEN),)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    # Splunk answers 503 code 9 when a channel has too many acks nobody asked about.
    max_pending_acks_per_channel: int | None = None
    shutdown_timeout_seconds: float = DEFAULT_SHUTDOWN_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        validate_config(self)

    def token_named(self, name: str) -> HecToken:
        for token in self.tokens:
            if token.name == name:
                return token
        raise KeyError(name)


def validate_config(config: HecConfig) -> None:
    """Raise ``HecConfigError`` naming the first wrong setting."""
    if not config.tokens:
        raise HecConfigError("tokens: at least one token is needed")
    for token in config.tokens:
        _validate_token(token)
    names = [token.name for token in config.tokens]
    if len(set(names)) != len(names):
        raise HecConfigError("tokens: two tokens share a name; each needs its own")
    if len({token.value for token in config.tokens}) != len(config.tokens):
        raise HecConfigError("tokens: two tokens share a value; each needs its own")
    if not 0 <= config.port <= 65535:
        raise HecConfigError(f"port: must be 0-65535, got {config.port}")
    if config.max_content_length < 1:
        raise HecConfigError("max_content_length: must be at least 1 byte, "
                             f"got {config.max_content_length}")
    if config.max_event_bytes < 1:
        raise HecConfigError(f"max_event_bytes: must be at least 1, got {config.max_event_bytes}")
    pending = config.max_pending_acks_per_channel
    if pending is not None and pending < 1:
        raise HecConfigError(f"max_pending_acks_per_channel: must be at least 1, got {pending}")


def _validate_token(token: HecToken) -> None:
    where = f"tokens[{token.name!r}]"
    if not token.value or token.value != token.value.strip():
        raise HecConfigError(f"{where}.value: must be non-empty, without surrounding spaces")
    if any(not index for index in token.indexes):
        raise HecConfigError(f"{where}.indexes: an index name cannot be empty")
    if not token.default_index:
        raise HecConfigError(f"{where}.default_index: cannot be empty")
    if not token.allows_index(token.default_index):
        raise HecConfigError(f"{where}.default_index: {token.default_index!r} is not one of "
                             f"the token's indexes ({', '.join(token.indexes)})")
