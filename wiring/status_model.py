"""What ``auditstream status`` shows, and how it is made from what was read: pure, no I/O.

``wiring.status`` reads (a running process's /metrics and /readyz, the journal); the
functions here turn that into one ``StatusReport`` whatever was reachable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from auditstream.journal import DeadLetter, SinkPosition, StoredEvent


@dataclass(frozen=True, slots=True)
class ProcessFacts:
    """What a running process said at /metrics and /readyz."""

    url: str
    ready: bool
    components: Mapping[str, tuple[bool, str]]  # name -> (ok, reason)
    requests_total: Mapping[str, float]  # receiver requests by outcome, since it started
    requests_recent: Mapping[str, float]  # ... in the last minutes
    sink_states: Mapping[str, str]
    last_success: Mapping[str, float]
    pending_acks: Mapping[str, float]
    in_flight: Mapping[str, float]
    has_receiver: bool
    last_event: Mapping[str, float] = field(default_factory=dict)  # by destination
    silent: frozenset[str] = frozenset()  # destinations quiet past their expect_event_within


@dataclass(frozen=True, slots=True)
class JournalFacts:
    """What the journal said (``error`` instead when it could not be read)."""

    where: str
    events: int = 0
    size_bytes: int | None = None
    free_disk_bytes: int | None = None
    oldest: StoredEvent | None = None
    newest_by_destination: Mapping[str, float] = field(default_factory=dict)
    positions: Sequence[SinkPosition] = ()
    first_undelivered: Mapping[str, StoredEvent] = field(default_factory=dict)
    dead_letters: Sequence[DeadLetter] = ()
    tail_size: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SinkStatus:
    name: str
    state: str
    reason: str
    backlog: int | None
    lag_seconds: float | None
    last_success_at: float | None
    in_flight: int | None


@dataclass(frozen=True, slots=True)
class DeadLetterGroup:
    sink: str
    reason: str
    count: int
    retry_requested: int


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One screen. ``source``: "process" (its endpoints and the journal were read) or
    "journal" (no process answered: the journal alone); ``source_detail`` says which."""

    checked_at: float
    source: str
    source_detail: str
    process: ProcessFacts | None
    journal: JournalFacts
    sinks: tuple[SinkStatus, ...]
    dead_letters: tuple[DeadLetterGroup, ...]
    destinations: tuple[tuple[str, float | None], ...]


def parse_process(url: str, metrics_text: str, readyz: Mapping[str, object]) -> ProcessFacts:
    """The facts of /metrics (Prometheus text) and /readyz (JSON) of a running process."""
    total: dict[str, float] = {}
    recent: dict[str, float] = {}
    states: dict[str, str] = {}
    success: dict[str, float] = {}
    pending: dict[str, float] = {}
    in_flight: dict[str, float] = {}
    last_event: dict[str, float] = {}
    silent: set[str] = set()
    has_receiver = False
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "auditstream_receiver_requests_total":
                total[labels["outcome"]] = sample.value
                has_receiver = True
            elif sample.name == "auditstream_receiver_recent_requests":
                recent[labels["outcome"]] = sample.value
            elif sample.name == "auditstream_receiver_journal_writable":
                has_receiver = True
            elif sample.name == "auditstream_relay_sink_state" and sample.value == 1:
                states[labels["sink"]] = labels["state"]
            elif sample.name == "auditstream_relay_last_success_timestamp_seconds":
                success[labels["sink"]] = sample.value
            elif sample.name == "auditstream_relay_pending_acks":
                pending[labels["sink"]] = sample.value
            elif sample.name == "auditstream_relay_in_flight_events":
                in_flight[labels["sink"]] = sample.value
            elif sample.name == "auditstream_receiver_last_event_timestamp_seconds":
                last_event[labels["destination"]] = sample.value
            elif sample.name == "auditstream_receiver_destination_silent" and sample.value:
                silent.add(labels["destination"])
    components: dict[str, tuple[bool, str]] = {}
    raw = readyz.get("components")
    if isinstance(raw, dict):
        for name, value in raw.items():
            if isinstance(value, dict):
                components[str(name)] = (bool(value.get("ok")), str(value.get("reason", "")))
    return ProcessFacts(url=url, ready=readyz.get("status") == "ready", components=components,
                        requests_total=total, requests_recent=recent, sink_states=states,
                        last_success=success, pending_acks=pending, in_flight=in_flight,
                        has_receiver=has_receiver, last_event=last_event,
                        silent=frozenset(silent))


def build_report(now: float, process: ProcessFacts | None, unreachable: str | None,
                 journal: JournalFacts, sinks: Iterable[str],
                 destinations: Iterable[str]) -> StatusReport:
    """The report from what was read; ``sinks``/``destinations``: those the config names."""
    if process is not None:
        source, detail = "process", f"read {process.url}/metrics and /readyz, and the journal"
    else:
        source, detail = "journal", f"{unreachable}: the journal alone was read"
    positions = {p.sink: p for p in journal.positions}
    names = list(dict.fromkeys([*sinks, *positions]))
    return StatusReport(
        checked_at=now, source=source, source_detail=detail, process=process, journal=journal,
        sinks=tuple(_sink(name, now, process, journal, positions.get(name)) for name in names),
        dead_letters=_dead_letter_groups(journal.dead_letters),
        destinations=_destinations(process, journal, destinations))


def _destinations(process: ProcessFacts | None, journal: JournalFacts,
                  configured: Iterable[str]) -> tuple[tuple[str, float | None], ...]:
    """Each destination's last event: the receiver's own count where it runs (it knows of
    events older than the journal's last ones), else the journal's."""
    told = dict(journal.newest_by_destination)
    if process is not None:
        for name, at in process.last_event.items():
            told[name] = max(at, told.get(name, 0.0))
    return tuple((name, told.get(name)) for name in dict.fromkeys([*configured, *told]))


def _sink(name: str, now: float, process: ProcessFacts | None, journal: JournalFacts,
          position: SinkPosition | None) -> SinkStatus:
    first = journal.first_undelivered.get(name)
    backlog = None if position is None else position.backlog
    lag = 0.0 if backlog == 0 else (None if first is None else max(0.0, now - first.received_at))
    if process is None:
        return SinkStatus(name, "not running", "no process answered", backlog, lag, None,
                          None if position is None else position.pending)
    ok, reason = process.components.get(f"sink:{name}", (True, ""))
    state = process.sink_states.get(name, "not in this process")
    held = process.in_flight.get(name)
    in_flight = None if held is None else int(held)
    success = process.last_success.get(name)
    return SinkStatus(name, state, "" if ok else reason, backlog, lag,
                      success if success else None, in_flight)


def _dead_letter_groups(letters: Sequence[DeadLetter]) -> tuple[DeadLetterGroup, ...]:
    groups: dict[tuple[str, str], list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault((letter.sink, letter.reason), []).append(letter)
    return tuple(DeadLetterGroup(sink, reason, len(group),
                                 sum(1 for d in group if d.retry_requested_at is not None))
                 for (sink, reason), group in sorted(groups.items()))
