"""The pure core of the stand-in: a request body in, accepted envelopes (or Splunk's refusal) out.

Splunk is lenient about the shape of a batch and strict about each envelope:
- a batch is envelopes concatenated, with or without whitespace between them (not an array);
- Content-Type is ignored;
- envelopes are parsed in order and the first bad one stops the batch: the ones before it are
  accepted all the same, and the answer names the bad one (``invalid-event-number``).
No I/O here: the handlers read and decode the body, then call these functions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from auditstream.server.hec.codes import (
    EVENT_BLANK,
    EVENT_REQUIRED,
    INCORRECT_INDEX,
    INDEXED_FIELDS,
    INVALID_DATA_FORMAT,
    NO_DATA,
)
from auditstream.server.hec.config import HecToken
from auditstream.server.hec.errors import HecRefusal

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_METADATA_STRINGS = ("host", "source", "sourcetype", "index")
_RAW_METADATA = ("host", "source", "sourcetype")


def _refuse_constant(name: str) -> Any:
    # Python's json takes NaN and Infinity; Splunk's parser does not.
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One accepted envelope: its exact text, its decoded value, and the index it goes to.

    ``raw_metadata`` is set for ``/raw`` lines only: their value is that metadata plus the
    line as ``event``, not the text decoded (see ``decode_envelope``).
    """

    text: str
    value: dict[str, Any]
    index: str
    raw_metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """What a batch came to: the envelopes accepted, then the refusal that stopped it, if any."""

    envelopes: tuple[Envelope, ...]
    refusal: HecRefusal | None = None


@dataclass(frozen=True, slots=True)
class ForcedFailure:
    """A scripted bad envelope: the one at ``position`` fails with ``code`` whatever it holds."""

    position: int
    code: int


def parse_event_body(body: bytes, token: HecToken, *, max_event_bytes: int,
                     forced: ForcedFailure | None = None) -> ParsedBatch:
    """Split and validate concatenated envelopes; raise ``HecRefusal`` (code 5) for no data."""
    text, complete = _decode_utf8(body)
    if complete and not text.strip():
        raise HecRefusal(NO_DATA)
    accepted: list[Envelope] = []
    position = _skip_whitespace(text, 0)
    while position < len(text):
        number = len(accepted)
        try:
            value, piece = _next_value(text, position)
        except (ValueError, RecursionError):  # nesting deeper than the parser goes: bad data
            return ParsedBatch(tuple(accepted), _bad(INVALID_DATA_FORMAT, number))
        end = position + len(piece)
        code = envelope_code(value, token)
        if code is None and _too_big(piece, max_event_bytes):
            code = INVALID_DATA_FORMAT
        if forced is not None and forced.position == number:
            code = forced.code
        if code is not None:
            return ParsedBatch(tuple(accepted), _bad(code, number))
        accepted.append(Envelope(piece, value, effective_index(value, token)))
        position = _skip_whitespace(text, end)
    if not complete:
        # The bytes after the last whole envelope are not UTF-8: that envelope is the bad one.
        return ParsedBatch(tuple(accepted), _bad(INVALID_DATA_FORMAT, len(accepted)))
    return ParsedBatch(tuple(accepted))


def _next_value(text: str, position: int) -> tuple[Any, str]:
    """The JSON value at ``position`` and its text. Clients put one envelope per line:
    orjson reads such a line whole, several times faster than ``json``; anything else (two on
    a line, one over several lines, integers past 64 bits, lone surrogates) goes to ``json``,
    which decides as before."""
    newline = text.find("\n", position)
    piece = text[position:len(text) if newline < 0 else newline].rstrip(" \t\r")
    try:
        return orjson.loads(piece), piece
    except orjson.JSONDecodeError:
        value, end = _DECODER.raw_decode(text, position)
        return value, text[position:end]


