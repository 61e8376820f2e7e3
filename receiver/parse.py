"""The pure core of the receiver: a request body in, validated events out. No I/O here.

GitLab sends one JSON object per request (with a form-urlencoded Content-Type, which we ignore);
its batched mode sends a JSON array of objects or newline-delimited JSON. Each event keeps its
exact bytes: for an array we cut the elements out of the body instead of re-serialising them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from auditstream.receiver.errors import BadRequest

# The fields that make a stream-only event what it is, for the optional content-hash key:
# GitLab re-sends such events with a fresh random UUID, so the id cannot catch those repeats.
CONTENT_HASH_FIELDS = (
    "event_type", "created_at", "entity_id", "entity_type", "entity_path", "author_id",
    "target_id", "target_type", "target_details", "details",
)


class ParsedEvent(NamedTuple):
    """One event of a request: its exact bytes and what we read from them (immutable; a
    NamedTuple because one is built per event, at a quarter of a frozen dataclass's cost)."""

    body: bytes
    event_id: str
    event_type: str | None
    created_at: float | None
    entity_type: str | None
    entity_path: str | None
    content_hash: str | None


def parse_body(body: bytes, header_event_type: str | None,
               *, with_content_hash: bool = False) -> list[ParsedEvent]:
    """Split and validate a request body; raise ``BadRequest`` naming the first problem.

    All or nothing: one bad event refuses the whole request, so nothing of it is stored.
    """
    pieces = split_events(body)
    single = len(pieces) == 1
    events = []
    for position, (raw, value) in enumerate(pieces):
        where = "" if single else f"event {position}: "
        event = _event(raw, value, header_event_type if single else None, where,
                       with_content_hash)
        events.append(event)
    return events


def split_events(body: bytes) -> list[tuple[bytes, Any]]:
    """The events of a body as (exact bytes, decoded value) pairs."""
    if not body or body.isspace():  # not strip(): that copies every body
        raise BadRequest("empty body: expected a JSON object with an id")
    try:
        whole = _loads(body)
    except ValueError as exc:
        return _split_ndjson(body, exc)
    if isinstance(whole, list):
        if not whole:
            raise BadRequest("empty JSON array: expected at least one event")
        raws = split_json_array(body)
        return list(zip(raws, whole, strict=True))
    return [(body, whole)]


def split_json_array(body: bytes) -> list[bytes]:
    """The exact bytes of each element of a body known to be a valid JSON array."""
    elements: list[bytes] = []
    depth = 0
    start = -1
    pos = 0
    for match in _STRUCTURE.finditer(body):
        if match.start() < pos:  # inside a string we already skipped
            continue
        char = match.group()
        pos = match.end()
        if char == b'"':
            pos = _string_end(body, pos)
        elif char in b"[{":
            depth += 1
            if depth == 1:
                start = pos
        elif char in b"]}":
            if depth == 1:
                elements.append(body[start:match.start()].strip())
            depth -= 1
        elif depth == 1:  # a comma between elements
            elements.append(body[start:match.start()].strip())
            start = pos
    return elements


def content_hash(value: dict[str, Any]) -> str:
    """A stable hash of what makes an event what it is (not its id, not key order)."""
    subset = {name: value.get(name) for name in CONTENT_HASH_FIELDS}
    try:
        canonical = orjson.dumps(subset, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # integers beyond 64 bits: the standard encoder takes them
        canonical = json.dumps(subset, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def epoch_seconds(created_at: object) -> float | None:
    """``2022-02-23T06:21:05.283Z`` as epoch seconds, or None when absent or unreadable."""
    if not isinstance(created_at, str):
        return None
    try:
        parsed = datetime.fromisoformat(created_at)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a time without a zone is no instant; the relay uses the received time
    return parsed.timestamp()


_STRUCTURE = re.compile(rb'["\[\]{},]')
_STRING_END = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)


def _string_end(body: bytes, pos: int) -> int:
    match = _STRING_END.match(body, pos)
    if match is None:  # cannot happen for a body the JSON parser accepted
        raise BadRequest("malformed JSON: unterminated string")
    return match.end()


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses numbers it cannot hold as a double (1e400); the standard parser takes
        # them, so an event with a huge number is still an event. It must be held to JSON as
        # strictly as orjson, though: the body is spliced into the sink's envelope as it is,
        # so NaN, Infinity, a byte order mark or UTF-16 accepted here would be a 200 that no
        # SIEM ever indexes. Hence UTF-8 decoded by us (json.loads on bytes guesses UTF-16
        # and skips a BOM) and no JavaScript constants.
        try:
            return _STRICT_JSON.decode(data.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise ValueError(str(exc)) from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def _split_ndjson(body: bytes, whole_error: ValueError) -> list[tuple[bytes, Any]]:
    lines = [line.strip() for line in body.split(b"\n")]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise BadRequest(f"malformed JSON: {whole_error}")
    pieces = []
    for number, line in enumerate(lines):
        try:
            pieces.append((line, _loads(line)))
        except ValueError as exc:
            raise BadRequest(f"malformed JSON on line {number + 1}: {exc}") from exc
    return pieces


def _event(raw: bytes, value: Any, header_type: str | None, where: str,
           with_content_hash: bool) -> ParsedEvent:
    if not isinstance(value, dict):
        raise BadRequest(f"{where}expected a JSON object, got {_json_type(value)}")
    event_id = _event_id(value, where)
    body_type = value.get("event_type")
    event_type = header_type or (body_type if isinstance(body_type, str) and body_type else None)
    entity_type = value.get("entity_type")
    entity_path = value.get("entity_path")
    # Positional, in ParsedEvent's field order (body, event_id, event_type, created_at,
    # entity_type, entity_path, content_hash): one is built per event on the hot path.
    return ParsedEvent(
        raw, event_id, event_type, epoch_seconds(value.get("created_at")),
        entity_type if isinstance(entity_type, str) else None,
        entity_path if isinstance(entity_path, str) else None,
        content_hash(value) if with_content_hash else None)


def _event_id(value: dict[str, Any], where: str) -> str:
    if "id" not in value:
        raise BadRequest(f"{where}missing id: every audit event carries an id")
    event_id = value["id"]
    if type(event_id) is int:  # GitLab's usual id: no blank or bool to rule out
        text = str(event_id)
        if len(text) <= MAX_ID_LENGTH:
            return text
    if isinstance(event_id, bool) or not isinstance(event_id, int | str):
        raise BadRequest(f"{where}id must be an integer or a string, got {_json_type(event_id)}")
    text = str(event_id)
    if not text.strip():
        raise BadRequest(f"{where}id is empty")
    if len(text) > MAX_ID_LENGTH:
        raise BadRequest(f"{where}id is longer than {MAX_ID_LENGTH} characters")
    return text


MAX_ID_LENGTH = 200


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
