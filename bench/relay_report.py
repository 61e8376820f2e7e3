"""The relay benchmark's figures: rows, same-round ratios, medians, verdicts. Pure, no I/O
except ``save``.

Every ratio pairs two runs of the same round (minutes apart on the same machine), and the
verdict takes the median of those per-round ratios, never a ratio of medians.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.relay_e2e import RECEIVE, RUN, E2eRun
from bench.relay_procs import CeilingMeasured, RelayRun
from bench.report import table

TARGET_RATIO = 0.5
TARGET_GZIP_EVENTS_PER_SECOND = 50_000.0
CEILING, VIA_COLLECTOR, VIA_HEC = "ceiling", "relay>collector", "relay>hec"


@dataclass(frozen=True, slots=True)
class Row:
    """One timed pass of the whole journal: a ceiling run or a relay run."""

    round: int
    target: str
    gzip: bool
    events: int
    seconds: float
    sender_cores: float  # the bare client, or the relay's main thread
    sender_other_cores: float  # the relay's other threads (journal reader/writer, gzip)
    sink_cores: float
    startup_seconds: float = 0.0  # relay runs: spawn -> listening (imports, sink check)
    finished: bool = True

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def ceiling_row(round_number: int, measured: CeilingMeasured) -> Row:
    return Row(round=round_number, target=CEILING, gzip=measured.gzip,
               events=measured.run.events, seconds=measured.run.seconds,
               sender_cores=measured.client_cores, sender_other_cores=0.0,
               sink_cores=measured.collector_cores)


def with_format(target: str, fmt: str) -> str:
    """A relay target in a format: ``relay>hec`` (raw), ``relay>hec ocsf``."""
    return target if fmt == "raw" else f"{target} {fmt}"


def split_format(target: str) -> tuple[str, str]:
    base, _, fmt = target.partition(" ")
    return base, fmt or "raw"


def relay_row(round_number: int, run: RelayRun) -> Row:
    base = VIA_HEC if run.sink == "hec" else VIA_COLLECTOR
    return Row(round=round_number, target=with_format(base, run.fmt),
               gzip=run.gzip, events=run.delivered, seconds=run.seconds,
               sender_cores=run.relay_main_cores, sender_other_cores=run.relay_other_cores,
               sink_cores=run.sink_cores, startup_seconds=run.startup_seconds,
               finished=run.finished)


def variant(gzip: bool) -> str:
    return "gzip" if gzip else "plain"


def rows_table(rows: Sequence[Row]) -> str:
    header = ["round", "target", "body", "events/s", "seconds", "of which startup",
              "sender main cores", "sender other cores", "sink cores", "done"]
    return table(header, [[str(r.round), r.target, variant(r.gzip),
                           f"{r.events_per_second:,.0f}", f"{r.seconds:.2f}",
                           f"{r.startup_seconds:.2f}" if r.target != CEILING else "-",
                           f"{r.sender_cores:.2f}", f"{r.sender_other_cores:.2f}",
                           f"{r.sink_cores:.2f}", "yes" if r.finished else "NO (timeout)"]
                          for r in rows])


def median_events_per_second(rows: Sequence[Row], target: str, gzip: bool) -> float | None:
    mine = [r.events_per_second for r in rows if r.target == target and r.gzip == gzip]
    return statistics.median(mine) if mine else None


def round_ratios(rows: Sequence[Row], target: str, baseline: str, gzip: bool) -> list[float]:
    """events/s of ``target`` over ``baseline``, round by round (same-round pairs)."""
    ratios = []
    for number in sorted({r.round for r in rows}):
        top = [r for r in rows if (r.round, r.target, r.gzip) == (number, target, gzip)]
        bottom = [r for r in rows if (r.round, r.target, r.gzip) == (number, baseline, gzip)]
        if top and bottom:
            ratios.append(top[0].events_per_second / bottom[0].events_per_second)
    return ratios


def summary_table(rows: Sequence[Row]) -> str:
    header = ["target", "body", "median events/s", "/ ceiling (median of rounds)", "rounds"]
    lines = []
    for target in (CEILING, VIA_COLLECTOR, VIA_HEC, with_format(VIA_COLLECTOR, "ocsf"),
                   with_format(VIA_HEC, "ocsf")):
        for gzip in (True, False):
            median = median_events_per_second(rows, target, gzip)
            if median is None:
                continue
            ratios = round_ratios(rows, target, CEILING, gzip)
            lines.append([target, variant(gzip), f"{median:,.0f}",
                          f"{statistics.median(ratios):.3f}" if ratios else "-",
                          ", ".join(f"{r:.3f}" for r in ratios)])
    return table(header, lines)


def verdicts(rows: Sequence[Row]) -> tuple[list[str], dict[str, float]]:
    """The issue's targets, each with its figure and met / NOT met."""
    lines: list[str] = []
    figures: dict[str, float] = {}
    for target in (VIA_HEC, VIA_COLLECTOR):
        for gzip in (True, False):
            ocsf = round_ratios(rows, with_format(target, "ocsf"), target, gzip)
            if ocsf:  # issue 18: OCSF at least half of raw's events/s, same rounds
                median = statistics.median(ocsf)
                figures[f"{target} ocsf/raw:{variant(gzip)}"] = median
                lines.append(f"{target} ocsf / raw ({variant(gzip)}): median {median:.3f} "
                             f"(rounds: {', '.join(f'{r:.3f}' for r in ocsf)}); target >= "
                             f"{TARGET_RATIO:g}: {_met(median >= TARGET_RATIO)}")
            ratios = round_ratios(rows, target, CEILING, gzip)
            if not ratios:
                continue
            median = statistics.median(ratios)
            figures[f"{target}/{CEILING}:{variant(gzip)}"] = median
            lines.append(f"{target} / {CEILING} ({variant(gzip)}): median {median:.3f} "
                         f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)}); target >= "
                         f"{TARGET_RATIO:g}: {_met(median >= TARGET_RATIO)}")
    gzip_rate = median_events_per_second(rows, VIA_HEC, True)
    if gzip_rate is not None:
        figures[f"{VIA_HEC}:gzip events/s"] = gzip_rate
        lines.append(f"{VIA_HEC} with gzip: median {gzip_rate:,.0f} events/s; target >= "
                     f"{TARGET_GZIP_EVENTS_PER_SECOND:,.0f}: "
                     f"{_met(gzip_rate >= TARGET_GZIP_EVENTS_PER_SECOND)}")
    return lines, figures


