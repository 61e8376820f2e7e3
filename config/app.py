"""The config file (TOML): read once at start-up, validated whole, errors name key and file.

    [receiver]
    listen = "127.0.0.1:8080"
    max_body_bytes = 1048576
    tls_cert = "receiver.crt"               # optional: serve HTTPS (TLS 1.2+); with tls_key
    tls_key = "receiver.key"                # (relative to this file's folder)
    allow_networks = ["34.74.90.64/28"]     # optional: only these clients may send events
    trusted_proxies = ["10.0.0.5/32"]       # optional: believe X-Forwarded-For from these
    token_drift_refusals = 3                # unknown-token 401s on a destination's path ...
    token_drift_interval = "5m"             # ... within this long: token drift (logged)

    [[receiver.destinations]]
    name = "acme"
    instance = "gitlab.example.com"        # dedup scope; default "default"
    token_env = "ACME_STREAM_TOKEN"         # or token_file; a list of two while rotating
    path = "/acme"                          # optional: bind this destination to a URL path
    gitlab_url = "https://gitlab.example.com"  # for reconcile (backfill): which GitLab,
    group = "acme"                          # what it streams (or project = PATH, or
                                            # instance_events = true), and as whom:
    gitlab_token_env = "GITLAB_TOKEN"       # or gitlab_token_file; read only by reconcile
    expect_event_within = "2h"              # optional: quiet longer and it is reported silent

    [journal]
    path = "auditstream.db"                 # relative to this file's folder
    max_size_bytes = 1_000_000_000         # optional (SQLite): past it, 503 until retention
    dedup_window_days = 30
    retention_days = 7
    # or, shared by receivers and relays on several machines:
    # backend = "redis"
    # url = "redis://redis.internal:6379/0"   # rediss:// for TLS; no password here
    # password_env = "REDIS_PASSWORD"         # or password_file
    # wait_replicas = 1                       # 200 only once a replica has the event

    [canary]                                # optional: see config.canary

Secrets are never inline: tokens come from the environment or from files.
"""

from __future__ import annotations

import enum
import os
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditstream.client.audit_events import AuditScope
from auditstream.config.canary import CanaryConfig, canary_from
from auditstream.config.errors import ConfigError
from auditstream.config.relay import relay_from
from auditstream.config.section import (
    UNREAD_SECRET,
    Section,
    secret_from_env,
    secret_from_file,
)
from auditstream.journal import JournalConfig
from auditstream.journal.config import (
    DEFAULT_BACKEND,
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    DEFAULT_CLAIM_IDLE_SECONDS,
    DEFAULT_DEDUP_WINDOW_SECONDS,
    DEFAULT_JOURNAL_PATH,
    DEFAULT_PURGE_INTERVAL_SECONDS,
    DEFAULT_REDIS_KEY_PREFIX,
    DEFAULT_RETENTION_SECONDS,
    DEFAULT_WAIT_REPLICAS,
    DEFAULT_WAIT_TIMEOUT_SECONDS,
    MIN_JOURNAL_SIZE_BYTES,
    RedisSettings,
)
from auditstream.journal.open import BACKENDS
from auditstream.receiver.config import (
    DEFAULT_BODY_TIMEOUT_SECONDS,
    DEFAULT_CONTENT_HASH_DEDUP,
    DEFAULT_DRIFT_INTERVAL_SECONDS,
    DEFAULT_DRIFT_REFUSALS,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    DEFAULT_INSTANCE,
    DEFAULT_LISTEN,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    DEFAULT_RETRY_AFTER_SECONDS,
    DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
    MAX_TOKENS_PER_DESTINATION,
    DestinationConfig,
    ReceiverConfig,
)
from auditstream.receiver.network import Network, parse_networks
from auditstream.receiver.tls import server_context
from auditstream.reconcile.config import ReconcileSettings
from auditstream.reconcile.schedule import (
    DEFAULT_EVERY_SECONDS,
    DEFAULT_OVERLAP_SECONDS,
    Schedule,
)
from auditstream.relay.config import RelayConfig

