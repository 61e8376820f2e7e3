"""The HEC envelope of a journal event: pure, byte-level, the original event unchanged.

``event`` is the body GitLab sent, spliced in as it is (it was validated as JSON when it was
received), so the SIEM sees exactly what GitLab streamed; the rest is built with orjson.
With ``format = "ocsf"`` the event is the OCSF event instead (``relay.formats.ocsf``), and a
sink that writes bare events (the file sink) gets it without an envelope; ``cim_fields`` adds
CIM-named indexed fields (``relay.formats.cim``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import orjson

from auditstream.journal import StoredEvent
from auditstream.relay.formats import OCSF, RAW
from auditstream.relay.formats.cim import cim_fields
from auditstream.relay.formats.facts import Facts, facts_for
from auditstream.relay.formats.ocsf import encode_ocsf

DEFAULT_SOURCETYPE = "gitlab:audit"
DEFAULT_OCSF_SOURCETYPE = "gitlab:audit:ocsf"
DEFAULT_FORMAT = RAW
DEFAULT_RAW_DATA = True
DEFAULT_CIM_FIELDS = False


@dataclass(frozen=True, slots=True)
class IndexRoute:
    """Send events of ``event_type`` (or under ``entity_path_prefix``) to ``index``."""

    index: str
    event_type: str | None = None
    entity_path_prefix: str | None = None

    def matches(self, event: StoredEvent) -> bool:
        if self.event_type is not None and event.event_type != self.event_type:
            return False
        if self.entity_path_prefix is not None:
            return (event.entity_path or "").startswith(self.entity_path_prefix)
        return True


@dataclass(frozen=True, slots=True)
class EnvelopeSettings:
    """What a sink puts around each event; None means the documented default."""

    host: str | None = None            # default: the event's GitLab instance
    source: str | None = None          # default: gitlab:<destination>
    sourcetype: str = DEFAULT_SOURCETYPE
    index: str | None = None           # default: the token's default index
    index_routes: tuple[IndexRoute, ...] = ()
    format: str = DEFAULT_FORMAT       # raw | ocsf (relay.formats)
    raw_data: bool = DEFAULT_RAW_DATA  # ocsf: keep the original event in raw_data
    cim_fields: bool = DEFAULT_CIM_FIELDS  # add CIM-named indexed fields
    bare: bool = False                 # no envelope: one event a line (file sink, ocsf)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One encoded envelope and where it must go (batches never mix indexes)."""

    seq: int
    index: str | None
    data: bytes


def index_for(event: StoredEvent, settings: EnvelopeSettings) -> str | None:
    for route in settings.index_routes:
        if route.matches(event):
            return route.index
    return settings.index


def event_time(event: StoredEvent) -> float:
    """Epoch seconds with millisecond precision: created_at, else the time we received it."""
    when = event.created_at if event.created_at is not None else event.received_at
    return round(when, 3)


def indexed_fields(event: StoredEvent, cim: Facts | None = None) -> dict[str, str]:
    """A few fields Splunk indexes, always as strings (HEC refuses nested values, code 15);
    ``origin`` says how the event came: ``stream`` or ``backfill`` (GitLab's REST API). With
    ``cim`` (the event's facts), the CIM fields too (ours win where a name is in both)."""
    fields = cim_fields(event, cim) if cim is not None else {}
    fields["event_id"] = event.event_id
    fields["origin"] = event.origin
    if event.event_type:
        fields["event_type"] = event.event_type
    if event.entity_type:
        fields["entity_type"] = event.entity_type
    if event.entity_path:
        fields["entity_path"] = event.entity_path
    return fields


def encode(event: StoredEvent, settings: EnvelopeSettings) -> Envelope:
    index = index_for(event, settings)
    facts = facts_for(event) if settings.format == OCSF or settings.cim_fields else None
    if settings.format == OCSF:
        body = encode_ocsf(event, raw_data=settings.raw_data, facts=facts)
        if settings.bare:
            return Envelope(seq=event.seq, index=index, data=body)
    else:
        body = event.body.strip()
    middle = _constant_part(settings.host or event.instance,
                            settings.source or f"gitlab:{event.destination}",
                            settings.sourcetype, index)
    # {"time":..,"host":..,..,"fields":{..},"event":<body>}: the body goes in as received;
    # only time and fields change from event to event, the rest is built once per route.
    fields = indexed_fields(event, facts if settings.cim_fields else None)
    data = b"".join((b'{"time":', orjson.dumps(event_time(event)), middle, orjson.dumps(fields),
                     b',"event":', body, b"}"))
    return Envelope(seq=event.seq, index=index, data=data)


@functools.lru_cache(maxsize=1024)
def _constant_part(host: str, source: str, sourcetype: str, index: str | None) -> bytes:
    """``,"host":..,"source":..,"sourcetype":..[,"index":..],"fields":`` for one route."""
    head = {"host": host, "source": source, "sourcetype": sourcetype}
    if index is not None:
        head["index"] = index
    return b"," + orjson.dumps(head)[1:-1] + b',"fields":'
