"""Hostile input to the HEC stand-in: Splunk's refusal with a code, never a 500 or a crash.

The stand-in is the judge in every relay test, so its parsing must hold up to anything: a
500 from it would read as "Splunk is down" and hide a relay bug behind a retry.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditstream.server.hec import HecToken
from auditstream.server.hec.acks import parse_ack_body
from auditstream.server.hec.auth import authenticate
from auditstream.server.hec.body import decode_content
from auditstream.server.hec.envelopes import parse_event_body, parse_raw_body
from auditstream.server.hec.errors import HecRefusal
from tests.server.hec.conftest import EVENT, PLAIN, HecClient

TOKENS = (HecToken("good-token-0123", name="good", indexes=("main",)),
          HecToken("acked-token-4567", name="acked", ack=True))
MAX_EVENT_BYTES = 2048

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["event", "time", "host", "index", "fields", "source",
                                       "sourcetype", "x"]), children, max_size=5),
    max_leaves=15)


def nested(depth: int) -> bytes:
    return b'{"event": ' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def batches(draw: st.DrawFn) -> bytes:
    """Envelopes, good and bad, concatenated as a client would (or nearly)."""
    pieces = [json.dumps(draw(json_values), allow_nan=True).encode()
              for _ in range(draw(st.integers(1, 5)))]
    joined = draw(st.sampled_from([b"", b"\n", b" \r\n\t"])).join(pieces)
    return draw(st.sampled_from([joined, joined + b"\xff", joined[:-1],
                                 joined + nested(draw(st.integers(1, 50_000)))]))


def check_event_body(body: bytes) -> None:
    try:
        batch = parse_event_body(body, TOKENS[0], max_event_bytes=MAX_EVENT_BYTES)
    except HecRefusal as refusal:
        status = refusal.status
        assert 400 <= status < 500
        return
    for envelope in batch.envelopes:
        assert "event" in envelope.value
        assert len(envelope.text.encode()) <= MAX_EVENT_BYTES
    if batch.refusal is not None:
        assert batch.refusal.status == 400
        assert batch.refusal.invalid_event_number == len(batch.envelopes)


@given(st.binary(max_size=1024))
@settings(max_examples=300)
def test_arbitrary_event_bodies_are_accepted_or_refused_with_a_code(body: bytes) -> None:
    check_event_body(body)


@given(batches())
@settings(max_examples=300)
@example(nested(100_000))
@example(b'{"event": 1}' + nested(100_000))
def test_mixed_batches_accept_a_prefix_then_name_the_bad_envelope(body: bytes) -> None:
    check_event_body(body)


def test_deep_nesting_is_invalid_data_format_not_an_internal_error() -> None:
    # Found by the property above: the decoder's RecursionError escaped as a 500 code 8.
    batch = parse_event_body(b'{"event": 1}\n' + nested(100_000), TOKENS[0],
                             max_event_bytes=10**7)
    assert len(batch.envelopes) == 1
    assert batch.refusal is not None
    assert (batch.refusal.code, batch.refusal.invalid_event_number) == (6, 1)


@given(st.binary(max_size=512), st.sampled_from(["", "gzip", "x-gzip", "identity", "br",
                                                   " GZIP ", "gzip, gzip"]))
@settings(max_examples=200)
def test_arbitrary_content_is_decoded_or_refused(wire: bytes, encoding: str) -> None:
    try:
        decode_content(wire, encoding)
    except HecRefusal as refusal:
        status = refusal.status
        assert status in (400, 413)


@given(st.binary(max_size=512))
@settings(max_examples=200)
@example(b'{"acks": ' + b"[" * 50_000 + b"}")
def test_arbitrary_ack_bodies_are_read_or_refused(body: bytes) -> None:
    try:
        ids = parse_ack_body(body)
    except HecRefusal as refusal:
        status = refusal.status
        assert status == 400
        return
    assert all(isinstance(i, int) and i >= 0 for i in ids)


@given(st.none() | st.text(max_size=80), st.none() | st.text(max_size=40))
@settings(max_examples=300)
@example("Splunk good-token-012", None)
@example("Splunk good-token-01234", None)
@example("Basic " + "Z29vZC10b2tlbi0wMTIz", None)
@example("Splunk \udcff", None)
def test_arbitrary_credentials_are_a_token_or_a_refusal(
        authorization: str | None, query: str | None) -> None:
    try:
        token, _form = authenticate(authorization, query, TOKENS)
    except HecRefusal as refusal:
        status = refusal.status
        assert status in (400, 401, 403)
        return
    assert token in TOKENS


@given(st.binary(max_size=512), st.dictionaries(
    st.sampled_from(["host", "source", "sourcetype", "index", "time", "x"]),
    st.text(max_size=12), max_size=4))
@settings(max_examples=200)
def test_arbitrary_raw_bodies_are_accepted_or_refused(body: bytes,
                                                     params: dict[str, str]) -> None:
    try:
        envelopes = parse_raw_body(body, params, TOKENS[0], max_event_bytes=MAX_EVENT_BYTES)
    except HecRefusal as refusal:
        status = refusal.status
        assert status == 400
        return
    assert envelopes


@pytest.mark.parametrize("body", [
    nested(100_000),
    b'{"event": 1}' + nested(100_000),
    b"\xef\xbb\xbf" + orjson.dumps({"event": 1}),
    b'{"event": NaN}',
    b"\x00" * 100,
])
async def test_hostile_bodies_over_http_get_400_never_500(client: HecClient,
                                                          body: bytes) -> None:
    # gzip: the stand-in's max_content_length counts the bytes on the wire
    reply = await client.post(EVENT, body, token=PLAIN, gzipped=True)
    assert reply.status == 400, reply
    assert reply.code == 6


async def test_absurd_headers_over_http_get_an_answer_never_500(client: HecClient) -> None:
    odd = [{"Authorization": "Splunk " + "x" * 4000}, {"Authorization": "Basic !!!"},
           {"Content-Encoding": "gzip"}, {"Content-Encoding": "zstd"},
           {"X-Splunk-Request-Channel": "not-a-guid" * 100}]
    for headers in odd:
        try:
            reply = await client.post(EVENT, b'{"event": 1}', token=PLAIN, headers=headers)
        except aiohttp.ClientResponseError as exc:  # aiohttp's own refusal of the request
            status = exc.status
            assert 400 <= status < 500
            continue
        assert 200 <= reply.status < 500, (headers, reply)