__all__ = ["AppConfig", "load_config", "load_journal_config", "load_outline",
           "load_reconcile_config", "parse_listen", "parse_receiver_listen", "secret_from_env",
           "secret_from_file"]

DAY = 24 * 3600.0
# What 'destinations check' compares with GitLab (read by it, not by the receiver).
CHECKED_KEYS = ("event_type_filters", "namespace_filter", "headers")


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The whole file. ``receiver`` is None without destinations, ``relay`` without sinks:
    each command says which parts it needs."""

    receiver: ReceiverConfig | None
    journal: JournalConfig
    relay: RelayConfig | None = None
    reconcile: tuple[ReconcileSettings, ...] = ()
    canary: CanaryConfig | None = None  # read with the receiver's part


class Parts(enum.Flag):
    """The parts a command runs: only their secrets are read. The rest of the file is still
    checked for form, so a mistake there is found whichever command reads it."""

    RECEIVER = enum.auto()
    RELAY = enum.auto()
    ALL = RECEIVER | RELAY


def load_config(path: Path, environ: Mapping[str, str] | None = None, *,
                parts: Parts = Parts.ALL) -> AppConfig:
    """Read and validate the whole file, or raise ``ConfigError`` naming the key.

    A part not in ``parts`` is None in the result: its keys are checked, but its secrets
    (``*_env``, ``*_file``) are not read, so a receiver needs no HEC token and a relay no
    GitLab token."""
    environ = os.environ if environ is None else environ
    document = _read_toml(path)
    section = Section(document, "", path, environ)
    section.only("receiver", "journal", "relay", "sinks", "canary")
    receiver = _receiver(section.table("receiver", Parts.RECEIVER in parts)) \
        if "receiver" in document else None
    relay = relay_from(section.table("relay"), section.tables("sinks", Parts.RELAY in parts),
                       path.parent)
    canary = canary_from(section.table("canary", Parts.RECEIVER in parts)) \
        if "canary" in document else None
    return AppConfig(
        receiver=receiver if Parts.RECEIVER in parts else None,
        reconcile=tuple(_reconcile(item)
                        for item in section.table("receiver").tables("destinations")),
        journal=journal_from(section.table("journal"), path.parent),
        relay=relay if Parts.RELAY in parts else None,
        canary=canary if Parts.RECEIVER in parts else None,
    )


def load_outline(path: Path, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Every part as the file describes it, with no secret read (for commands that only look
    at what runs: ``status``). Checked as ``load_config`` checks it."""
    environ = os.environ if environ is None else environ
    document = _read_toml(path)
    section = Section(document, "", path, environ)
    section.only("receiver", "journal", "relay", "sinks", "canary")
    receiver = _receiver(section.table("receiver", False)) if "receiver" in document else None
    relay = relay_from(section.table("relay"), section.tables("sinks", False), path.parent)
    if "canary" in document:
        canary_from(section.table("canary", False))  # checked; not part of the outline
    return AppConfig(receiver=receiver, journal=journal_from(section.table("journal"),
                                                             path.parent), relay=relay)


def load_journal_config(path: Path, environ: Mapping[str, str] | None = None) -> JournalConfig:
    """Only the file's [journal] (for commands that need nothing else: ``journal stats``)."""
    section = Section(_read_toml(path), "", path, os.environ if environ is None else environ)
    return journal_from(section.table("journal"), path.parent)


