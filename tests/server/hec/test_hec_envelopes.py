"""The pure core: splitting and validating envelopes, raw bodies and ack bodies. No sockets."""

from __future__ import annotations

from typing import Any

import pytest

from auditstream.server.hec.acks import AckLedger, parse_ack_body
from auditstream.server.hec.config import HecToken
from auditstream.server.hec.envelopes import (
    ForcedFailure,
    ParsedBatch,
    decode_envelope,
    parse_event_body,
    parse_raw_body,
)
from auditstream.server.hec.errors import HecRefusal

TOKEN = HecToken("t", indexes=("main", "audit"))
ANY_INDEX = HecToken("t", default_index="fallback")
LIMIT = 5 * 1024 * 1024


def parse(body: bytes, token: HecToken = TOKEN, **options: Any) -> ParsedBatch:
    return parse_event_body(body, token, max_event_bytes=options.pop("limit", LIMIT), **options)


def refusal_of(batch: ParsedBatch) -> tuple[int | None, int | None]:
    assert batch.refusal is not None
    return batch.refusal.code, batch.refusal.invalid_event_number


def test_concatenated_envelopes_without_whitespace_are_all_accepted() -> None:
    batch = parse(b'{"event":1}{"event":"two"}{"event":{"id":3}}')
    assert batch.refusal is None
    assert [e.value["event"] for e in batch.envelopes] == [1, "two", {"id": 3}]


def test_concatenated_envelopes_with_whitespace_between_are_all_accepted() -> None:
    batch = parse(b' {"event":1}\n{"event":2}\r\n\t {"event":3}  \n')
    assert batch.refusal is None
    assert len(batch.envelopes) == 3


def test_each_envelope_keeps_its_exact_text() -> None:
    batch = parse(b'{ "event" : "a" }\n{"event":"b","host":"h"}')
    assert [e.text for e in batch.envelopes] == ['{ "event" : "a" }', '{"event":"b","host":"h"}']


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_empty_or_blank_body_is_no_data(body: bytes) -> None:
    with pytest.raises(HecRefusal) as caught:
        parse(body)
    assert (caught.value.code, caught.value.status) == (5, 400)


def test_json_array_of_envelopes_is_invalid_data_format_at_position_zero() -> None:
    batch = parse(b'[{"event":1},{"event":2}]')
    assert refusal_of(batch) == (6, 0)
    assert batch.envelopes == ()


@pytest.mark.parametrize(("second", "code"), [
    (b'{"host":"h"}', 12),
    (b'{"event":""}', 13),
    (b'{"event":"   "}', 13),
    (b'{"event":null}', 13),
    (b'{"event":1,"index":"nope"}', 7),
    (b'{"event":1,"index":""}', 7),
    (b'{"event":1,"fields":{"a":{"b":"c"}}}', 15),
    (b'{"event":1,"fields":{"a":[{"b":"c"}]}}', 15),
    (b'{"event":1,"fields":{"a":[["x"]]}}', 15),
    (b'{"event":1,"fields":["a"]}', 6),
    (b'{"event":1,"fields":"a=b"}', 6),
    (b'{"event":1,"time":"yesterday"}', 6),
    (b'{"event":1,"time":true}', 6),
    (b'{"event":1,"host":42}', 6),
    (b'{"event":1,"sourcetype":{}}', 6),
    (b'{"event":NaN}', 6),
    (b'{"event":1', 6),
    (b'"just a string"', 6),
    (b'garbage', 6),
])
def test_bad_second_envelope_accepts_the_first_and_names_position_one(second: bytes,
                                                                      code: int) -> None:
    batch = parse(b'{"event":"first"}\n' + second + b'\n{"event":"third"}')
    assert refusal_of(batch) == (code, 1)
    assert [e.value["event"] for e in batch.envelopes] == ["first"]


def test_string_and_list_indexed_fields_are_accepted() -> None:
    batch = parse(b'{"event":1,"fields":{"a":"x","b":["y","z"],"c":[]}}')
    assert batch.refusal is None


def test_numbers_and_booleans_in_indexed_fields_are_accepted_as_splunk_does() -> None:
    batch = parse(b'{"event":1,"fields":{"id":5000,"n":1.5,"ok":true,"none":null,'
                  b'"mixed":["x",2,false]}}')
    assert batch.refusal is None
    assert batch.envelopes[0].value["fields"]["id"] == 5000


def test_time_as_number_or_numeric_string_is_accepted() -> None:
    batch = parse(b'{"event":1,"time":1433188255.5}{"event":2,"time":"1433188255.500"}')
    assert batch.refusal is None


def test_null_metadata_counts_as_absent() -> None:
    batch = parse(b'{"event":1,"host":null,"index":null,"fields":null,"time":null}')
    assert batch.refusal is None
    assert batch.envelopes[0].index == "main"


def test_envelope_without_index_goes_to_the_default_index() -> None:
    batch = parse(b'{"event":1}{"event":2,"index":"audit"}')
    assert [e.index for e in batch.envelopes] == ["main", "audit"]


def test_token_without_an_index_list_takes_any_index() -> None:
    batch = parse(b'{"event":1,"index":"whatever"}{"event":2}', ANY_INDEX)
    assert [e.index for e in batch.envelopes] == ["whatever", "fallback"]


