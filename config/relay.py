"""The relay's part of the config file: ``[relay]`` and ``[[sinks]]``.

    [relay]
    backoff_cap_seconds = 30
    ack_poll_seconds = 10
    max_requests_in_flight = 2                  # per sink; 1 keeps batches in journal order

    [[sinks]]
    name = "splunk"
    type = "hec"                               # or "file"
    url = "https://splunk.example.com:8088"     # a base URL; a URL with a path is used as given
    token_env = "SPLUNK_HEC_TOKEN"              # or token_file
    index = "gitlab"
    ack = true
    format = "ocsf"                             # or "raw" (the default): GitLab's event as sent
    raw_data = true                             # ocsf: keep the original event in raw_data
    cim_fields = true                           # add Splunk CIM fields as indexed fields
    [[sinks.index_routes]]
    event_type = "repository_git_operation"
    index = "gitlab_git"
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from auditstream.config.errors import ConfigError
from auditstream.config.section import Section
from auditstream.relay.config import (
    DEFAULT_MAX_REQUESTS_IN_FLIGHT,
    AckSettings,
    BatchSettings,
    FileSinkConfig,
    HecSinkConfig,
    RelayConfig,
    RetrySettings,
    SinkConfig,
)
from auditstream.relay.envelope import (
    DEFAULT_OCSF_SOURCETYPE,
    DEFAULT_SOURCETYPE,
    EnvelopeSettings,
    IndexRoute,
)
from auditstream.relay.formats import FORMATS, OCSF
from auditstream.relay.sinks.hec import DEFAULT_GZIP_LEVEL, DEFAULT_TIMEOUT_SECONDS

_ENVELOPE_KEYS = ("host", "source", "sourcetype", "index", "index_routes", "format", "raw_data",
                  "cim_fields")
_BATCH_KEYS = ("batch_max_events", "batch_max_bytes", "batch_max_wait_seconds")
_HEC_KEYS = ("name", "type", "url", "token_env", "token_file", "gzip", "gzip_level", "ack",
             "timeout_seconds", "ca_file", "tls_verify", *_ENVELOPE_KEYS, *_BATCH_KEYS)
_FILE_KEYS = ("name", "type", "path", *_ENVELOPE_KEYS, *_BATCH_KEYS)


def relay_from(relay: Section, sinks: list[Section], base: Path) -> RelayConfig | None:
    """The relay's config, or None when the file names no sink."""
    relay.only("backoff_base_seconds", "backoff_cap_seconds", "pause_retry_seconds",
               "ack_poll_seconds", "ack_timeout_seconds", "max_pending_acks", "poll_seconds",
               "max_requests_in_flight")
    # [relay] is checked whether or not there are sinks: a mistake there is one either way.
    retry, ack = RetrySettings(), AckSettings()
    retry = RetrySettings(
        backoff_base_seconds=relay.number("backoff_base_seconds", retry.backoff_base_seconds),
        backoff_cap_seconds=relay.number("backoff_cap_seconds", retry.backoff_cap_seconds),
        pause_retry_seconds=relay.number("pause_retry_seconds", retry.pause_retry_seconds))
    ack = AckSettings(
        poll_seconds=relay.number("ack_poll_seconds", ack.poll_seconds),
        timeout_seconds=relay.number("ack_timeout_seconds", ack.timeout_seconds),
        max_pending=max(1, int(relay.number("max_pending_acks", ack.max_pending))))
    poll_seconds = relay.number("poll_seconds", RelayConfig(sinks=()).poll_seconds)
    in_flight = _at_least_one(relay, "max_requests_in_flight", DEFAULT_MAX_REQUESTS_IN_FLIGHT)
    if not sinks:
        return None
    parsed = tuple(_sink(section, base) for section in sinks)
    names = [sink.name for sink in parsed]
    for name in names:
        if names.count(name) > 1:
            raise sinks[0].error("name", f"sink name {name!r} is used twice")
    return RelayConfig(sinks=parsed, retry=retry, ack=ack, poll_seconds=poll_seconds,
                       max_requests_in_flight=in_flight)


def _at_least_one(section: Section, key: str, default: int) -> int:
    value = section.data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise section.error(key, f"must be a whole number of at least 1, got {value!r}")
    return value


def _sink(section: Section, base: Path) -> SinkConfig:
    kind = section.string("type", "hec")
    if kind == "file":
        section.only(*_FILE_KEYS)
        envelope = _envelope(section, bare_ocsf=True)
        if envelope.bare and envelope.cim_fields:
            raise section.error("cim_fields", 'a file sink with format = "ocsf" writes bare '
                                              "OCSF events: there are no indexed fields")
        return FileSinkConfig(name=section.string("name"), path=base / section.string("path"),
                              envelope=envelope, batch=_batch(section))
    if kind != "hec":
        raise section.error("type", f"unknown sink type {kind!r} (known: hec, file)")
    section.only(*_HEC_KEYS)
    tokens = [*section.secrets_from_env("token_env"), *section.secrets_from_file("token_file")]
    if len(tokens) != 1:
        raise section.error("token_env", "a HEC sink needs exactly one of token_env or "
                                         "token_file")
    url = section.string("url")
    check_hec_url(url, section.where("url"))
    ca_file = section.optional_string("ca_file")
    return HecSinkConfig(
        name=section.string("name"), url=url, token=tokens[0],
        gzip=section.boolean("gzip", True),
        gzip_level=int(section.number("gzip_level", DEFAULT_GZIP_LEVEL)),
        ack=section.boolean("ack", False),
        timeout_seconds=section.number("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
        ca_file=base / ca_file if ca_file else None,
        tls_verify=section.boolean("tls_verify", True),
        envelope=_envelope(section), batch=_batch(section))


def check_hec_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: expected an http(s) URL such as "
                          f"https://splunk.example.com:8088, got {url!r}")


def sink_format(value: str, where: str) -> str:
    if value not in FORMATS:
        raise ConfigError(f"{where}: unknown format {value!r} (known: {', '.join(FORMATS)})")
    return value


def _envelope(section: Section, bare_ocsf: bool = False) -> EnvelopeSettings:
    """``bare_ocsf``: the sink writes OCSF events without an envelope (the file sink)."""
    fmt = sink_format(section.string("format", "raw"), section.where("format"))
    routes = []
    for route in section.tables("index_routes"):
        route.only("index", "event_type", "entity_path_prefix")
        routes.append(IndexRoute(index=route.string("index"),
                                 event_type=route.optional_string("event_type"),
                                 entity_path_prefix=route.optional_string("entity_path_prefix")))
    return EnvelopeSettings(host=section.optional_string("host"),
                            source=section.optional_string("source"),
                            sourcetype=section.string("sourcetype", default_sourcetype(fmt)),
                            index=section.optional_string("index"),
                            index_routes=tuple(routes), format=fmt,
                            raw_data=section.boolean("raw_data", True),
                            cim_fields=section.boolean("cim_fields", False),
                            bare=bare_ocsf and fmt == OCSF)


def default_sourcetype(fmt: str) -> str:
    """OCSF events get a sourcetype of their own, so searches never mix the two shapes."""
    return DEFAULT_OCSF_SOURCETYPE if fmt == OCSF else DEFAULT_SOURCETYPE


def _batch(section: Section) -> BatchSettings:
    default = BatchSettings()
    return BatchSettings(
        max_events=max(1, int(section.number("batch_max_events", default.max_events))),
        max_bytes=max(1, int(section.number("batch_max_bytes", default.max_bytes))),
        max_wait_seconds=section.number("batch_max_wait_seconds", default.max_wait_seconds))
