"""``auditstream run`` end to end under the receiver benchmark's load, beside ``receive`` alone.

wrk (``bench/wrk_post.lua``: ~700-byte events, one in five a repeated id, 64 connections)
posts to ``auditstream run`` (receiver and relay in one process) relaying to ``auditstream
serve hec``, and, as the baseline of the same round, to ``auditstream receive`` alone. Each
run gets a fresh journal and fresh processes. For ``run`` we read, at the end of the load, how
many events the relay had delivered and its backlog, then how long the backlog took to reach 0;
afterwards the stand-in must hold exactly the distinct ids of the journal, each once.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from auditstream.journal import JournalConfig, open_journal_readonly
from bench.environment import CodeUnderTest
from bench.procs import BenchError, Server, cores_used, cpu_sample, pinned, start_server
from bench.relay_procs import (
    HEC_TOKEN_ENV,
    POLL_SECONDS,
    remove_journal,
    start_sink,
    stop,
)
from bench.verify import (
    JournalDelta,
    ServerCounts,
    answer_problems,
    journal_problems,
    parse_metrics,
    sum_counts,
)
from bench.wrk import WrkRun, run_wrk, wrk_command

STREAM_TOKEN_ENV = "AUDITSTREAM_BENCH_STREAM_TOKEN"  # noqa: S105 (the name of a variable)
RECEIVER_READY = "auditstream receiver listening on"
FIRST_ID = 2_000_000_000
IDS_PER_THREAD_STRIDE = 64  # wrk_post.lua's id stride
RUN, RECEIVE = "run", "receive"
DRAIN_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class E2eOptions:
    duration: float
    warmup: float
    connections: int
    wrk_threads: int
    server_cpus: str | None
    wrk_cpus: str | None


@dataclass(frozen=True, slots=True)
class E2eRun:
    """One measured wrk run against ``run`` or ``receive``; relay figures only for ``run``."""

    target: str
    requests_per_second: float
    p99_ms: float
    accepted_per_second: float  # distinct new events stored per second of load
    delivered_per_second: float | None  # events the relay confirmed per second of load
    backlog_at_end: int | None  # right after the load stopped
    drain_seconds: float | None  # from then until the backlog was 0
    server_cores: float
    sink_distinct_ids: int | None
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    counts: ServerCounts
    delivered: int
    backlog: int | None


def run_e2e(target: str, options: E2eOptions, workdir: Path, code: CodeUnderTest,
            tokens: tuple[str, str]) -> E2eRun:
    """Fresh journal and processes; warm-up, measured load, drain, checks."""
    stream_token, hec_token = tokens
    journal = workdir / f"e2e-{target}.db"
    remove_journal(journal)
    sink = start_sink("hec", workdir, code, hec_token) if target == RUN else None
    try:
        server = _start_target(target, journal, sink, options, code, tokens, workdir)
        try:
            ids = _Ids()
            runs = [_wrk(server, options, stream_token, options.warmup, ids)
                    ] if options.warmup else []
            before, cpu_before = _snapshot(server.url), cpu_sample(server.pid)
            measured = _wrk(server, options, stream_token, options.duration, ids)
            after, cpu_after = _snapshot(server.url), cpu_sample(server.pid)
            drain = _drain(server.url) if target == RUN else None
            time.sleep(0.5)  # the requests wrk left in flight finish
            final = _snapshot(server.url)
        finally:
            stop(server)
        sink_ids = _sink_ids(sink) if sink is not None else None
    finally:
        if sink is not None:
            stop(sink)
    problems = _check(target, [*runs, measured], final, journal, sink_ids)
    remove_journal(journal)
    report = measured.report
    seconds = report.seconds
    accepted = after.counts.events.get("accepted", 0) - before.counts.events.get("accepted", 0)
    return E2eRun(
        target=target, requests_per_second=report.requests_per_second,
        p99_ms=report.latency_ms[99], accepted_per_second=accepted / seconds,
        delivered_per_second=(after.delivered - before.delivered) / seconds if sink else None,
        backlog_at_end=after.backlog, drain_seconds=drain,
        server_cores=sum(cores_used(cpu_before, cpu_after)),
        sink_distinct_ids=len(sink_ids) if sink_ids is not None else None,
        problems=tuple(problems))


def _start_target(target: str, journal: Path, sink: Server | None, options: E2eOptions,
                  code: CodeUnderTest, tokens: tuple[str, str], workdir: Path) -> Server:
    command = [*code.cli, target, "--listen", "127.0.0.1:0", "--journal", str(journal),
               "--token-env", STREAM_TOKEN_ENV]
    if sink is not None:
        command += ["--hec-url", sink.url, "--hec-token-env", HEC_TOKEN_ENV]
    env = code.env({STREAM_TOKEN_ENV: tokens[0], HEC_TOKEN_ENV: tokens[1]})
    return start_server(target, pinned(command, options.server_cpus), RECEIVER_READY,
                        workdir / f"{target}.stderr", env=env, cwd=workdir)


class _Ids:
    """Each wrk run of a target starts above every id sent to it before (ids grow)."""

    def __init__(self) -> None:
        self.next = FIRST_ID

    def used(self, sent: int) -> None:
        # Thread t sends first + t + 64k: past the last id of the run whatever the split.
        self.next += IDS_PER_THREAD_STRIDE * (sent + 1)


def _wrk(server: Server, options: E2eOptions, token: str, seconds: float, ids: _Ids) -> WrkRun:
    command = wrk_command(server.url + "/", threads=options.wrk_threads,
                          connections=options.connections, seconds=seconds, token=token,
                          first_id=ids.next)
    try:
        run = run_wrk(pinned(command, options.wrk_cpus))
    except (RuntimeError, ValueError) as exc:
        raise BenchError(f"wrk against {server.name}: {exc}") from exc
    ids.used(run.report.counts.sent)
    return run


def _snapshot(url: str) -> _Snapshot:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:  # noqa: S310
        text = answer.read().decode()
    delivered = backlog = None
    for line in text.splitlines():
        if line.startswith('auditstream_relay_delivered_events_total{sink="hec"}'):
            delivered = round(float(line.split()[-1]))
        elif line.startswith('auditstream_relay_backlog_events{sink="hec"}'):
            backlog = round(float(line.split()[-1]))
    return _Snapshot(parse_metrics(text), delivered or 0, backlog)


def _drain(url: str) -> float | None:
    """Seconds until the relay's backlog is 0 (None if not within the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT_SECONDS:
        if _snapshot(url).backlog == 0:
            return time.monotonic() - started
        time.sleep(POLL_SECONDS)
    return None


