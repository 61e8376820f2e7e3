"""The relay against the HEC stand-in: everything arrives, once, whatever the sink does."""

from __future__ import annotations

import orjson
import pytest

from auditstream.common.secrets import Secret
from auditstream.journal import Journal
from auditstream.relay.config import BatchSettings, RetrySettings
from auditstream.relay.service import Relay
from auditstream.server.hec import RunningHec
from tests.helpers.bodies import gitlab_body
from tests.helpers.metrics import scraped
from tests.helpers.ports import held_port, port_of
from tests.relay.conftest import (
    StartRelay,
    cursor,
    cursor_at_least,
    fill,
    hec_sink,
    relay_config,
)
from tests.waiting import eventually


def ids_at_sink(hec: RunningHec) -> list[int]:
    return [int(envelope.event["id"]) for envelope in hec.received.envelopes]


async def wait_for_cursor(journal: Journal, upto: int, within: float = 10) -> None:
    await eventually(lambda: cursor_at_least(journal, upto), within)


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
async def test_every_event_arrives_once_each_batch_in_journal_order_within_batch_limits(
        journal: Journal, hec: RunningHec, start_relay: StartRelay, gzip: bool) -> None:
    await fill(journal, 230)
    await start_relay(relay_config(hec_sink(hec, gzip=gzip)))
    await hec.received.wait_for(230)
    await wait_for_cursor(journal, 230)
    # Two requests in flight (the default): batches may overtake each other, never mix.
    assert sorted(ids_at_sink(hec)) == list(range(1, 231))
    requests = [r for r in hec.received.requests if r.endpoint == "event" and r.accepted]
    assert all(r.accepted <= 50 for r in requests)
    for request in requests:
        ids = [int(e.event["id"]) for e in hec.received.for_request(request.number)]
        assert ids == list(range(ids[0], ids[0] + len(ids)))
    encodings = {e.headers.get("Content-Encoding") for e in hec.received.envelopes}
    assert encodings == ({"gzip"} if gzip else {None})


async def test_one_request_in_flight_delivers_in_journal_order(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 230)
    await start_relay(relay_config(hec_sink(hec), max_requests_in_flight=1))
    await hec.received.wait_for(230)
    await wait_for_cursor(journal, 230)
    assert ids_at_sink(hec) == list(range(1, 231))


async def test_envelopes_carry_the_design_mapping(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 1)
    await start_relay(relay_config(hec_sink(hec)))
    [received] = await hec.received.wait_for(1)
    envelope = received.envelope
    assert envelope["time"] == 1_795_000_000.123
    assert (envelope["host"], envelope["source"], envelope["sourcetype"], envelope["index"]) == (
        "gitlab.example.com", "gitlab:acme", "gitlab:audit", "main")
    assert envelope["fields"] == {"event_id": "1", "origin": "stream",
                                  "event_type": "repository_git_operation",
                                  "entity_type": "Project", "entity_path": "acme/app"}
    assert received.event == orjson.loads(gitlab_body(1))
    assert gitlab_body(1).decode() in received.text
    assert received.channel is not None


@pytest.mark.parametrize("fault", ["busy", "internal_error", "too_many_requests", "reset",
                                   "hang"])
async def test_transient_failures_are_retried_then_everything_arrives_once(
        journal: Journal, hec: RunningHec, start_relay: StartRelay, fault: str) -> None:
    await fill(journal, 120)
    getattr(hec.faults, fault)(next=3)
    relay = await start_relay(relay_config(hec_sink(hec, timeout_seconds=0.3)))
    await wait_for_cursor(journal, 120)
    assert sorted(ids_at_sink(hec)) == list(range(1, 121))
    assert not hec.received.duplicates()
    retried = scraped(relay.registry, "auditstream_relay_retried_requests_total", sink="splunk")
    assert retried is not None
    assert retried >= 3


async def test_retry_after_is_respected(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 10)
    hec.faults.busy(retry_after=1, next=1)
    await start_relay(relay_config(hec_sink(hec)))
    await hec.received.wait_for(10)
    # As the sink saw it: the batch came back no sooner than the 503 said.
    refused, resent = [r for r in hec.received.requests if r.endpoint == "event"][:2]
    assert refused.status == 503
    assert resent.status == 200
    assert resent.received_at - refused.received_at >= 1.0


async def test_bad_event_is_dead_lettered_and_only_what_follows_is_resent(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 20)
    hec.faults.bad_event(3, code=6, next=1)
    await start_relay(relay_config(hec_sink(hec)))
    await wait_for_cursor(journal, 20)
    arrived = ids_at_sink(hec)
    assert sorted(arrived) == [i for i in range(1, 21) if i != 4]
    assert not hec.received.duplicates()  # 1-3 were accepted once and never sent again
    [letter] = await journal.dead_letters("splunk", 10)
    assert letter.event_id == "4"
    assert "code 6" in letter.reason