def test_invalid_utf8_in_the_third_envelope_accepts_the_first_two() -> None:
    batch = parse(b'{"event":1}{"event":2}{"event":"\xff"}')
    assert refusal_of(batch) == (6, 2)
    assert len(batch.envelopes) == 2


def test_event_over_the_size_limit_is_invalid_data_format() -> None:
    batch = parse(b'{"event":"small"}{"event":"' + b"x" * 100 + b'"}', limit=64)
    assert refusal_of(batch) == (6, 1)


def test_forced_failure_at_position_two_accepts_the_first_two() -> None:
    batch = parse(envelopes_of(5), forced=ForcedFailure(position=2, code=7))
    assert refusal_of(batch) == (7, 2)
    assert len(batch.envelopes) == 2


def test_forced_failure_past_the_end_of_the_batch_changes_nothing() -> None:
    batch = parse(envelopes_of(2), forced=ForcedFailure(position=5, code=6))
    assert batch.refusal is None
    assert len(batch.envelopes) == 2


def envelopes_of(count: int) -> bytes:
    return b"".join(b'{"event":%d}' % i for i in range(count))


def test_raw_body_is_one_envelope_per_line_with_metadata_from_the_query() -> None:
    parsed = parse_raw_body(b"first line\n\nsecond line\r\n", {
        "host": "h", "source": "s", "sourcetype": "st", "index": "audit", "time": "12.5",
        "channel": "ignored"}, TOKEN, max_event_bytes=LIMIT)
    assert [e.value for e in parsed] == [
        {"host": "h", "source": "s", "sourcetype": "st", "index": "audit", "time": "12.5",
         "event": line} for line in ("first line", "second line")]
    assert {e.index for e in parsed} == {"audit"}


@pytest.mark.parametrize(("body", "params", "code"), [
    (b"", {}, 5),
    (b"\n  \n", {}, 5),
    (b"line", {"index": "nope"}, 7),
    (b"line", {"time": "noon"}, 6),
])
def test_raw_body_refusals(body: bytes, params: dict[str, str], code: int) -> None:
    with pytest.raises(HecRefusal) as caught:
        parse_raw_body(body, params, TOKEN, max_event_bytes=LIMIT)
    assert caught.value.code == code


def test_ack_body_lists_the_ids() -> None:
    assert parse_ack_body(b'{"acks":[0,5,7]}') == [0, 5, 7]


@pytest.mark.parametrize(("body", "code"), [
    (b"", 5),
    (b"not json", 6),
    (b"[0,1]", 6),
    (b'{"acks":"0"}', 6),
    (b'{"acks":[0,"1"]}', 6),
    (b'{"acks":[true]}', 6),
    (b'{"acks":[-1]}', 6),
])
def test_bad_ack_body_is_refused(body: bytes, code: int) -> None:
    with pytest.raises(HecRefusal) as caught:
        parse_ack_body(body)
    assert caught.value.code == code


def test_ack_ids_count_from_zero_on_each_channel() -> None:
    ledger = AckLedger()
    issued = [ledger.issue("a", 0.0), ledger.issue("a", 0.0), ledger.issue("b", 0.0)]
    assert issued == [0, 1, 0]


def test_ack_reported_true_is_forgotten_then_false() -> None:
    ledger = AckLedger()
    ledger.issue("a", 0.0)
    assert ledger.query("a", [0, 1], now=1.0) == {"0": True, "1": False}
    assert ledger.query("a", [0], now=2.0) == {"0": False}


def test_late_ack_is_false_until_its_time_and_a_lost_one_stays_false() -> None:
    ledger = AckLedger()
    ledger.issue("a", 10.0)
    ledger.issue("a", None)
    assert ledger.query("a", [0, 1], now=9.9) == {"0": False, "1": False}
    assert ledger.query("a", [0, 1], now=10.0) == {"0": True, "1": False}
    assert ledger.pending("a") == [1]


def test_channel_at_its_pending_ack_limit_cannot_take_more_until_acks_are_queried() -> None:
    ledger = AckLedger(max_pending_per_channel=2)
    ledger.issue("a", 0.0)
    ledger.issue("a", 0.0)
    assert not ledger.can_issue("a")
    assert ledger.can_issue("b")
    ledger.query("a", [0], now=1.0)
    assert ledger.can_issue("a")


@pytest.mark.parametrize("body", [
    b'{"event":{"id":1,"n":1.5},"fields":{"a":["x"]},"time":"12.5"}\n',
    b'{"event":{"n":123456789012345678901234567890}}\n',  # past 64 bits: json decodes it
    b'{"event":"a"} {"event":"b"}{"event":"c"}\n',  # several on a line: json decodes them
])
def test_kept_text_decodes_to_the_value_parsing_accepted(body: bytes) -> None:
    batch = parse(body)
    assert batch.refusal is None
    assert [decode_envelope(e.text) for e in batch.envelopes] == [
        e.value for e in batch.envelopes]


def test_kept_raw_line_decodes_to_its_metadata_and_line() -> None:
    (envelope,) = parse_raw_body(b"a line\n", {"host": "h", "index": "audit"}, TOKEN,
                                 max_event_bytes=LIMIT)
    assert decode_envelope(envelope.text, envelope.raw_metadata) == envelope.value