def _sink_ids(sink: Server) -> dict[str, int]:
    """How many times the stand-in accepted each event id."""
    with urllib.request.urlopen(sink.url + "/_stand-in/received",  # noqa: S310
                                timeout=300) as answer:
        document = json.loads(answer.read())
    counts: dict[str, int] = document["event_counts"]
    return counts


def _check(target: str, runs: list[WrkRun], final: _Snapshot, journal: Path,
           sink_ids: dict[str, int] | None) -> list[str]:
    reports = [run.report for run in runs]
    problems = answer_problems(target, reports)
    stats, ids = asyncio.run(_journal_ids(journal))
    delta = JournalDelta(events=stats[0], remembered_ids=stats[1], duplicates_refused=stats[2])
    sent = sum_counts(report.counts for report in reports)
    problems += journal_problems(target, sent, final.counts, delta)
    if sink_ids is None:
        return problems
    if final.backlog != 0:
        problems.append(f"{target}: the relay's backlog was {final.backlog} at the end, not 0")
    doubled = sum(1 for n in sink_ids.values() if n != 1)
    if doubled:
        problems.append(f"{target}: the stand-in accepted {doubled} ids more than once")
    if set(sink_ids) != ids:
        problems.append(f"{target}: the stand-in holds {len(sink_ids):,} distinct ids, the "
                        f"journal {len(ids):,}; {len(ids - set(sink_ids)):,} never arrived, "
                        f"{len(set(sink_ids) - ids):,} are not in the journal")
    return problems


async def _journal_ids(path: Path) -> tuple[tuple[int, int, int], set[str]]:
    journal = await open_journal_readonly(JournalConfig(path=path))
    try:
        stats = await journal.stats()
        ids: set[str] = set()
        position = 0
        while events := await journal.read("bench-e2e-check", 10_000, after=position):
            ids.update(event.event_id for event in events)
            position = events[-1].seq
    finally:
        await journal.close()
    return (stats.events, stats.remembered_ids, stats.duplicates_refused), ids