async def test_too_large_batches_are_split_and_delivered(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 40)
    hec.faults.too_large(next=2)
    await start_relay(relay_config(hec_sink(hec)))
    await wait_for_cursor(journal, 40)
    assert sorted(ids_at_sink(hec)) == list(range(1, 41))
    assert not hec.received.duplicates()


async def test_wrong_token_pauses_the_sink_and_loses_nothing(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    await fill(journal, 30)
    relay = await start_relay(relay_config(hec_sink(hec, token=Secret("wrong-token"))))
    health = await relay.check_sinks()
    assert not health["splunk"].ok
    await eventually(lambda: relay.pipelines[0].state == "paused", 5)
    [probe] = relay.probes()
    name, ok, reason = await probe()
    assert (name, ok) == ("sink:splunk", False)
    assert "Invalid token" in reason
    assert await cursor(journal) == 0
    await relay.stop(1.0)
    # The token is fixed: a relay with the right one delivers everything kept meanwhile.
    fixed = await start_relay(relay_config(hec_sink(hec)))
    assert (await fixed.check_sinks())["splunk"].ok
    await wait_for_cursor(journal, 30)
    assert sorted(ids_at_sink(hec)) == list(range(1, 31))


@pytest.mark.parametrize("failing", ["paused", "retrying"])
async def test_stop_does_not_wait_out_a_failing_sinks_pause_or_backoff(
        journal: Journal, hec: RunningHec, failing: str) -> None:
    # Pauses and backoffs of an hour, a grace of an hour: a stop that waited for either
    # would never return within the test's bound. Under `run` the receiver has stopped
    # listening by then, so each second waited on a failing sink is GitLab's events refused.
    await fill(journal, 10)
    hour = RetrySettings(backoff_base_seconds=3600, backoff_cap_seconds=3600,
                         pause_retry_seconds=3600)
    if failing == "paused":
        sink = hec_sink(hec, token=Secret("wrong-token"))
    else:
        sink = hec_sink(hec)
        hec.faults.busy()  # 503 to every request, no Retry-After: backoff decides
    relay = Relay(relay_config(sink, retry=hour), journal)
    relay.start()
    await eventually(lambda: relay.pipelines[0].state == failing)
    await relay.stop(3600.0)
    assert relay.pipelines[0].state == "stopped"
    assert await cursor(journal) == 0  # nothing confirmed: all of it is there for next time
    hec.faults.clear()
    fixed = Relay(relay_config(hec_sink(hec)), journal)
    fixed.start()
    try:
        await wait_for_cursor(journal, 10)
    finally:
        await fixed.stop(1.0)
    assert sorted(ids_at_sink(hec)) == list(range(1, 11))


async def test_file_sink_writes_json_lines_before_the_cursor_moves(
        journal: Journal, start_relay: StartRelay, tmp_path: object) -> None:
    from pathlib import Path

    from auditstream.relay.config import FileSinkConfig

    path = Path(str(tmp_path)) / "archive" / "events.jsonl"
    await fill(journal, 25)
    sink = FileSinkConfig(name="splunk", path=path,
                          batch=BatchSettings(max_events=10, max_wait_seconds=0.0))
    await start_relay(relay_config(sink))  # type: ignore[arg-type]
    await wait_for_cursor(journal, 25)
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["event"]["id"] for line in lines] == list(range(1, 26))
    assert oct(path.stat().st_mode & 0o777) == "0o600"


async def test_unreachable_sink_is_reported_by_name_at_start(
        journal: Journal, start_relay: StartRelay) -> None:
    from auditstream.relay.config import HecSinkConfig

    with held_port() as nobody_listens:
        sink = HecSinkConfig(name="nowhere", url=f"http://127.0.0.1:{port_of(nobody_listens)}",
                             token=Secret("t"), timeout_seconds=1.0)
        relay = await start_relay(relay_config(sink))
        health = await relay.check_sinks()
    assert not health["nowhere"].ok
    assert "unreachable" in health["nowhere"].reason


async def test_metrics_count_delivered_and_backlog_per_sink(
        journal: Journal, hec: RunningHec, start_relay: StartRelay) -> None:
    from prometheus_client import generate_latest

    await fill(journal, 30)
    hec.faults.busy(next=1)
    relay = await start_relay(relay_config(hec_sink(hec)))
    await wait_for_cursor(journal, 30)
    await eventually(lambda: 'auditstream_relay_backlog_events{sink="splunk"} 0.0'
                     in generate_latest(relay.registry).decode())
    text = generate_latest(relay.registry).decode()
    assert 'auditstream_relay_delivered_events_total{sink="splunk"} 30.0' in text
    assert 'auditstream_relay_retried_requests_total{sink="splunk"} 1.0' in text
    assert 'auditstream_relay_backlog_events{sink="splunk"} 0.0' in text
    assert 'auditstream_relay_sink_state{sink="splunk",state="running"} 1.0' in text
    assert "auditstream_relay_last_success_timestamp_seconds" in text
