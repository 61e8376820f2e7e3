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
from auditstream.relay.batch import (
    DEFAULT_BATCH_MAX_BYTES,
    DEFAULT_BATCH_MAX_EVENTS,
    DEFAULT_BATCH_MAX_WAIT_SECONDS,
)
from auditstream.relay.config import (
    DEFAULT_ACK,
    DEFAULT_ACK_POLL_SECONDS,
    DEFAULT_ACK_TIMEOUT_SECONDS,
    DEFAULT_GZIP,
    DEFAULT_MAX_PENDING_ACKS,
    DEFAULT_MAX_REQUESTS_IN_FLIGHT,
    DEFAULT_POLL_SECONDS,
    DEFAULT_TLS_VERIFY,
    AckSettings,
    BatchSettings,
    FileSinkConfig,
    HecSinkConfig,
    RelayConfig,
    RetrySettings,
    SinkConfig,
)
from auditstream.relay.decision import (
    DEFAULT_BACKOFF_BASE_SECONDS,
    DEFAULT_BACKOFF_CAP_SECONDS,
    DEFAULT_PAUSE_RETRY_SECONDS,
)
from auditstream.relay.envelope import (
    DEFAULT_CIM_FIELDS,
    DEFAULT_FORMAT,
    DEFAULT_OCSF_SOURCETYPE,
    DEFAULT_RAW_DATA,
    DEFAULT_SOURCETYPE,
    EnvelopeSettings,
    IndexRoute,
)
from auditstream.relay.formats import FORMATS, OCSF
from auditstream.relay.sinks.hec import DEFAULT_GZIP_LEVEL, DEFAULT_TIMEOUT_SECONDS

HEC, FILE = "hec", "file"
SINK_TYPES = (HEC, FILE)
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
    retry = RetrySettings(
        backoff_base_seconds=relay.number("backoff_base_seconds", DEFAULT_BACKOFF_BASE_SECONDS),
        backoff_cap_seconds=relay.number("backoff_cap_seconds", DEFAULT_BACKOFF_CAP_SECONDS),
        pause_retry_seconds=relay.number("pause_retry_seconds", DEFAULT_PAUSE_RETRY_SECONDS))
    ack = AckSettings(
        poll_seconds=relay.number("ack_poll_seconds", DEFAULT_ACK_POLL_SECONDS),
        timeout_seconds=relay.number("ack_timeout_seconds", DEFAULT_ACK_TIMEOUT_SECONDS),
        max_pending=relay.whole_number("max_pending_acks", DEFAULT_MAX_PENDING_ACKS))
    poll_seconds = relay.number("poll_seconds", DEFAULT_POLL_SECONDS)
    in_flight = relay.whole_number("max_requests_in_flight", DEFAULT_MAX_REQUESTS_IN_FLIGHT)
    if not sinks:
        return None
    parsed = tuple(_sink(section, base) for section in sinks)
    names = [sink.name for sink in parsed]
    for name in names:
        if names.count(name) > 1:
            raise sinks[0].error("name", f"sink name {name!r} is used twice")
    return RelayConfig(sinks=parsed, retry=retry, ack=ack, poll_seconds=poll_seconds,
                       max_requests_in_flight=in_flight)


def _sink(section: Section, base: Path) -> SinkConfig:
    kind = section.choice("type", HEC, SINK_TYPES)
    if kind == FILE:
        section.only(*_FILE_KEYS)
        envelope = _envelope(section, bare_ocsf=True)
        if envelope.bare and envelope.cim_fields:
            raise section.error("cim_fields", 'a file sink with format = "ocsf" writes bare '
                                              "OCSF events: there are no indexed fields")
        return FileSinkConfig(name=section.string("name"), path=base / section.string("path"),
                              envelope=envelope, batch=_batch(section))
    section.only(*_HEC_KEYS)
    tokens = section.secrets("token_env", "token_file", fewest=1, most=1, what="a HEC sink")
    url = section.string("url")
    check_hec_url(url, section.where("url"))
    ca_file = section.optional_string("ca_file")
    return HecSinkConfig(
        name=section.string("name"), url=url, token=tokens[0],
        gzip=section.boolean("gzip", DEFAULT_GZIP),
        gzip_level=section.whole_number("gzip_level", DEFAULT_GZIP_LEVEL, minimum=0, maximum=9),
        ack=section.boolean("ack", DEFAULT_ACK),
        timeout_seconds=section.number("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
        ca_file=base / ca_file if ca_file else None,
        tls_verify=section.boolean("tls_verify", DEFAULT_TLS_VERIFY),
        envelope=_envelope(section), batch=_batch(section))


def check_hec_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: expected an http(s) URL such as "
                          f"https://splunk.example.com:8088, got {url!r}")


def _envelope(section: Section, bare_ocsf: bool = False) -> EnvelopeSettings:
    """``bare_ocsf``: the sink writes OCSF events without an envelope (the file sink)."""
    fmt = section.choice("format", DEFAULT_FORMAT, tuple(FORMATS))
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
                            raw_data=section.boolean("raw_data", DEFAULT_RAW_DATA),
                            cim_fields=section.boolean("cim_fields", DEFAULT_CIM_FIELDS),
                            bare=bare_ocsf and fmt == OCSF)


def default_sourcetype(fmt: str) -> str:
    """OCSF events get a sourcetype of their own, so searches never mix the two shapes."""
    return DEFAULT_OCSF_SOURCETYPE if fmt == OCSF else DEFAULT_SOURCETYPE


def _batch(section: Section) -> BatchSettings:
    return BatchSettings(
        max_events=section.whole_number("batch_max_events", DEFAULT_BATCH_MAX_EVENTS),
        max_bytes=section.whole_number("batch_max_bytes", DEFAULT_BATCH_MAX_BYTES),
        max_wait_seconds=section.number("batch_max_wait_seconds",
                                        DEFAULT_BATCH_MAX_WAIT_SECONDS))
