"""The relay's pure core: HEC envelopes and batches, without sockets."""

from __future__ import annotations

import orjson
import pytest

from auditstream.journal import StoredEvent
from auditstream.relay.batch import cut_batches
from auditstream.relay.envelope import Envelope, EnvelopeSettings, IndexRoute, encode

BODY = (b'{"id":42,"entity_type":"Project","entity_path":"acme/app",'
        b'"details":{"custom_message":{"protocol":"web","action":"git-receive-pack"}},'
        b'"created_at":"2026-11-29T10:00:00.123Z","event_type":"repository_git_operation"}')


def stored(seq: int = 1, body: bytes = BODY, **changes: object) -> StoredEvent:
    fields: dict[str, object] = {
        "seq": seq, "instance": "gitlab.example.com", "event_id": "42", "destination": "acme",
        "received_at": 1_795_000_000.987654, "body": body,
        "event_type": "repository_git_operation", "created_at": 1_795_000_000.1234567,
        "entity_type": "Project", "entity_path": "acme/app", **changes}
    return StoredEvent(**fields)  # type: ignore[arg-type]


def test_envelope_maps_the_event_as_the_design_says() -> None:
    envelope = encode(stored(), EnvelopeSettings(index="gitlab"))
    decoded = orjson.loads(envelope.data)
    assert decoded == {
        "time": 1_795_000_000.123, "host": "gitlab.example.com", "source": "gitlab:acme",
        "sourcetype": "gitlab:audit", "index": "gitlab",
        "fields": {"event_id": "42", "origin": "stream",
                   "event_type": "repository_git_operation",
                   "entity_type": "Project", "entity_path": "acme/app"},
        "event": orjson.loads(BODY)}
    assert BODY in envelope.data  # the original event, byte for byte


def test_envelope_without_created_at_uses_the_received_time() -> None:
    decoded = orjson.loads(encode(stored(created_at=None), EnvelopeSettings()).data)
    assert decoded["time"] == 1_795_000_000.988
    assert "index" not in decoded  # the token's default index


def test_configured_host_source_and_sourcetype_win() -> None:
    settings = EnvelopeSettings(host="gl", source="src", sourcetype="st")
    decoded = orjson.loads(encode(stored(), settings).data)
    assert (decoded["host"], decoded["source"], decoded["sourcetype"]) == ("gl", "src", "st")


def test_indexed_fields_skip_what_the_event_lacks() -> None:
    decoded = orjson.loads(encode(stored(event_type=None, entity_type=None, entity_path=None),
                                  EnvelopeSettings()).data)
    assert decoded["fields"] == {"event_id": "42", "origin": "stream"}


def test_a_backfilled_event_says_so_in_the_indexed_field_origin() -> None:
    decoded = orjson.loads(encode(stored(origin="backfill"), EnvelopeSettings()).data)
    assert decoded["fields"]["origin"] == "backfill"


def test_index_routes_pick_by_event_type_then_entity_path() -> None:
    settings = EnvelopeSettings(index="main", index_routes=(
        IndexRoute(index="git", event_type="repository_git_operation"),
        IndexRoute(index="acme", entity_path_prefix="acme/")))
    assert encode(stored(), settings).index == "git"
    assert encode(stored(event_type="member_created"), settings).index == "acme"
    assert encode(stored(event_type="x", entity_path="globex/a"), settings).index == "main"


def envelopes(sizes: list[int], index: str | None = None) -> list[Envelope]:
    return [Envelope(seq=i + 1, index=index, data=b"x" * size) for i, size in enumerate(sizes)]


def test_batches_respect_the_event_limit() -> None:
    batches = cut_batches(envelopes([10] * 7), max_events=3, max_bytes=10_000)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [b.first_seq for b in batches] == [1, 4, 7]


def test_batches_respect_the_byte_limit_separators_included() -> None:
    batches = cut_batches(envelopes([40, 40, 40, 10]), max_events=100, max_bytes=81)
    assert [len(b) for b in batches] == [2, 2]
    assert all(len(b.body()) <= 81 for b in batches)


def test_an_envelope_over_the_byte_limit_travels_alone() -> None:
    batches = cut_batches(envelopes([10, 500, 10]), max_events=100, max_bytes=100)
    assert [len(b) for b in batches] == [1, 1, 1]


def test_batches_never_mix_indexes_and_keep_order_within_one() -> None:
    mixed = [Envelope(seq=i, index="a" if i % 2 else "b", data=b"{}") for i in range(1, 7)]
    batches = cut_batches(mixed, max_events=100, max_bytes=10_000)
    assert [(b.index, [e.seq for e in b.envelopes]) for b in batches] == [
        ("a", [1, 3, 5]), ("b", [2, 4, 6])]


def test_batch_body_is_concatenated_envelopes_not_an_array() -> None:
    [batch] = cut_batches([encode(stored(seq), EnvelopeSettings()) for seq in (1, 2)], 10,
                          10_000)
    lines = batch.body().split(b"\n")
    assert len(lines) == 2
    assert all(orjson.loads(line)["event"]["id"] == 42 for line in lines)


@pytest.mark.parametrize("count", [1, 2, 5])
def test_split_halves_keep_every_envelope_once(count: int) -> None:
    [batch] = cut_batches(envelopes([5] * count), 100, 10_000)
    if count == 1:
        first, second = batch.split()
        assert (len(first), len(second)) == (0, 1)
        return
    first, second = batch.split()
    assert [e.seq for e in first.envelopes + second.envelopes] == list(range(1, count + 1))