def e2e_table(runs: Sequence[tuple[int, E2eRun]]) -> str:
    header = ["round", "target", "req/s", "p99 ms", "accepted events/s", "relayed events/s",
              "backlog at end of load", "drain s", "server cores", "sink distinct ids"]

    def cell(value: float | int | None, form: str) -> str:
        return "-" if value is None else format(value, form)

    return table(header, [[str(number), run.target, f"{run.requests_per_second:,.0f}",
                           f"{run.p99_ms:.2f}", f"{run.accepted_per_second:,.0f}",
                           cell(run.delivered_per_second, ",.0f"), cell(run.backlog_at_end, ","),
                           cell(run.drain_seconds, ".2f"), f"{run.server_cores:.2f}",
                           cell(run.sink_distinct_ids, ",")]
                          for number, run in runs])


def e2e_verdicts(runs: Sequence[tuple[int, E2eRun]]) -> tuple[list[str], dict[str, float]]:
    mine = [run for _, run in runs if run.target == RUN]
    if not mine:
        return [], {}
    ratios = []
    for number in sorted({n for n, _ in runs}):
        pair = {run.target: run for n, run in runs if n == number}
        if RUN in pair and RECEIVE in pair:
            ratios.append(pair[RUN].requests_per_second / pair[RECEIVE].requests_per_second)
    accepted = statistics.median(run.accepted_per_second for run in mine)
    drained = all(run.drain_seconds is not None for run in mine)
    figures = {"run:accepted events/s": accepted,
               "run:req/s": statistics.median(run.requests_per_second for run in mine)}
    lines = [f"auditstream run: median {figures['run:req/s']:,.0f} req/s, {accepted:,.0f} "
             f"distinct events/s stored and relayed; backlog 0 at the end of every run: "
             f"{'yes' if drained else 'NO'} (longest drain "
             f"{max((run.drain_seconds or 0.0) for run in mine):.2f} s)"]
    if ratios:
        figures["run/receive req/s"] = statistics.median(ratios)
        lines.append(f"run / receive req/s: median {statistics.median(ratios):.3f} (rounds: "
                     f"{', '.join(f'{r:.3f}' for r in ratios)})")
    return lines, figures


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def save(path: Path, document: dict[str, object]) -> None:
    """Everything measured, as JSON (bench/results/ is git-ignored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot save {type(value).__name__} as JSON")
