"""GitLab's REST audit event entity as the event GitLab would have streamed. No I/O here.

GitLab streams ``audit_event.as_json`` (the audit_events row: every column at the top level)
plus ``event_type``. The REST entity (``API::Entities::AuditEvent``) exposes only ``id``,
``author_id``, ``entity_id``, ``entity_type``, ``details``, ``created_at`` (and ``event_name``
since 16.x); the row's other columns are copies of keys in ``details``. The mapping, field by
field (streamed <- REST):

    id               <- id                     (the dedup key: the same number on both paths)
    author_id        <- author_id
    author_name      <- details.author_name
    entity_id        <- entity_id
    entity_type      <- entity_type
    entity_path      <- details.entity_path
    details          <- details                (unchanged, every key kept)
    ip_address       <- details.ip_address
    target_id        <- details.target_id
    target_type      <- details.target_type
    target_details   <- details.target_details
    created_at       <- created_at             (unchanged: GitLab writes the same ISO 8601)
    event_type       <- event_name, else details.event_name

A field whose source is absent is left out, never invented (older GitLab has no event_name:
such an event has no type). The REST entity itself is kept whole under ``rest_entity`` (the
key is ours, not GitLab's), so the SIEM holds exactly what GitLab's API said.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from auditstream.journal import BACKFILL, IncomingEvent

REST_KEY = "rest_entity"
_TOP_LEVEL = ("id", "author_id", "entity_id", "entity_type")
_FROM_DETAILS = ("author_name", "entity_path", "ip_address", "target_id", "target_type",
                 "target_details")


def streamed_shape(item: dict[str, Any]) -> dict[str, Any]:
    """The streamed body GitLab would have sent for the REST ``item``, with the item kept."""
    details = item.get("details") if isinstance(item.get("details"), dict) else None
    event: dict[str, Any] = {name: item[name] for name in _TOP_LEVEL if name in item}
    if details is not None:
        for name in ("author_name", "entity_path"):
            if name in details:
                event[name] = details[name]
        event["details"] = details
        for name in _FROM_DETAILS[2:]:
            if name in details:
                event[name] = details[name]
    elif "details" in item:
        event["details"] = item["details"]
    if "created_at" in item:
        event["created_at"] = item["created_at"]
    event_type = event_type_of(item)
    if event_type is not None:
        event["event_type"] = event_type
    event[REST_KEY] = item
    return event


def event_type_of(item: dict[str, Any]) -> str | None:
    """``event_name`` (16.x+), else ``details.event_name``; None when GitLab gives neither."""
    for value in (item.get("event_name"),
                  (item.get("details") or {}).get("event_name")
                  if isinstance(item.get("details"), dict) else None):
        if isinstance(value, str) and value:
            return value
    return None


def entity_path_of(item: dict[str, Any]) -> str | None:
    details = item.get("details")
    path = details.get("entity_path") if isinstance(details, dict) else None
    return path if isinstance(path, str) and path else None


def incoming(item: dict[str, Any], *, instance: str, destination: str,
             received_at: float) -> IncomingEvent:
    """The journal's event for a REST item: the receiver's dedup key ``id:<id>``."""
    event = streamed_shape(item)
    event_id = str(item["id"])
    entity_type = item.get("entity_type")
    return IncomingEvent(
        instance=instance, event_id=event_id, dedup_keys=("id:" + event_id,),
        destination=destination, received_at=received_at, body=orjson.dumps(event),
        event_type=event.get("event_type"), created_at=epoch_seconds(item.get("created_at")),
        entity_type=entity_type if isinstance(entity_type, str) else None,
        entity_path=entity_path_of(item), origin=BACKFILL)


def epoch_seconds(created_at: object) -> float | None:
    if not isinstance(created_at, str):
        return None
    try:
        parsed = datetime.fromisoformat(created_at)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None
