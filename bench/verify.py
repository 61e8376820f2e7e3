"""After the runs: did every request get its 200, and does the journal hold exactly its ids?

Pure functions over counts gathered from three independent places: wrk_post.lua (what was sent
and what the answers said), the receiver's own /metrics (what it processed), and the journal
(``auditstream journal stats --output json``, before and after).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bench.wrk import ScriptCounts, WrkReport


@dataclass(frozen=True, slots=True)
class ServerCounts:
    """The receiver's Prometheus counters: requests by outcome, events by outcome."""

    requests: dict[str, int]
    events: dict[str, int]


@dataclass(frozen=True, slots=True)
class JournalDelta:
    """What the benchmark added to the journal (stats after minus stats before)."""

    events: int
    remembered_ids: int
    duplicates_refused: int


def parse_metrics(text: str) -> ServerCounts:
    """The counters of ``auditstream_receiver_*_total`` from a Prometheus text exposition."""
    requests: dict[str, int] = {}
    events: dict[str, int] = {}
    for name, labels, value in re.findall(
            r"^auditstream_receiver_(requests|events)_total\{([^}]*)\}\s+(\S+)$", text, re.M):
        outcome = re.search(r'outcome="([^"]*)"', labels)
        if outcome is None:
            continue
        into = requests if name == "requests" else events
        into[outcome.group(1)] = into.get(outcome.group(1), 0) + round(float(value))
    return ServerCounts(requests=requests, events=events)


def sum_counts(counts: Iterable[ScriptCounts]) -> ScriptCounts:
    items = list(counts)
    return ScriptCounts(sent=sum(c.sent for c in items), fresh=sum(c.fresh for c in items),
                        answered=sum(c.answered for c in items),
                        non200=sum(c.non200 for c in items),
                        accepted=sum(c.accepted for c in items),
                        duplicates=sum(c.duplicates for c in items))


def answer_problems(name: str, reports: Iterable[WrkReport]) -> list[str]:
    """Anything but a 200 on every answered request, or any socket error."""
    problems = []
    for number, report in enumerate(reports, 1):
        errors = {kind: n for kind, n in report.socket_errors.items() if n}
        if errors:
            problems.append(f"{name}, wrk run {number}: socket errors {errors}")
        if report.non_2xx_3xx or report.counts.non200:
            problems.append(f"{name}, wrk run {number}: {report.counts.non200} answers "
                            f"were not 200 ({report.non_2xx_3xx} non-2xx/3xx per wrk)")
    return problems


def journal_problems(name: str, sent: ScriptCounts, server: ServerCounts,
                     delta: JournalDelta) -> list[str]:
    """Whether the journal holds exactly the distinct ids the receiver answered 200 for.

    wrk stops with up to one request per connection in flight: the receiver still processes
    it, but wrk never reads the answer. So the exact comparison is with what the receiver
    processed (its counters), and wrk's own view must fit around it.
    """
    problems = []
    ok = server.requests.get("ok", 0)
    refused = {k: v for k, v in server.requests.items() if k != "ok" and v}
    accepted, duplicate = server.events.get("accepted", 0), server.events.get("duplicate", 0)

    def expect(condition: bool, message: str) -> None:
        if not condition:
            problems.append(f"{name}: {message}")

    expect(not refused, f"the receiver refused requests: {refused}")
    expect(accepted + duplicate == ok,
           f"{ok} requests answered 200 but {accepted} + {duplicate} events counted")
    expect(delta.events == accepted,
           f"the journal gained {delta.events} events, the receiver accepted {accepted}")
    expect(delta.remembered_ids == delta.events,
           f"the journal gained {delta.remembered_ids} ids for {delta.events} events")
    expect(delta.duplicates_refused == duplicate,
           f"the journal refused {delta.duplicates_refused} duplicates, the receiver "
           f"answered {duplicate}")
    expect(sent.answered <= ok <= sent.sent,
           f"the receiver answered {ok} requests; wrk sent {sent.sent}, read {sent.answered}")
    expect(sent.accepted <= accepted <= sent.accepted + (sent.sent - sent.answered),
           f"the receiver accepted {accepted}; the answers wrk read say {sent.accepted}")
    if ok == sent.sent:  # every request was processed: then every fresh id must be stored
        expect(accepted == sent.fresh,
               f"all {sent.sent} requests processed, {sent.fresh} distinct ids sent, but "
               f"{accepted} stored")
    return problems