def decode_envelope(text: str, raw_metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An accepted envelope's value again, from what is kept of it: ``text`` decoded as
    ``parse_event_body`` decoded it (orjson, else ``json``), or for a ``/raw`` line its
    metadata plus the line. Lets the stand-in keep text, not millions of dicts."""
    if raw_metadata is not None:
        return {**raw_metadata, "event": text}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = _DECODER.decode(text)
    if not isinstance(value, dict):
        raise ValueError("not an accepted envelope: not a JSON object")
    return value


def envelope_code(value: Any, token: HecToken) -> int | None:
    """Splunk's code for what is wrong with one decoded envelope, or None when it is fine."""
    if not isinstance(value, dict):
        return INVALID_DATA_FORMAT
    if "event" not in value:
        return EVENT_REQUIRED
    event = value["event"]
    if event is None or (isinstance(event, str) and not event.strip()):
        return EVENT_BLANK
    # A null piece of metadata counts as absent; any other non-string is malformed. (A loop,
    # not any() over a generator: this runs for every envelope, and the generator was 40% of
    # this function's time.)
    for key in _METADATA_STRINGS:
        metadata = value.get(key)
        if metadata is not None and not isinstance(metadata, str):
            return INVALID_DATA_FORMAT
    if value.get("time") is not None and not valid_time(value["time"]):
        return INVALID_DATA_FORMAT
    fields = value.get("fields")
    if fields is not None:
        if not isinstance(fields, dict):
            return INVALID_DATA_FORMAT  # not even the object Splunk decodes it into
        if not flat_fields(fields):
            return INDEXED_FIELDS
    index = value.get("index")
    if index is not None and (not index or not token.allows_index(index)):
        return INCORRECT_INDEX
    return None


def effective_index(value: Mapping[str, Any], token: HecToken) -> str:
    index = value.get("index")
    return index if isinstance(index, str) and index else token.default_index


def valid_time(value: Any) -> bool:
    """Epoch seconds, as a number or a numeric string (Splunk takes both)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def flat_fields(fields: Mapping[str, Any]) -> bool:
    """Splunk refuses only nested indexed fields: a value that is an object, or a list holding
    an object or a list. Strings, numbers, booleans and lists of them are taken (as the
    OpenTelemetry Collector's HEC receiver, isFlatJSONField, also rules; clients such as
    Splunk's own libraries send the event's numbers there)."""
    for field in fields.values():  # a loop for the same reason as in envelope_code
        if isinstance(field, dict):
            return False
        if isinstance(field, list):
            for item in field:
                if isinstance(item, dict | list):
                    return False
    return True


def parse_raw_body(body: bytes, params: Mapping[str, str], token: HecToken, *,
                   max_event_bytes: int) -> tuple[Envelope, ...]:
    """A ``/raw`` body as one envelope per non-blank line, metadata from the query string.

    Splunk breaks raw data into events by the sourcetype's rules; its default for
    unstructured text is a line each, which is what a test can count on.
    """
    text = body.decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise HecRefusal(NO_DATA)
    metadata: dict[str, Any] = {key: params[key] for key in _RAW_METADATA if key in params}
    index = params.get("index")
    if index is not None:
        if not index or not token.allows_index(index):
            raise HecRefusal(INCORRECT_INDEX)
        metadata["index"] = index
    if "time" in params:
        if not valid_time(params["time"]):
            raise HecRefusal(INVALID_DATA_FORMAT)
        metadata["time"] = params["time"]
    if any(_too_big(line, max_event_bytes) for line in lines):
        raise HecRefusal(INVALID_DATA_FORMAT)
    resolved = index or token.default_index
    return tuple(Envelope(line, {**metadata, "event": line}, resolved, metadata)
                 for line in lines)


def _decode_utf8(body: bytes) -> tuple[str, bool]:
    """The body as text, or its longest valid prefix and False when it is not UTF-8."""
    try:
        return body.decode("utf-8"), True
    except UnicodeDecodeError as exc:
        return body[:exc.start].decode("utf-8"), False


def _skip_whitespace(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _too_big(piece: str, limit: int) -> bool:
    # Characters are at most four bytes each: only encode when the count alone cannot tell.
    return len(piece) > limit or (len(piece) * 4 > limit and len(piece.encode()) > limit)


def _bad(code: int, number: int) -> HecRefusal:
    return HecRefusal(code, invalid_event_number=number)
