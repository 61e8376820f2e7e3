"""Hostile bodies against the receiver's pure core: a 400 with a reason, or events a SIEM takes.

The oracle for "a correct 200" is the far end: every event ``parse_body`` accepts must make a
HEC envelope that the HEC stand-in (strict as Splunk) accepts, holding the same id. An event
we accept but no sink can index would be a 200 for an event that is lost all the same.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditstream.journal import StoredEvent
from auditstream.receiver.body import gunzip_capped
from auditstream.receiver.errors import BadRequest, PayloadTooLarge
from auditstream.receiver.parse import ParsedEvent, parse_body
from auditstream.relay.envelope import EnvelopeSettings, encode
from auditstream.server.hec.config import HecToken
from auditstream.server.hec.envelopes import parse_event_body

LIMIT = 64 * 1024
_TOKEN = HecToken("property-test-token")

_leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text()
           | st.integers(min_value=2**64, max_value=10**300))
json_values: st.SearchStrategy[Any] = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25)
ids = st.integers(-(2**63), 2**64) | st.text(max_size=30) | json_values


@st.composite
def event_like(draw: st.DrawFn) -> bytes:
    """A JSON object that looks like an event (or nearly), written in odd but legal ways, then
    maybe damaged: what a buggy proxy, a fuzzer or an attacker sends."""
    fields = draw(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
    if draw(st.booleans()):
        fields["id"] = draw(ids)
    text = json.dumps(fields, allow_nan=True, ensure_ascii=draw(st.booleans()),
                      indent=draw(st.none() | st.integers(0, 3)))
    if draw(st.booleans()) and text.startswith("{") and len(text) > 2:
        # a duplicate key, in front (the last one wins in every parser we know)
        text = '{"id": ' + json.dumps(draw(ids), allow_nan=True) + ", " + text[1:]
    data = text.encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from([
        lambda d: d,
        lambda d: b"\xef\xbb\xbf" + d,                      # a UTF-8 byte order mark
        lambda d: d.decode("utf-8", "replace").encode("utf-16"),
        lambda d: d.replace(b'"', b'"\xff', 1),              # invalid UTF-8 in a string
        lambda d: d.replace(b"null", b"NaN", 1),
        lambda d: d + b"\n" + d,                            # NDJSON, both the same event
        lambda d: b"[" + d + b"," + d + b"]",
        lambda d: d[: len(d) // 2],                          # cut short
    ]))
    damaged: bytes = damage(data)
    return damaged


def deep(depth: int, opener: bytes, closer: bytes) -> bytes:
    return b'{"id": 1, "x": ' + opener * depth + closer * depth + b"}"


def check(body: bytes) -> list[ParsedEvent]:
    """parse_body's answer must be a BadRequest with a reason, or deliverable events."""
    try:
        events = parse_body(body, None, with_content_hash=True)
    except BadRequest as refusal:
        reason = refusal.reason
        assert reason.strip()
        return []
    assert events
    for number, event in enumerate(events):
        assert_deliverable(event, number)
    return events


def assert_deliverable(event: ParsedEvent, seq: int) -> None:
    stored = StoredEvent(seq=seq + 1, instance="default", event_id=event.event_id,
                         destination="default", received_at=1.0, body=event.body,
                         event_type=event.event_type, created_at=event.created_at,
                         entity_type=event.entity_type, entity_path=event.entity_path)
    envelope = encode(stored, EnvelopeSettings(index="main"))
    batch = parse_event_body(envelope.data, _TOKEN, max_event_bytes=10 * LIMIT)
    assert batch.refusal is None, (event.body, batch.refusal)
    [accepted] = batch.envelopes
    sent = accepted.value["event"]
    assert isinstance(sent, dict)
    assert str(sent["id"]) == event.event_id  # dedup and SIEM agree on which event it is
    assert accepted.value["fields"]["event_id"] == event.event_id


@given(st.binary(max_size=2048))
@settings(max_examples=300)
def test_arbitrary_bytes_are_refused_with_a_reason_or_deliverable(body: bytes) -> None:
    check(body)


@given(event_like())
@settings(max_examples=400)
@example(b'{"id": 1, "x": NaN}')
@example(b'{"id": 1, "x": -Infinity}')
@example(b'\xef\xbb\xbf{"id": 1}')
@example('{"id": 1}'.encode("utf-16"))
@example('{"id": 1}'.encode("utf-16-le"))
@example(b'{"id": 1, "x": 1e400}')
@example(b'{"id": 1, "id": 2}')
@example(b'{"id": 12345678901234567890123}')
@example(b'{"id": 1, "n": ' + b"9" * 5000 + b"}")
def test_odd_and_damaged_events_are_refused_or_deliverable(body: bytes) -> None:
    check(body)


def test_nan_infinity_bom_and_utf16_are_refused_not_stored() -> None:
    # Found by the property above: the standard-library fallback (for numbers orjson cannot
    # hold) took them, so the receiver answered 200 for events no HEC sink accepts.
    for body in (b'{"id": 1, "x": NaN}', b'{"id": 1, "x": Infinity}',
                 b'\xef\xbb\xbf{"id": 1}', '{"id": 1}'.encode("utf-16"),
                 b'{"id": 1}\n{"id": 2, "x": -Infinity}'):
        assert check(body) == [], body


def test_duplicate_keys_dedup_on_the_id_the_siem_will_see() -> None:
    [event] = check(b'{"id": 1, "event_type": "a", "id": 2}')
    assert event.event_id == "2"


@given(st.integers(1, 200_000), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
@settings(max_examples=40)
@example(100_000, (b"[", b"]"))
@example(1023, (b"[", b"]"))
def test_deep_nesting_is_refused_or_deliverable_never_a_crash(
        depth: int, brackets: tuple[bytes, bytes]) -> None:
    check(deep(depth, *brackets))


@given(st.binary(max_size=4096))
@settings(max_examples=200)
def test_arbitrary_gzip_input_is_inflated_within_the_limit_or_refused(data: bytes) -> None:
    for candidate in (data, gzip.compress(data), gzip.compress(data)[:-3]):
        try:
            decoded = gunzip_capped(candidate, LIMIT)
        except (BadRequest, PayloadTooLarge) as refusal:
            reason = refusal.reason
            assert reason.strip()
        else:
            assert len(decoded) <= LIMIT


@given(st.integers(LIMIT + 1, 64 * 1024 * 1024), st.booleans())
@settings(max_examples=15, deadline=None)
def test_gzip_bombs_are_refused_without_inflating_them(size: int, nested: bool) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(compressor.compress(b"\0" * 1024 * 1024) for _ in range(size // 2**20))
    bomb += compressor.compress(b"\0" * (size % 2**20)) + compressor.flush()
    if nested:
        bomb = gzip.compress(bomb)  # inflates once to a smaller bomb: still not JSON
    try:
        decoded = gunzip_capped(bomb, LIMIT)
    except PayloadTooLarge:
        return
    assert nested
    assert len(decoded) <= LIMIT
    check(decoded)


def test_integer_ids_beyond_64_bits_are_refused_naming_the_id() -> None:
    # orjson reads them as doubles: a 400 that says so beats an id rounded into another's.
    with pytest.raises(BadRequest, match="id must be an integer or a string"):
        parse_body(b'{"id": 12345678901234567890123}', None)
    [event] = parse_body(b'{"id": 18446744073709551615}', None)
    assert event.event_id == str(2**64 - 1)
