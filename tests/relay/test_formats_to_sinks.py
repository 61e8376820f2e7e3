"""Formats chosen per sink, through the real relay: a HEC stand-in and a file, over a real
SQLite journal. Raw stays today's output byte for byte; OCSF arrives valid; CIM fields are flat
and accepted as indexed fields; odd events never stop the relay or become dead letters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from auditstream.journal import IncomingEvent, Journal
from auditstream.relay.config import BatchSettings, FileSinkConfig
from auditstream.relay.envelope import DEFAULT_OCSF_SOURCETYPE, EnvelopeSettings
from auditstream.server.hec import RunningHec
from tests.helpers.bodies import gitlab_body
from tests.relay.conftest import (
    StartRelay,
    cursor_at_least,
    fill,
    hec_sink,
    relay_config,
)
from tests.relay.ocsf_events import DOCUMENTED, full_body
from tests.relay.ocsf_schema import validate
from tests.waiting import eventually

OCSF_HEC = EnvelopeSettings(index="main", format="ocsf", sourcetype=DEFAULT_OCSF_SOURCETYPE)


async def test_raw_is_the_default_and_the_envelope_is_byte_for_byte_what_it_was(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 1)
    await start_relay(relay_config(hec_sink(hec)))
    [received] = await hec.received.wait_for(1)
    assert received.text == (
        '{"time":1795000000.123,"host":"gitlab.example.com","source":"gitlab:acme",'
        '"sourcetype":"gitlab:audit","index":"main","fields":{"event_id":"1",'
        '"origin":"stream","event_type":"repository_git_operation","entity_type":"Project",'
        '"entity_path":"acme/app"},"event":' + gitlab_body(1).decode() + "}")


async def test_an_ocsf_hec_sink_gets_valid_ocsf_events_with_cim_fields_indexed(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await _append(journal, [orjson.dumps(full_body("member_updated")), *DOCUMENTED.values()])
    sink = hec_sink(hec, envelope=replace(OCSF_HEC, cim_fields=True))
    await start_relay(relay_config(sink))
    received = await hec.received.wait_for(4)
    for envelope in received:
        validate(envelope.event)
        assert envelope.envelope["sourcetype"] == "gitlab:audit:ocsf"
        assert all(isinstance(v, str) for v in envelope.envelope["fields"].values())
    member = next(e for e in received if e.event["metadata"]["event_code"] == "member_updated")
    fields = member.envelope["fields"]
    assert (fields["action"], fields["change_type"], fields["user"], fields["src_user"]) == (
        "modified", "AAA", "bob", "Ada")
    assert (fields["object_category"], fields["vendor_product"], fields["src"]) == (
        "user", "GitLab", "10.1.2.3")
    assert member.event["raw_data"] == orjson.dumps(full_body("member_updated")).decode()


async def test_a_file_sink_in_ocsf_writes_one_bare_ocsf_event_a_line(
        journal: Journal, start_relay: StartRelay, tmp_path: Path) -> None:
    await fill(journal, 12)
    path = tmp_path / "ocsf.jsonl"
    sink = FileSinkConfig(name="splunk", path=path,
                          envelope=EnvelopeSettings(format="ocsf", bare=True, raw_data=False),
                          batch=BatchSettings(max_events=5, max_wait_seconds=0.0))
    await start_relay(relay_config(sink))  # type: ignore[arg-type]
    await eventually(lambda: cursor_at_least(journal, 12), 10)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["metadata"]["original_event_uid"] for e in lines] == [str(i) for i in range(1, 13)]
    for event in lines:
        validate(event)
        assert "raw_data" not in event


async def test_odd_events_are_all_delivered_as_ocsf_and_none_is_dead_lettered(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    odd = [b'{"id":1}', b'{"id":"2","event_type":"member_created","details":[1]}',
           b'{"id":3,"event_type":"no_such_type","author_id":{"x":1},"ip_address":7}',
           b'{"id":4,"event_type":"user_created","created_at":"2026-11-29T10:00:00Z"}',
           b'{"id":5,"event_type":"user_impersonation","details":"?","author_name":""}']
    await _append(journal, odd)
    sink = hec_sink(hec, envelope=replace(OCSF_HEC, cim_fields=True))
    await start_relay(relay_config(sink))
    received = await hec.received.wait_for(len(odd))
    await eventually(lambda: cursor_at_least(journal, len(odd)), 10)
    assert (await journal.stats()).dead_letters == 0
    for envelope in received:
        validate(envelope.event)


async def _append(journal: Journal, bodies: list[bytes]) -> None:
    events = []
    for n, body in enumerate(bodies, start=1):
        value = orjson.loads(body)
        event_type = value.get("event_type")
        events.append(IncomingEvent(
            instance="gitlab.example.com", event_id=str(n), dedup_keys=(f"id:{n}",),
            destination="acme", received_at=1_795_000_000.0, body=body,
            event_type=event_type if isinstance(event_type, str) else None))
    await journal.append(events)


async def test_an_ocsf_relay_stopped_mid_stream_loses_nothing_on_restart(
        journal: Journal, hec: RunningHec) -> None:
    import random

    from auditstream.relay.service import Relay

    await fill(journal, 3000)
    config = relay_config(hec_sink(hec, envelope=OCSF_HEC,
                                   batch=BatchSettings(max_events=100, max_wait_seconds=0.0)))
    first = Relay(config, journal, rng=random.Random(1))
    first.start()
    await hec.received.wait_for(300)
    await first.stop(1.0)  # windows are being made in a thread at this moment, most likely
    second = Relay(config, journal, rng=random.Random(2))
    second.start()
    try:
        await eventually(lambda: cursor_at_least(journal, 3000), 30)
    finally:
        await second.stop(1.0)
    ids = {e.event["metadata"]["original_event_uid"] for e in hec.received.envelopes}
    assert ids == {str(i) for i in range(1, 3001)}