def load_reconcile_config(path: Path, environ: Mapping[str, str] | None = None,
                          ) -> tuple[JournalConfig, tuple[ReconcileSettings, ...]]:
    """The file's [journal] and its destinations' reconcile keys, for ``backfill``: the
    stream's and the sinks' secrets are not read (backfill needs none of them)."""
    section = Section(_read_toml(path), "", path, os.environ if environ is None else environ)
    receiver = section.table("receiver")
    return (journal_from(section.table("journal"), path.parent),
            tuple(_reconcile(item) for item in receiver.tables("destinations")))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def journal_from(section: Section, base: Path) -> JournalConfig:
    section.only("backend", "path", "dedup_window_days", "retention_days",
                 "busy_timeout_seconds", "purge_interval_seconds", "max_size_bytes",
                 *_REDIS_KEYS)
    backend = section.choice("backend", DEFAULT_BACKEND, tuple(BACKENDS))
    redis = _redis(section) if backend == "redis" else None
    if redis is None:
        _no_redis_keys(section)
    if redis is not None and "max_size_bytes" in section.data:
        raise section.error("max_size_bytes", "only for an SQLite journal "
                                              "(Redis has maxmemory)")
    max_size = section.optional_whole_number("max_size_bytes", MIN_JOURNAL_SIZE_BYTES)
    return JournalConfig(
        redis=redis,
        path=base / section.string("path", str(DEFAULT_JOURNAL_PATH)),
        backend=backend,
        dedup_window_seconds=section.number("dedup_window_days",
                                            DEFAULT_DEDUP_WINDOW_SECONDS / DAY) * DAY,
        retention_seconds=section.number("retention_days", DEFAULT_RETENTION_SECONDS / DAY) * DAY,
        busy_timeout_seconds=section.number("busy_timeout_seconds", DEFAULT_BUSY_TIMEOUT_SECONDS),
        purge_interval_seconds=section.number("purge_interval_seconds",
                                              DEFAULT_PURGE_INTERVAL_SECONDS),
        max_size_bytes=max_size,
    )


_REDIS_KEYS = ("url", "password_env", "password_file", "key_prefix", "wait_replicas",
               "wait_timeout_seconds", "claim_idle_seconds")


def _redis(section: Section) -> RedisSettings:
    url = section.string("url")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise section.error("url", f"expected redis://HOST:PORT/DB (or rediss://, unix://), "
                                   f"got {url!r}")
    user_info = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    if ":" in user_info:
        raise section.error("url", "put no password in the URL (a user name is fine): use "
                                   "password_env or password_file")
    passwords = section.secrets("password_env", "password_file", fewest=0, most=1,
                                what="a Redis journal")
    prefix = section.string("key_prefix", DEFAULT_REDIS_KEY_PREFIX)
    if any(c in prefix for c in "{}"):
        raise section.error("key_prefix", "must not contain { or } (it becomes the hash tag)")
    return RedisSettings(
        url=url, password=passwords[0] if passwords else None, key_prefix=prefix,
        wait_replicas=section.whole_number("wait_replicas", DEFAULT_WAIT_REPLICAS, minimum=0),
        wait_timeout_seconds=section.number("wait_timeout_seconds",
                                            DEFAULT_WAIT_TIMEOUT_SECONDS),
        claim_idle_seconds=section.positive_number("claim_idle_seconds",
                                                   DEFAULT_CLAIM_IDLE_SECONDS))


def _no_redis_keys(section: Section) -> None:
    for key in _REDIS_KEYS:
        if key in section.data:
            raise section.error(key, 'only for backend = "redis"')


