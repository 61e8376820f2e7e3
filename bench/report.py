"""Turning the rounds into the figures: medians, ratios, and a plain-text table."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.wrk import WrkRun

TARGET_RATIO = 0.5
TARGET_P99_MS = 20.0
TARGET_PREFILLED_RATIO = 0.9
# A run in which others used more than this much of the servers' CPUs is flagged as disturbed.
FOREIGN_LOAD_LIMIT = 0.05


@dataclass(frozen=True, slots=True)
class Measured:
    """One measured wrk run against one target, with the CPU each side used meanwhile."""

    target: str
    round: int
    run: WrkRun
    server_main_cores: float
    server_other_cores: float
    server_cpus_idle: float  # fraction of the servers' CPUs left idle during the run
    steal: float  # fraction of the servers' CPUs taken by the hypervisor for other guests
    foreign_cores: float  # CPU used on the servers' CPUs by processes outside the benchmark
    wrk_foreign_cores: float  # the same on wrk's CPUs (0 when nothing is pinned)
    # Average ms per write and per cache flush on the journals' disk during the run (None: not
    # watched, or none completed). A receiver's core idles while its batch's fsync waits.
    disk_write_ms: float | None = None
    disk_flush_ms: float | None = None

    @property
    def disturbed(self) -> bool:
        """Another process or guest took a noticeable share of the servers' or wrk's CPUs.

        wrk's CPU counts too: a neighbour there delays wrk, and the server waits idle.
        """
        return max(self.foreign_cores, self.wrk_foreign_cores, self.steal) > FOREIGN_LOAD_LIMIT


@dataclass(frozen=True, slots=True)
class Summary:
    """A target's medians over the rounds."""

    target: str
    rounds: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    server_main_cores: float
    server_other_cores: float
    wrk_cores: float
    requests_per_cpu_second: float


def undisturbed_rounds(runs: Sequence[Measured]) -> tuple[list[Measured], list[int]]:
    """The runs of the rounds in which no run was disturbed, and the rounds left out.

    On a shared machine a neighbour can take the servers' core for part of a round; such a
    round says nothing about the receiver. When every round was disturbed, all are kept.
    """
    disturbed = sorted({m.round for m in runs if m.disturbed})
    kept = [m for m in runs if m.round not in disturbed]
    return (kept, disturbed) if kept else (list(runs), [])


def summarise(target: str, runs: Sequence[Measured]) -> Summary:
    mine = [m for m in runs if m.target == target]
    return Summary(
        target=target, rounds=len(mine),
        requests_per_second=statistics.median(m.run.report.requests_per_second for m in mine),
        p50_ms=statistics.median(m.run.report.latency_ms[50] for m in mine),
        p99_ms=statistics.median(m.run.report.latency_ms[99] for m in mine),
        server_main_cores=statistics.median(m.server_main_cores for m in mine),
        server_other_cores=statistics.median(m.server_other_cores for m in mine),
        wrk_cores=statistics.median(m.run.wrk_cores for m in mine),
        requests_per_cpu_second=statistics.median(per_cpu_second(m) for m in mine))


def per_cpu_second(run: Measured) -> float:
    """Requests served per second of the server's own CPU (all its threads).

    Less sensitive to neighbours than requests/s: a server that gets 60% of its core serves
    60% of the requests with the same CPU each. For servers that are CPU-bound on their core,
    the ratio of these is the ratio of their capacities.
    """
    return run.run.report.requests_per_second / max(
        run.server_main_cores + run.server_other_cores, 1e-9)


def round_ratios(runs: Sequence[Measured], numerator: str, denominator: str,
                 *, per_cpu: bool = False) -> list[float]:
    """requests/s (or requests per CPU-second) of ``numerator`` over ``denominator``, round by
    round (same-round pairs)."""
    def figure(run: Measured) -> float:
        return per_cpu_second(run) if per_cpu else run.run.report.requests_per_second

    ratios = []
    for round_number in sorted({m.round for m in runs}):
        top = [m for m in runs if m.round == round_number and m.target == numerator]
        bottom = [m for m in runs if m.round == round_number and m.target == denominator]
        if top and bottom:
            ratios.append(figure(top[0]) / figure(bottom[0]))
    return ratios


def rounds_table(runs: Sequence[Measured]) -> str:
    header = ["round", "target", "req/s", "p50 ms", "p99 ms", "server main", "server other",
              "wrk cores", "idle", "steal", "disk write/flush ms", "others (server/wrk CPUs)"]
    rows = [[str(m.round), m.target, f"{m.run.report.requests_per_second:,.0f}",
             f"{m.run.report.latency_ms[50]:.2f}", f"{m.run.report.latency_ms[99]:.2f}",
             f"{m.server_main_cores:.2f}", f"{m.server_other_cores:.2f}",
             f"{m.run.wrk_cores:.2f}", f"{m.server_cpus_idle:.0%}", f"{m.steal:.0%}",
             f"{_ms(m.disk_write_ms)}/{_ms(m.disk_flush_ms)}",
             f"{m.foreign_cores:.2f}/{m.wrk_foreign_cores:.2f}"
             + (" DISTURBED" if m.disturbed else "")]
            for m in runs]
    return table(header, rows)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_table(summaries: Sequence[Summary], peak_rss: dict[str, int]) -> str:
    header = ["target", "rounds", "median req/s", "p50 ms", "p99 ms", "server main cores",
              "server other cores", "wrk cores", "req per CPU-s", "peak RSS MiB"]
    rows = [[s.target, str(s.rounds), f"{s.requests_per_second:,.0f}", f"{s.p50_ms:.2f}",
             f"{s.p99_ms:.2f}", f"{s.server_main_cores:.2f}", f"{s.server_other_cores:.2f}",
             f"{s.wrk_cores:.2f}", f"{s.requests_per_cpu_second:,.0f}",
             f"{peak_rss.get(s.target, 0) / 2**20:.1f}"] for s in summaries]
    return table(header, rows)


def verdict(name: str, ratios: Sequence[float], target: float) -> str:
    median = statistics.median(ratios)
    status = "met" if median >= target else "NOT met"
    rounds = ", ".join(f"{r:.3f}" for r in ratios)
    return f"{name}: median {median:.3f} (rounds: {rounds}); target >= {target:g}: {status}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows,
                                                                         strict=True)]
    lines = ["  ".join(cell.ljust(width) if i == 1 or i == 0 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths, strict=True)))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def save_results(path: Path, document: dict[str, object]) -> None:
    """Everything measured, as JSON (bench/results/ is git-ignored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot save {type(value).__name__} as JSON")
