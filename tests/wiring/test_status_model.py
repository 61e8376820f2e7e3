"""What ``auditstream status`` makes of what it read: pure, no process or journal here."""

from __future__ import annotations

from auditstream.journal import DeadLetter, SinkPosition, StoredEvent
from auditstream.wiring.status_model import JournalFacts, build_report, parse_process

METRICS = """\
# TYPE auditstream_receiver_requests counter
auditstream_receiver_requests_total{outcome="ok"} 12.0
auditstream_receiver_requests_total{outcome="unauthorized"} 3.0
# TYPE auditstream_receiver_recent_requests gauge
auditstream_receiver_recent_requests{outcome="ok"} 2.0
# TYPE auditstream_relay_sink_state gauge
auditstream_relay_sink_state{sink="splunk",state="running"} 0.0
auditstream_relay_sink_state{sink="splunk",state="paused"} 1.0
# TYPE auditstream_relay_last_success_timestamp_seconds gauge
auditstream_relay_last_success_timestamp_seconds{sink="splunk"} 1000.0
# TYPE auditstream_relay_in_flight_events gauge
auditstream_relay_in_flight_events{sink="splunk"} 7.0
# TYPE auditstream_receiver_last_event_timestamp_seconds gauge
auditstream_receiver_last_event_timestamp_seconds{destination="acme"} 1020.0
# TYPE auditstream_receiver_destination_silent gauge
auditstream_receiver_destination_silent{destination="acme"} 0.0
auditstream_receiver_destination_silent{destination="other"} 1.0
"""
READYZ = {"status": "not ready", "components": {
    "journal": {"ok": True}, "sink:splunk": {"ok": False, "reason": "Incorrect index"}}}


def event(seq: int, received_at: float) -> StoredEvent:
    return StoredEvent(seq, "default", str(seq), "acme", received_at, b"{}", None, None, None,
                       None)


def letter(sink: str, reason: str, requested: float | None = None) -> DeadLetter:
    return DeadLetter(sink, 1, "1", reason, 5.0, b"{}", "1-0", requested)


JOURNAL = JournalFacts(
    where="j.db", events=3, positions=(SinkPosition("splunk", 1, 2),),
    first_undelivered={"splunk": event(2, 1_000.0)},
    newest_by_destination={"acme": 1_010.0},
    dead_letters=(letter("splunk", "code 6"), letter("splunk", "code 6", 9.0),
                  letter("archive", "disk")))


def test_a_paused_sink_and_recent_refusals_come_from_the_process() -> None:
    process = parse_process("http://x", METRICS, READYZ)
    assert (process.ready, process.has_receiver) == (False, True)
    assert dict(process.requests_total) == {"ok": 12.0, "unauthorized": 3.0}
    report = build_report(1_030.0, process, None, JOURNAL, ["splunk"], ["acme", "other"])
    [sink] = report.sinks
    assert (sink.state, sink.reason, sink.backlog, sink.lag_seconds, sink.last_success_at,
            sink.in_flight) == ("paused", "Incorrect index", 2, 30.0, 1000.0, 7)
    assert report.source == "process"
    # The receiver's own last event (newer than the journal's tail says) wins.
    assert report.destinations == (("acme", 1_020.0), ("other", None))
    assert process.silent == {"other"}
    assert [(g.sink, g.reason, g.count, g.retry_requested) for g in report.dead_letters] == [
        ("archive", "disk", 1, 0), ("splunk", "code 6", 2, 1)]


def test_without_a_process_the_journal_alone_says_what_it_can() -> None:
    report = build_report(1_030.0, None, "no process answered at http://x", JOURNAL,
                          ["splunk", "archive"], [])
    assert report.source == "journal"
    assert "no process answered at http://x: the journal alone" in report.source_detail
    assert [(s.name, s.state, s.backlog, s.lag_seconds) for s in report.sinks] == [
        ("splunk", "not running", 2, 30.0), ("archive", "not running", None, None)]
