"""Running the rounds: wrk against each target in turn, with the CPU every side used meanwhile."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import (
    BenchError,
    Server,
    cores_used,
    cpu_sample,
    cpu_times,
    disk_latency_ms,
    disk_times,
    idle_and_steal,
    parse_cpu_list,
    pinned,
)
from bench.report import Measured
from bench.wrk import WrkReport, WrkRun, run_wrk, wrk_command

FIRST_ID = 2_000_000_000  # above the prefill's ids, as GitLab's ids grow
IDS_PER_THREAD_STRIDE = 64  # wrk_post.lua's id stride


@dataclass(slots=True)
class Target:
    """A server under test and everything measured against it."""

    name: str
    server: Server
    journal: Path | None = None
    stats_before: dict[str, int] = field(default_factory=dict)
    reports: list[WrkReport] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Load:
    """How wrk loads a target, which CPUs the servers and wrk are pinned to (None: not), and
    where the journals are (whose disk is watched during each run; None: not watched)."""

    connections: int
    wrk_threads: int
    token: str
    server_cpus: str | None
    wrk_cpus: str | None
    journals: Path | None = None


class IdSource:
    """Hands each wrk run a first id above every id sent before (ids grow, as GitLab's do)."""

    def __init__(self) -> None:
        self.next = FIRST_ID

    def used(self, report: WrkReport) -> None:
        # Thread t sends first + t + 64k: past the last id of this run whatever the split.
        self.next += IDS_PER_THREAD_STRIDE * (report.counts.sent + 1)


def measure(load: Load, targets: list[Target], *, rounds: int, seconds: int,
            warmup: int) -> list[Measured]:
    """A warm-up per target, then ``rounds`` rounds, each target once per round.

    The order rotates from round to round (A B C, B C A, C A B) so that no target always
    runs right after the same neighbour.
    """
    ids = IdSource()
    if warmup > 0:
        for target in targets:
            wrk_once(load, target, ids, warmup)
    measured: list[Measured] = []
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(targets)
        for target in targets[shift:] + targets[:shift]:
            measured.append(measure_one(load, target, round_number, ids, seconds))
            print(progress_line(measured[-1]), flush=True)
    return measured


def measure_one(load: Load, target: Target, round_number: int, ids: IdSource,
                seconds: int) -> Measured:
    """One wrk run, with the server's, wrk's and everybody else's CPU use meanwhile."""
    server_cpus = None if load.server_cpus is None else parse_cpu_list(load.server_cpus)
    wrk_cpus = None if load.wrk_cpus is None else parse_cpu_list(load.wrk_cpus)
    before = cpu_sample(target.server.pid)
    cpus_before, wrk_before = cpu_times(server_cpus), cpu_times(wrk_cpus)
    disk_before = None if load.journals is None else disk_times(load.journals)
    run = wrk_once(load, target, ids, seconds)
    write_ms, flush_ms = disk_latency_ms(
        disk_before, None if load.journals is None else disk_times(load.journals))
    main_cores, other_cores = cores_used(before, cpu_sample(target.server.pid))
    idle, steal = idle_and_steal(cpus_before, cpu_times(server_cpus))
    ours = main_cores + other_cores + (run.wrk_cores if server_cpus is None else 0)
    wrk_foreign = 0.0
    if wrk_cpus is not None:
        wrk_idle, wrk_steal = idle_and_steal(wrk_before, cpu_times(wrk_cpus))
        wrk_foreign = _busy_cores(wrk_cpus, wrk_idle, wrk_steal) - run.wrk_cores
    return Measured(
        target=target.name, round=round_number, run=run,
        server_main_cores=main_cores, server_other_cores=other_cores,
        server_cpus_idle=idle, steal=steal,
        foreign_cores=max(_busy_cores(server_cpus, idle, steal) - ours, 0.0),
        wrk_foreign_cores=max(wrk_foreign, 0.0), disk_write_ms=write_ms,
        disk_flush_ms=flush_ms)


def progress_line(m: Measured) -> str:
    report = m.run.report
    return (f"round {m.round} {m.target:<18} {report.requests_per_second:>9,.0f} req/s  "
            f"p50 {report.latency_ms[50]:6.2f} ms  p99 {report.latency_ms[99]:6.2f} ms  "
            f"server {m.server_main_cores + m.server_other_cores:.2f} cores  "
            f"wrk {m.run.wrk_cores:.2f} cores  others {m.foreign_cores:.2f}/"
            f"{m.wrk_foreign_cores:.2f} cores{'  DISTURBED' if m.disturbed else ''}")


def _busy_cores(cpus: set[int] | None, idle: float, steal: float) -> float:
    return (1 - idle - steal) * ((os.cpu_count() or 1) if cpus is None else len(cpus))


def wrk_once(load: Load, target: Target, ids: IdSource, seconds: int) -> WrkRun:
    command = wrk_command(target.server.url + "/", threads=load.wrk_threads,
                          connections=load.connections, seconds=seconds, token=load.token,
                          first_id=ids.next)
    try:
        run = run_wrk(pinned(command, load.wrk_cpus))
    except (RuntimeError, ValueError) as exc:
        raise BenchError(f"wrk against {target.name}: {exc}") from exc
    ids.used(run.report)
    target.reports.append(run.report)
    return run