def _receiver(section: Section) -> ReceiverConfig:
    section.only("listen", "max_body_bytes", "retry_after_seconds", "body_timeout_seconds",
                 "idle_timeout_seconds", "shutdown_timeout_seconds", "destinations",
                 "tls_cert", "tls_key", "allow_networks", "trusted_proxies", "max_connections",
                 "max_connections_per_client", "token_drift_refusals",
                 "token_drift_interval")
    host, port, listen_fd = parse_receiver_listen(section.string("listen", DEFAULT_LISTEN),
                                                  section.where("listen"))
    tls_cert, tls_key = _tls(section)
    destination_names(section)
    destinations = tuple(_destination(item) for item in section.tables("destinations"))
    if not destinations:
        raise section.error("destinations", "[receiver] needs at least one "
                                            "[[receiver.destinations]]")
    _check_unique(section, destinations)
    return ReceiverConfig(
        destinations=destinations, host=host, port=port, listen_fd=listen_fd,
        max_body_bytes=section.whole_number("max_body_bytes", DEFAULT_MAX_BODY_BYTES),
        retry_after_seconds=section.whole_number("retry_after_seconds",
                                                 DEFAULT_RETRY_AFTER_SECONDS, minimum=0),
        body_timeout_seconds=section.positive_number("body_timeout_seconds",
                                                     DEFAULT_BODY_TIMEOUT_SECONDS),
        idle_timeout_seconds=section.positive_number("idle_timeout_seconds",
                                                     DEFAULT_IDLE_TIMEOUT_SECONDS),
        shutdown_timeout_seconds=section.number("shutdown_timeout_seconds",
                                                DEFAULT_SHUTDOWN_TIMEOUT_SECONDS),
        tls_cert=tls_cert, tls_key=tls_key,
        allow_networks=_networks(section, "allow_networks"),
        trusted_proxies=_networks(section, "trusted_proxies"),
        max_connections=section.optional_whole_number("max_connections"),
        max_connections_per_client=section.whole_number("max_connections_per_client",
                                                        DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
        token_drift_refusals=section.whole_number("token_drift_refusals",
                                                  DEFAULT_DRIFT_REFUSALS),
        token_drift_interval_seconds=section.duration("token_drift_interval",
                                                      DEFAULT_DRIFT_INTERVAL_SECONDS),
        config_path=str(section.path),
    )


def _tls(section: Section) -> tuple[Path | None, Path | None]:
    cert, key = section.optional_string("tls_cert"), section.optional_string("tls_key")
    if cert is None and key is None:
        return None, None
    if cert is None or key is None:
        missing = "tls_cert" if cert is None else "tls_key"
        raise section.error(missing, "tls_cert and tls_key go together: give both or neither")
    cert_path, key_path = section.path.parent / cert, section.path.parent / key
    try:
        server_context(cert_path, key_path)  # refuse now what would fail at start-up
    except (OSError, ssl.SSLError) as exc:
        raise section.error("tls_cert", f"cannot load {cert_path} with key {key_path}: "
                                        f"{getattr(exc, 'strerror', None) or exc}") from exc
    return cert_path, key_path


def _networks(section: Section, key: str) -> tuple[Network, ...]:
    value = section.strings(key, example='["34.74.90.64/28"]')
    try:
        return parse_networks(value)
    except ValueError as exc:
        raise section.error(key, str(exc)) from exc


def _destination(section: Section) -> DestinationConfig:
    # gitlab_*: written by 'destinations create --write-config' and 'sync' to find their own.
    section.only("name", "instance", "token_env", "token_file", "path", "content_hash_dedup",
                 "gitlab_destination_id", "gitlab_scope", "expect_event_within",
                 *CHECKED_KEYS, *_RECONCILE_KEYS)
    tokens = section.secrets("token_env", "token_file", fewest=1,
                             most=MAX_TOKENS_PER_DESTINATION, what="a destination")
    path = section.optional_string("path")
    if path is not None and not path.startswith("/"):
        raise section.error("path", f"must start with '/', got {path!r}")
    return DestinationConfig(
        name=section.string("name"), tokens=tuple(tokens),
        instance=section.string("instance", DEFAULT_INSTANCE), path=path,
        content_hash_dedup=section.boolean("content_hash_dedup", DEFAULT_CONTENT_HASH_DEDUP),
        gitlab_id=section.optional_string("gitlab_destination_id"),
        expect_event_within_seconds=section.optional_duration("expect_event_within"),
        gitlab_scope=section.optional_string("gitlab_scope"))


_RECONCILE_KEYS = ("gitlab_url", "group", "project", "instance_events", "gitlab_token_env",
                   "gitlab_token_file", "reconcile_every_minutes", "reconcile_overlap_minutes")


def _reconcile(section: Section) -> ReconcileSettings:
    """A destination's reconcile keys; the token is read only when reconcile runs."""
    url = section.optional_string("gitlab_url")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise section.error("gitlab_url", f"expected an http(s) URL such as "
                                              f"https://gitlab.example.com, got {url!r}")
        url = url.rstrip("/")
    token_env = section.optional_string("gitlab_token_env")
    token_file = section.optional_string("gitlab_token_file")
    if token_env is not None and token_file is not None:
        raise section.error("gitlab_token_env", "give one of gitlab_token_env and "
                                                "gitlab_token_file")
    return ReconcileSettings(
        destination=section.string("name"),
        instance=section.string("instance", DEFAULT_INSTANCE), gitlab_url=url,
        scope=_scope(section), token_env=token_env,
        token_file=None if token_file is None else section.path.parent / token_file,
        destination_id=section.optional_string("gitlab_destination_id"),
        schedule=_schedule(section), where=section.where(""))


def _schedule(section: Section) -> Schedule | None:
    """Continuous reconcile, opted into with ``reconcile_every_minutes``."""
    if "reconcile_every_minutes" not in section.data:
        if "reconcile_overlap_minutes" in section.data:
            raise section.error("reconcile_overlap_minutes", "only with reconcile_every_minutes")
        return None
    return Schedule(
        every_seconds=section.positive_number("reconcile_every_minutes",
                                              DEFAULT_EVERY_SECONDS / 60) * 60,
        overlap_seconds=section.number("reconcile_overlap_minutes",
                                       DEFAULT_OVERLAP_SECONDS / 60) * 60)


def _scope(section: Section) -> AuditScope | None:
    """``group``, ``project`` or ``instance_events``: at most one; else ``gitlab_scope``."""
    group, project = section.optional_string("group"), section.optional_string("project")
    everything = section.boolean("instance_events", False)
    given = [name for name, value in (("group", group), ("project", project),
                                      ("instance_events", everything)) if value]
    if len(given) > 1:
        raise section.error(given[1], f"give one of group, project and instance_events "
                                      f"(got {', '.join(given)})")
    if group is not None:
        return AuditScope("group", group)
    if project is not None:
        return AuditScope("project", project)
    if everything:
        return AuditScope("instance")
    written = section.optional_string("gitlab_scope") or ""
    if written == "instance":
        return AuditScope("instance")
    if written.startswith("group:"):
        return AuditScope("group", written.partition(":")[2])
    return None


def destination_names(receiver: Section) -> list[str]:
    """Each destination's name by the receiver's rules: a non-empty string, used once. The
    CLI checks a config it writes with this too, before saving it."""
    names = [item.string("name") for item in receiver.tables("destinations")]
    for name in names:
        if names.count(name) > 1:
            raise receiver.error("destinations", f"destination name {name!r} is used twice")
    return names


def _check_unique(section: Section, destinations: tuple[DestinationConfig, ...]) -> None:
    tokens = [token for d in destinations for token in d.tokens if token is not UNREAD_SECRET]
    if len(set(tokens)) != len(tokens):
        raise section.error("destinations", "two destinations share a token; each needs its own")


LISTEN_FD_PREFIX = "fd:"


def parse_receiver_listen(value: str, where: str) -> tuple[str, int, int | None]:
    """The receiver's ``listen``: ``HOST:PORT`` as (host, port, None), or ``fd:N`` (a socket
    inherited open as file descriptor N) as ("", 0, N); ``ConfigError`` otherwise."""
    if value.startswith(LISTEN_FD_PREFIX):
        number = value.removeprefix(LISTEN_FD_PREFIX)
        if not number.isdigit() or int(number) > 65535:
            raise ConfigError(f"{where}: expected fd:N with N the number of an inherited "
                              f"socket (systemd passes the first as fd:3), got {value!r}")
        return "", 0, int(number)
    host, port = parse_listen(value, where)
    return host, port, None


def parse_listen(value: str, where: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as a pair, or ``ConfigError``."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{where}: expected HOST:PORT such as 127.0.0.1:8080, got {value!r}")
    return host.strip("[]"), int(port_text)
