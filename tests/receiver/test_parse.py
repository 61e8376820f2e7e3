"""The receiver's pure core: bodies in, validated events with their exact bytes out."""

from __future__ import annotations

import gzip
import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditstream.receiver.body import gunzip_capped
from auditstream.receiver.errors import BadRequest, PayloadTooLarge
from auditstream.receiver.parse import content_hash, epoch_seconds, parse_body, split_json_array

GITLAB_EVENT = (b'{"id":42,"author_id":1,"entity_id":6,"entity_type":"Project",'
                b'"entity_path":"acme/app","details":{"custom_message":{"protocol":"web",'
                b'"action":"git-receive-pack"}},"created_at":"2022-02-23T06:21:05.283Z",'
                b'"event_type":"repository_git_operation"}')


def test_single_object_keeps_its_exact_bytes_and_metadata() -> None:
    [event] = parse_body(GITLAB_EVENT, "repository_git_operation")
    assert event.body == GITLAB_EVENT
    assert (event.event_id, event.event_type) == ("42", "repository_git_operation")
    assert event.created_at == pytest.approx(1645597265.283)
    assert (event.entity_type, event.entity_path) == ("Project", "acme/app")


def test_uuid_string_id_is_kept_as_given() -> None:
    [event] = parse_body(b'{"id":"3f0e-uuid"}', None)
    assert event.event_id == "3f0e-uuid"


def test_event_type_comes_from_the_header_else_the_body() -> None:
    assert parse_body(b'{"id":1,"event_type":"b"}', "h")[0].event_type == "h"
    assert parse_body(b'{"id":1,"event_type":"b"}', None)[0].event_type == "b"
    assert parse_body(b'{"id":1}', None)[0].event_type is None


def test_json_array_elements_keep_their_exact_bytes() -> None:
    body = b'[ {"id":1, "s":"a,]}\\"{"} ,\n{"id":"2","n":[1,{"x":[]}]}]'
    events = parse_body(body, "ignored-for-batches")
    assert [e.body for e in events] == [b'{"id":1, "s":"a,]}\\"{"}',
                                        b'{"id":"2","n":[1,{"x":[]}]}']
    assert [e.event_type for e in events] == [None, None]


def test_ndjson_lines_are_separate_events() -> None:
    events = parse_body(b'{"id":1}\n\n{"id":2}\r\n', None)
    assert [(e.event_id, e.body) for e in events] == [("1", b'{"id":1}'), ("2", b'{"id":2}')]


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty body"),
    (b"  \n", "empty body"),
    (b'{"id": 1', "malformed JSON"),
    (b"[]", "empty JSON array"),
    (b'"just a string"', "expected a JSON object, got a string"),
    (b'{"author_id": 1}', "missing id"),
    (b'{"id": null}', "id must be an integer or a string, got null"),
    (b'{"id": true}', "id must be an integer or a string, got a boolean"),
    (b'{"id": 1.5}', "id must be an integer or a string, got a number"),
    (b'{"id": ""}', "id is empty"),
    (b'[{"id": 1}, 5]', "event 1: expected a JSON object"),
    (b'{"id":1}\n{"id":', "malformed JSON on line 2"),
])
def test_bad_bodies_are_refused_naming_the_problem(body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse_body(body, None)


def test_form_encoded_looking_body_is_not_form_decoded() -> None:
    # GitLab labels JSON as form-urlencoded; a real form body is not an event.
    with pytest.raises(BadRequest, match="malformed JSON"):
        parse_body(b"id=1&event_type=x", None)


def test_numbers_beyond_64_bits_do_not_refuse_an_event() -> None:
    body = b'{"id": 1, "target_id": 123456789012345678901234567890}'
    [event] = parse_body(body, None, with_content_hash=True)
    assert event.body == body
    assert event.content_hash is not None


def test_content_hash_ignores_id_and_key_order() -> None:
    a = {"id": "u1", "event_type": "t", "created_at": "x", "details": {"a": 1, "b": 2}}
    b = {"details": {"b": 2, "a": 1}, "created_at": "x", "event_type": "t", "id": "u2"}
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash({**a, "created_at": "y"})


def test_created_at_without_a_zone_is_not_guessed() -> None:
    assert epoch_seconds("2022-02-23T06:21:05.283Z") == pytest.approx(1645597265.283)
    assert epoch_seconds("2022-02-23T06:21:05") is None
    assert epoch_seconds("yesterday") is None
    assert epoch_seconds(12) is None


def test_gzip_within_the_limit_is_inflated() -> None:
    assert gunzip_capped(gzip.compress(GITLAB_EVENT), 10_000) == GITLAB_EVENT


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    with pytest.raises(PayloadTooLarge, match="inflates past"):
        gunzip_capped(bomb, 1024 * 1024)


@pytest.mark.parametrize("data", [b"not gzip at all", gzip.compress(b'{"id":1}')[:-6]])
def test_broken_gzip_is_a_bad_request(data: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid gzip"):
        gunzip_capped(data, 10_000)


_json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@given(st.lists(_json_values, min_size=1, max_size=6), st.booleans())
def test_array_split_recovers_every_element(values: list[Any], pretty: bool) -> None:
    body = (json.dumps(values, indent=2).encode() if pretty else orjson.dumps(values))
    pieces = split_json_array(body)
    assert [orjson.loads(p) for p in pieces] == [orjson.loads(orjson.dumps(v)) for v in values]
