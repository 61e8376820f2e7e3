"""What a GitLab audit event says, read leniently: the facts both OCSF and CIM are made of.

GitLab's body has no fixed schema (``details`` least of all): every field may be missing, of an
odd type, or new. Nothing here raises: a value that is not what it should be is simply not
taken, and stays in ``rest`` (the keys no fact used) for the ``unmapped`` part of OCSF.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from auditstream.journal import StoredEvent

_INT64_MIN, _INT64_MAX = -(2**63), 2**64 - 1  # orjson writes signed and unsigned 64-bit ints


@dataclass(frozen=True, slots=True)
class Thing:
    """An entity or target: the GitLab object an event is about (at least a uid or a name)."""

    uid: str | None
    name: str | None
    type: str | None


@dataclass(frozen=True, slots=True)
class Author:
    uid: str | None
    name: str | None
    email: str | None
    kind: str | None  # details.author_class: User, DeployKey, DeployToken, ...


@dataclass(frozen=True, slots=True)
class Facts:
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


def facts_of(event: StoredEvent, body: Mapping[str, Any]) -> Facts:
    raw_details = body.get("details")
    details: Mapping[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    used: set[str] = {"id", "event_type", "details"}
    used_details: set[str] = set()

    def pick(key: str, accept: Any) -> Any:
        """The body's value, else details' value, when ``accept`` takes it (details' copy of
        a value taken from the body is taken with it)."""
        value = accept(body.get(key))
        if value is not None:
            used.add(key)
            if key in details and accept(details.get(key)) == value:
                used_details.add(key)
            return value
        value = accept(details.get(key))
        if value is not None:
            used_details.add(key)
        return value

    author = _author(pick)
    entity = _thing(pick("entity_id", _uid), pick("entity_path", _text),
                    pick("entity_type", _text))
    target = _thing(pick("target_id", _uid), pick("target_details", _text),
                    pick("target_type", _text))
    ip = pick("ip_address", _ip)
    message = _text(details.get("custom_message"))
    if message is not None:
        used_details.add("custom_message")
    if event.created_at is not None:
        used.add("created_at")
    change = (_text(details.get("change")), _text(details.get("from")),
              _text(details.get("to")) or _text(details.get("as")))
    rest = {key: value for key, value in body.items() if key not in used}
    other_details = {k: v for k, v in details.items() if k not in used_details}
    if other_details:
        rest["details"] = other_details
    elif raw_details is not None and not isinstance(raw_details, dict):
        rest["details"] = raw_details  # details of an unexpected shape: kept as they came
    event_type = event.event_type or _text(body.get("event_type"))
    return Facts(event_type=event_type, author=author, ip=ip, entity=entity, target=target,
                 message=message, change=change, rest=rest)


def _author(pick: Any) -> Author | None:
    uid, name = pick("author_id", _uid), pick("author_name", _text)
    email, kind = pick("author_email", _email), pick("author_class", _text)
    if uid is None and name is None:
        return None
    return Author(uid=uid, name=name, email=email, kind=kind)


def _thing(uid: str | None, name: str | None, kind: str | None) -> Thing | None:
    if uid is None and name is None:
        return None
    return Thing(uid=uid, name=name, type=kind)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _uid(value: Any) -> str | None:
    """An id as a string: GitLab sends integers, newer docs strings, stream-only events UUIDs."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _ip(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _email(value: Any) -> str | None:
    text = _text(value)
    if text is None or "@" not in text or any(c.isspace() for c in text):
        return None
    return text
