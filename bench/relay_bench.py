"""The relay benchmark (issue 3): relay events/s from a journal of N events, beside the ceiling.

Targets, each a whole pass of the same prefilled journal, with gzip and without:
- ``ceiling``: the relay's own request bodies (``relay.envelope.encode`` +
  ``relay.batch.cut_batches`` at the relay's defaults), posted one after another by a bare
  aiohttp client to a bare aiohttp collector (``bench.relay_collector``) that only reads the
  body; gzip done inline before each request, at the relay's level, as the relay must;
- ``relay>hec``: ``auditstream relay`` (the real CLI, as a process) to ``auditstream serve hec``,
  from spawning the relay until its /metrics show every event delivered and a backlog of 0;
- ``relay>collector``: the same relay to the bare collector: the relay's own cost, without
  the stand-in's.
Rounds alternate the targets (the order rotates) and every ratio pairs runs of the same round.
Then ``auditstream run`` end to end under the receiver benchmark's wrk load, beside
``auditstream receive`` alone (see ``bench.relay_e2e``).

    python -m bench.relay_bench                          # 1,000,000 events, 3 rounds
    python -m bench.relay_bench --events 100000 --rounds 1 --e2e-duration 5   # a quick look
    python -m bench.relay_bench --pythonpath /tmp/patched  # a patched copy of the packages
    python -m bench.relay_bench --formats raw,ocsf --gzip on --e2e-rounds 0
                             # each relay target in both formats, same rounds: OCSF / raw
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.environment import CodeUnderTest, code_under_test
from bench.prefill import PrefillResult
from bench.procs import BenchError
from bench.relay_ceiling import Bodies, load_bodies
from bench.relay_e2e import RECEIVE, RUN, E2eOptions, E2eRun, run_e2e
from bench.relay_env import describe, journal_events
from bench.relay_procs import run_ceiling, run_relay
from bench.relay_report import (
    CEILING,
    VIA_COLLECTOR,
    VIA_HEC,
    Row,
    ceiling_row,
    e2e_table,
    e2e_verdicts,
    relay_row,
    rows_table,
    save,
    split_format,
    summary_table,
    variant,
    verdicts,
    with_format,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
DEFAULT_EVENTS = 1_000_000
HEC_TOKEN = "bench-hec-token-0123456789"  # noqa: S105 (a loopback test value)
STREAM_TOKEN = "bench-token-0123456789ab"  # noqa: S105 (wrk_post.lua's default)


@dataclass(frozen=True, slots=True)
class Options:
    events: int
    rounds: int
    targets: tuple[str, ...]
    gzip: tuple[bool, ...]
    max_seconds: float
    e2e_rounds: int
    e2e: E2eOptions
    rev: str | None
    pythonpath: Path | None
    prefilled: Path | None
    workdir: Path | None
    keep: bool


def parse_args(argv: list[str] | None) -> Options:
    parser = _parser()
    args = parser.parse_args(argv)
    targets = tuple(t for t in args.targets.split(",") if t)
    if set(targets) - {VIA_HEC, VIA_COLLECTOR}:
        parser.error(f"--targets: known targets are {VIA_HEC} and {VIA_COLLECTOR}")
    formats = tuple(f for f in args.formats.split(",") if f)
    if not formats or set(formats) - {"raw", "ocsf"}:
        parser.error("--formats: raw, ocsf or both (raw,ocsf)")
    targets = tuple(with_format(t, f) for f in formats for t in targets)
    if args.events < 1 or args.rounds < 0 or args.e2e_rounds < 0 or args.e2e_duration <= 0:
        parser.error("--events and --e2e-duration must be positive, rounds at least 0")
    return Options(
        events=args.events, rounds=args.rounds, targets=targets,
        gzip={"both": (True, False), "on": (True,), "off": (False,)}[args.gzip],
        max_seconds=args.max_seconds, e2e_rounds=args.e2e_rounds,
        e2e=E2eOptions(duration=args.e2e_duration, warmup=args.e2e_warmup,
                       connections=args.connections, wrk_threads=args.wrk_threads,
                       server_cpus=None if args.no_pin else args.server_cpus,
                       wrk_cpus=None if args.no_pin else args.wrk_cpus),
        rev=args.rev, pythonpath=args.pythonpath.resolve() if args.pythonpath else None,
        prefilled=args.prefilled, workdir=args.workdir, keep=args.keep)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_bench",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS,
                        help="events in the prefilled journal (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every relay target "
                        "(default %(default)s; 0 skips the relay part)")
    parser.add_argument("--targets", default=f"{VIA_HEC},{VIA_COLLECTOR}",
                        help="relay targets beside the ceiling (default %(default)s)")
    parser.add_argument("--formats", default="raw",
                        help="the relay's sink format(s), comma-separated: raw, ocsf; each "
                             "relay target runs in each (default %(default)s)")
    parser.add_argument("--gzip", choices=("both", "on", "off"), default="both",
                        help="bodies gzipped, plain, or both (default %(default)s)")
    parser.add_argument("--max-seconds", type=float, default=1800.0,
                        help="give up on a relay run after this long (default %(default)s)")
    parser.add_argument("--e2e-rounds", type=int, default=3, help="rounds of run vs receive "
                        "under wrk (default %(default)s; 0 skips them)")
    parser.add_argument("--e2e-duration", type=float, default=10.0,
                        help="seconds of measured wrk load per e2e run (default %(default)s)")
    parser.add_argument("--e2e-warmup", type=float, default=2.0,
                        help="seconds of unmeasured load first (default %(default)s)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--server-cpus", default="0",
                        help="taskset CPUs of run/receive in the e2e part (default %(default)s)")
    parser.add_argument("--wrk-cpus", default="1",
                        help="taskset CPUs of wrk in the e2e part (default %(default)s)")
    parser.add_argument("--no-pin", action="store_true", help="no taskset in the e2e part")
    code = parser.add_mutually_exclusive_group()
    code.add_argument("--rev", help="run the servers on this git revision's packages "
                      "(exported with git archive), not the working tree, which others may "
                      "change during the run")
    code.add_argument("--pythonpath", type=Path, metavar="DIR",
                      help="run the servers with DIR first on PYTHONPATH (a patched copy of "
                           "the packages, to measure a fix without touching the tree)")
    parser.add_argument("--prefilled", type=Path,
                        help="reuse (or create and keep) the prefilled journal at this path")
    parser.add_argument("--workdir", type=Path, help="where the journals go (default: a new "
                        "temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if options.e2e_rounds and shutil.which("wrk") is None:
        print("relay_bench: wrk is not installed (or use --e2e-rounds 0)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="auditstream-relay-bench-", dir=options.workdir))
    try:
        return run(options, workdir)
    except BenchError as exc:
        print(f"relay_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(options: Options, workdir: Path) -> int:
    code = code_under_test(options.rev, workdir)
    if options.pythonpath is not None:
        code = CodeUnderTest(f"{options.pythonpath} first on PYTHONPATH ({code.description})",
                             options.pythonpath, code.cli)
    environment = describe(code.description)
    print("\n".join(f"{key}: {value}" for key, value in environment.items()), flush=True)
    rows: list[Row] = []
    if options.rounds:
        prefilled = prefilled_journal(options, workdir, code)
        rows = measure_relay(options, prefilled, workdir, code)
    e2e = measure_e2e(options, workdir, code)
    lines, figures = verdicts(rows)
    e2e_lines, e2e_figures = e2e_verdicts(e2e)
    if rows:
        print("\n" + rows_table(rows) + "\n\n" + summary_table(rows))
    if e2e:
        print("\n" + e2e_table(e2e))
    print("\n" + "\n".join(lines + e2e_lines))
    problems = [problem for _, e2e_run in e2e for problem in e2e_run.problems]
    problems += [f"{r.target} {variant(r.gzip)} round {r.round}: backlog not 0 within "
                 f"{options.max_seconds:g} s" for r in rows if not r.finished]
    results = RESULTS_DIR / time.strftime("relay-%Y%m%d-%H%M%S.json")
    save(results, {"command": " ".join(["python -m bench.relay_bench", *sys.argv[1:]]),
                   "options": options, "environment": environment,
                   "figures": {**figures, **e2e_figures}, "rows": rows,
                   "e2e": [{"round": n, **_fields(r)} for n, r in e2e], "problems": problems})
    print(f"results saved to {results.relative_to(REPO)}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if not problems and e2e:
        print("checks passed: every wrk request answered 200, each journal holds exactly the "
              "ids its receiver took, and the stand-in got each of them exactly once")
    return 1 if problems else 0


def prefilled_journal(options: Options, workdir: Path, code: CodeUnderTest) -> Path:
    """The prefilled journal: reused when --prefilled names one of the right size."""
    path = (options.prefilled or workdir / "prefilled.db").resolve()
    if path.exists():
        found = journal_events(path)
        if found != options.events:
            raise BenchError(f"{path} holds {found:,} events with no sink, not {options.events:,}"
                             "; give another --prefilled path")
        print(f"reusing {path}: {found:,} events", flush=True)
        return path
    print(f"prefilling {path} with {options.events:,} events ...", flush=True)
    # As the receiver benchmark does: the code under test's journal, first on PYTHONPATH.
    completed = subprocess.run([sys.executable, "-m", "bench.prefill", "--journal", str(path),
                                "--ids", str(options.events)], stdout=subprocess.PIPE, text=True,
                               env=code.env({"PYTHONPATH": str(REPO)}), cwd=path.parent,
                               check=False)
    if completed.returncode != 0:
        raise BenchError(f"prefill failed with exit status {completed.returncode}")
    result = PrefillResult(**json.loads(completed.stdout.strip().splitlines()[-1]))
    print(f"prefill: {result.ids:,} events in {result.seconds:.1f} s, "
          f"{result.file_bytes / 1e9:.2f} GB", flush=True)
    return path


def measure_relay(options: Options, prefilled: Path, workdir: Path,
                  code: CodeUnderTest) -> list[Row]:
    started = time.perf_counter()
    bodies = asyncio.run(load_bodies(prefilled))
    print(f"ceiling bodies: {len(bodies.bodies):,} requests, {bodies.events:,} events, "
          f"{bodies.raw_bytes / bodies.events:.0f} bytes per envelope, built in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    if bodies.events != options.events:
        raise BenchError(f"{prefilled} gave {bodies.events:,} events, not {options.events:,}")
    runs = [(target, gzip) for gzip in options.gzip
            for target in (CEILING, *options.targets)]
    one = _runner(options, prefilled, bodies, workdir, code)
    rows: list[Row] = []
    for number in range(1, options.rounds + 1):
        shift = (number - 1) % len(runs)
        for target, gzip in runs[shift:] + runs[:shift]:
            row = one(number, target, gzip)
            rows.append(row)
            print(f"round {number} {target:<16} {variant(gzip):<5} "
                  f"{row.events_per_second:>9,.0f} events/s  {row.seconds:7.2f} s  sender "
                  f"{row.sender_cores:.2f}+{row.sender_other_cores:.2f} cores  sink "
                  f"{row.sink_cores:.2f} cores{'' if row.finished else '  TIMED OUT'}",
                  flush=True)
    return rows


def _runner(options: Options, prefilled: Path, bodies: Bodies, workdir: Path,
            code: CodeUnderTest) -> Callable[[int, str, bool], Row]:
    def one(number: int, target: str, gzip: bool) -> Row:
        if target == CEILING:
            return ceiling_row(number, run_ceiling(bodies, gzip=gzip, workdir=workdir,
                                                   token=HEC_TOKEN))
        base, fmt = split_format(target)
        sink = "hec" if base == VIA_HEC else "collector"
        return relay_row(number, run_relay(prefilled, options.events, sink, gzip=gzip,
                                           workdir=workdir, code=code, token=HEC_TOKEN,
                                           max_seconds=options.max_seconds, fmt=fmt))

    return one


def measure_e2e(options: Options, workdir: Path,
                code: CodeUnderTest) -> list[tuple[int, E2eRun]]:
    runs: list[tuple[int, E2eRun]] = []
    for number in range(1, options.e2e_rounds + 1):
        order = (RECEIVE, RUN) if number % 2 else (RUN, RECEIVE)
        for target in order:
            result = run_e2e(target, options.e2e, workdir, code, (STREAM_TOKEN, HEC_TOKEN))
            runs.append((number, result))
            relayed = ("" if result.delivered_per_second is None else
                       f"  relayed {result.delivered_per_second:,.0f}/s, backlog "
                       f"{result.backlog_at_end} at the end, 0 after "
                       f"{result.drain_seconds or float('nan'):.2f} s")
            print(f"e2e round {number} {target:<8} {result.requests_per_second:>8,.0f} req/s  "
                  f"p99 {result.p99_ms:6.2f} ms  accepted {result.accepted_per_second:,.0f}/s"
                  f"{relayed}", flush=True)
    return runs


def _fields(run: E2eRun) -> dict[str, object]:
    return dataclasses.asdict(run)


if __name__ == "__main__":
    sys.exit(main())
