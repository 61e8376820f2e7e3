"""What a GitLab audit event says, read leniently: the facts both OCSF and CIM are made of.

GitLab's body has no fixed schema (``details`` least of all): every field may be missing, of an
odd type, or new. Nothing here raises: a value that is not what it should be is simply not
taken, and stays in ``rest`` (the keys no fact used) for the ``unmapped`` part of OCSF.
"""

from __future__ import annotations

import json
import math
import re
import socket
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from auditstream.journal import StoredEvent

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**64 - 1  # orjson writes signed and unsigned 64-bit ints


# NamedTuples, not frozen dataclasses, as journal.model.StoredEvent: made for every event the
# relay formats, where a frozen dataclass's __init__ cost three times as much.
class Thing(NamedTuple):
    """An entity or target: the GitLab object an event is about (at least a uid or a name)."""

    uid: str | None
    name: str | None
    type: str | None


class Author(NamedTuple):
    uid: str | None
    name: str | None
    email: str | None
    kind: str | None  # details.author_class: User, DeployKey, DeployToken, ...


class Facts(NamedTuple):
    event_type: str | None
    author: Author | None
    ip: str | None
    entity: Thing | None
    target: Thing | None
    message: str | None  # details.custom_message when it is text
    change: tuple[str | None, str | None, str | None]  # details change/from/to (or as)
    rest: dict[str, Any]  # what no fact took: the body's other keys, details' other keys


def read_body(body: bytes) -> dict[str, Any]:
    """The event as a dict; {} when it is not a JSON object (it is still kept as raw_data).

    orjson refuses a number it cannot hold as a double (1e400), which the receiver takes (see
    ``receiver.parse``); such a body is read again by the standard parser, keeping numbers that
    fit neither a 64-bit integer nor a finite double as their text, so that what is read can
    always be written back out by orjson.
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(body.decode("utf-8", "replace"), parse_int=_int_or_text,
                               parse_float=_float_or_text)
        except (ValueError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


def _int_or_text(text: str) -> int | str:
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else text


def _float_or_text(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def facts_for(event: StoredEvent) -> Facts:
    """The facts of a stored event (its body read once: OCSF and CIM share them)."""
    return facts_of(event, read_body(event.body))


def facts_of(event: StoredEvent, body: Mapping[str, Any]) -> Facts:
    raw_details = body.get("details")
    details: Mapping[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    # One pass over the body, then one over details (a key the body already gave, with the same
    # value, is details' copy of it): a quarter of the time of asking for each key in turn.
    values: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    kind_of, kept_aside = _KINDS.get, _KEPT_ASIDE
    for key, raw in body.items():
        kind = kind_of(key)
        if kind is not None and kind != _DETAILS_TEXT:
            # Texts inline (most fields): a call per field cost a third of the whole.
            value = ((raw if type(raw) is str and raw and not raw.isspace() else None)
                     if kind == _TEXT else _ACCEPT[kind](raw))
            if value is not None:
                values[key] = value
                continue
        if key not in kept_aside:
            rest[key] = raw
    other_details: dict[str, Any] = {}
    for key, raw in details.items():
        if key in values:
            if body.get(key) != raw:
                other_details[key] = raw
            continue
        kind = kind_of(key)
        value = None
        if kind is not None:
            value = ((raw if type(raw) is str and raw and not raw.isspace() else None)
                     if kind in (_TEXT, _DETAILS_TEXT) else _ACCEPT[kind](raw))
        if value is not None:
            values[key] = value
        if value is None or key in _READ_AND_KEPT:
            other_details[key] = raw
    if other_details:
        rest["details"] = other_details
    elif raw_details is not None and not isinstance(raw_details, dict):
        rest["details"] = raw_details  # details of an unexpected shape: kept as they came
    if event.created_at is None and "created_at" in body:
        rest["created_at"] = body["created_at"]  # the receiver could not read it as a time
    get = values.get
    author = None
    if get("author_id") is not None or get("author_name") is not None:
        author = Author(uid=get("author_id"), name=get("author_name"),
                        email=get("author_email"), kind=get("author_class"))
    # The journal's type (the stream's header, or what reconcile read), else the body's: a
    # streamed event_type, or the REST API's event_name.
    event_type = (event.event_type or _text(body.get("event_type"))
                  or _text(body.get("event_name")))
    return Facts(
        event_type=event_type, author=author, ip=get("ip_address"),
        entity=_thing(get("entity_id"), get("entity_path"), get("entity_type")),
        target=_thing(get("target_id"), get("target_details"), get("target_type")),
        message=get("custom_message"),
        change=(get("change"), get("from"), get("to") or get("as")), rest=rest)


def _thing(uid: str | None, name: str | None, kind: str | None) -> Thing | None:
    if uid is None and name is None:
        return None
    return Thing(uid=uid, name=name, type=kind)


def _text(value: Any) -> str | None:
    return value if type(value) is str and value and not value.isspace() else None


def _uid(value: Any) -> str | None:
    """An id as a string: GitLab sends integers, newer docs strings, stream-only events UUIDs."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _ip(value: Any) -> str | None:
    """An IPv4 or IPv6 address as GitLab wrote it, if it is one. ``inet_pton`` (C) rather than
    ``ipaddress`` (10 us an address, a fifth of the OCSF mapping with every address new)."""
    if type(value) is not str:
        return None
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, value)
        except (OSError, ValueError):
            continue
        return value
    return None


def _email(value: Any) -> str | None:
    if isinstance(value, str) and _EMAIL.fullmatch(value):
        return value
    return None


# How each known field is read: text inline, the others by their function.
_TEXT, _DETAILS_TEXT, _UID, _IP, _EMAIL_ADDR = range(5)
_ACCEPT: dict[int, Any] = {_UID: _uid, _IP: _ip, _EMAIL_ADDR: _email}
_KINDS: dict[str, int] = {
    "author_id": _UID, "author_name": _TEXT, "author_email": _EMAIL_ADDR, "author_class": _TEXT,
    "entity_id": _UID, "entity_path": _TEXT, "entity_type": _TEXT,
    "target_id": _UID, "target_details": _TEXT, "target_type": _TEXT, "ip_address": _IP,
    # Read from details only (in the body they would be new, unknown fields: kept in unmapped).
    "custom_message": _DETAILS_TEXT, "change": _DETAILS_TEXT, "from": _DETAILS_TEXT,
    "to": _DETAILS_TEXT, "as": _DETAILS_TEXT,
}
# Read for privileges and CIM, and kept in unmapped too: OCSF has no general place for them.
_READ_AND_KEPT = frozenset({"change", "from", "to", "as"})
_KEPT_ASIDE = frozenset({"id", "event_type", "event_name", "details", "created_at"})
