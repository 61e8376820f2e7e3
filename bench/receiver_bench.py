"""The receiver benchmark: durable, deduplicating events/s against a bare aiohttp handler.

wrk (``bench/wrk_post.lua``) posts realistic ~700-byte GitLab audit events, one in five a
repeated id, over 64 connections to a bare aiohttp handler (the framework ceiling) and to
``auditstream receive``, alternately, round after round, so every ratio compares runs made
minutes apart on the same machine. Afterwards it checks that nothing was refused and that the
journal holds exactly the ids the receiver answered 200 for, and reads the receiver's peak RSS.
With ``--prefill-ids N`` a third target joins: a receiver on a journal already holding N ids.
``--ladder`` adds the bare handler's stages (read, parse, hand-off, fsync, and the receiver's
own handler on a journal that keeps nothing) between the two, and
``--rev REV`` measures one commit's receiver however the working tree changes meanwhile.
Results and method: docs/benchmarks.md.

    python -m bench.receiver_bench --rev HEAD                       # 3 rounds of 10 s each
    python -m bench.receiver_bench --rev HEAD --prefill-ids 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.environment import REPO, CodeUnderTest, code_under_test, describe
from bench.prefill import PrefillResult
from bench.procs import (
    BenchError,
    peak_rss_bytes,
    pinned,
    start_server,
)
from bench.report import (
    TARGET_P99_MS,
    TARGET_PREFILLED_RATIO,
    TARGET_RATIO,
    Measured,
    Summary,
    round_ratios,
    rounds_table,
    save_results,
    summarise,
    summary_table,
    undisturbed_rounds,
    verdict,
)
from bench.rounds import IDS_PER_THREAD_STRIDE, Load, Target, measure
from bench.verify import (
    JournalDelta,
    answer_problems,
    journal_problems,
    parse_metrics,
    sum_counts,
)

RESULTS_DIR = REPO / "bench" / "results"
TOKEN_ENV = "AUDITSTREAM_BENCH_TOKEN"  # noqa: S105 (the name of a variable)
BARE, RECEIVER, PREFILLED = "bare", "receiver", "receiver-prefilled"
BASELINE = "receiver-baseline"  # --baseline-rev: another version's receiver, same rounds
# The bare handler's stages between "none" and the receiver (see bench/bare_handler.py).
LADDER = ("read", "parse", "handoff", "fsync", "handler")
# The prefill needs about this much disk per id (body, row, index, WAL headroom).
_DISK_BYTES_PER_ID = 1600


@dataclass(frozen=True, slots=True)
class Options:
    duration: int
    warmup: int
    rounds: int
    connections: int
    wrk_threads: int
    prefill_ids: int
    server_cpus: str | None
    wrk_cpus: str | None
    rev: str | None
    baseline_rev: str | None
    ladder: bool
    workdir: Path | None
    keep: bool


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.receiver_bench",
        description="Receiver vs bare aiohttp handler under wrk: req/s, p50/p99, peak RSS.")
    parser.add_argument("--duration", type=int, default=10,
                        help="whole seconds per measured wrk run (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="whole seconds of unmeasured load per target first, 0 for none "
                             "(default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measured runs per target, alternating targets (default %(default)s)")
    parser.add_argument("--connections", type=int, default=64,
                        help="concurrent connections (default %(default)s)")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads (default %(default)s: wrk has one core of its own)")
    parser.add_argument("--prefill-ids", type=int, default=0, metavar="N",
                        help="also measure a receiver whose journal already holds N ids")
    parser.add_argument("--server-cpus", default="0",
                        help="taskset CPU list for the servers (default %(default)s)")
    parser.add_argument("--wrk-cpus", default="1",
                        help="taskset CPU list for wrk (default %(default)s)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin: servers and wrk share every core")
    parser.add_argument("--rev", help="benchmark this git revision's receiver and journal "
                                      "(exported with git archive) instead of the working tree")
    parser.add_argument("--baseline-rev", metavar="REV",
                        help="also run REV's receiver (on an empty journal of its own) in every "
                             "round: receiver / baseline ratios are an A/B of two versions "
                             "measured in the same run")
    parser.add_argument("--ladder", action="store_true",
                        help="also measure the bare handler's stages (read, parse, handoff, "
                             "fsync, handler) to show where the receiver's time goes")
    parser.add_argument("--workdir", type=Path,
                        help="where the journals go (default: a new temporary directory)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the journals afterwards (they are removed by default)")
    args = parser.parse_args(argv)
    if min(args.rounds, args.connections, args.duration) < 1 or args.warmup < 0:
        parser.error("--rounds, --connections and --duration must be at least 1")
    if args.prefill_ids < 0:
        parser.error("--prefill-ids cannot be negative")
    if not 1 <= args.wrk_threads <= min(args.connections, IDS_PER_THREAD_STRIDE):
        parser.error(f"--wrk-threads must be 1..min(connections, {IDS_PER_THREAD_STRIDE})")
    return Options(duration=args.duration, warmup=args.warmup, rounds=args.rounds,
                   connections=args.connections, wrk_threads=args.wrk_threads,
                   prefill_ids=args.prefill_ids,
                   server_cpus=None if args.no_pin else args.server_cpus,
                   wrk_cpus=None if args.no_pin else args.wrk_cpus,
                   rev=args.rev, baseline_rev=args.baseline_rev, ladder=args.ladder,
                   workdir=args.workdir, keep=args.keep)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    for tool in ("wrk", *(("taskset",) if options.server_cpus is not None else ())):
        if shutil.which(tool) is None:
            print(f"receiver_bench: {tool} is not installed", file=sys.stderr)
            return 2
    workdir = Path(tempfile.mkdtemp(prefix="auditstream-bench-", dir=options.workdir))
    try:
        return run(options, workdir)
    except BenchError as exc:
        print(f"receiver_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"journals kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(options: Options, workdir: Path) -> int:
    code = code_under_test(options.rev, workdir)
    environment = describe(code, load=(
        f"{options.connections} connections, {options.wrk_threads} wrk thread(s), "
        f"{options.rounds} rounds x {options.duration:g} s per target "
        f"(+{options.warmup:g} s warm-up)"), pinning=(
        "none: servers and wrk share every core" if options.server_cpus is None else
        f"servers on CPU {options.server_cpus}, wrk on CPU {options.wrk_cpus} (taskset)"))
    baseline = None
    if options.baseline_rev is not None:
        baseline = code_under_test(options.baseline_rev, workdir, "baseline-code")
        environment["baseline"] = baseline.description
    print("\n".join(f"{key}: {value}" for key, value in environment.items()), flush=True)
    prefilled: PrefillResult | None = None
    if options.prefill_ids:
        prefilled = prefill_journal(code, workdir / "prefilled.db", options.prefill_ids)
    token = secrets.token_urlsafe(18)
    targets = start_targets(options, code, workdir, token, prefilled is not None, baseline)
    load = Load(connections=options.connections, wrk_threads=options.wrk_threads, token=token,
                server_cpus=options.server_cpus, wrk_cpus=options.wrk_cpus, journals=workdir)
    try:
        measured = measure(load, targets, rounds=options.rounds, seconds=options.duration,
                           warmup=options.warmup)
        problems, peak_rss = check_and_read_rss(targets, code, baseline)
    finally:
        stop_problems = stop_all(targets)
    problems += stop_problems
    kept, left_out = undisturbed_rounds(measured)
    summaries = [summarise(t.name, kept) for t in targets]
    print("\n" + rounds_table(measured) + "\n")
    if left_out:
        print(f"figures below leave out the disturbed round(s) {left_out}")
    print(summary_table(summaries, peak_rss) + "\n")
    if any(m.disturbed for m in kept):
        print("NOT A RESULT: every round had a disturbed run, so the verdicts below say more "
              "about the neighbours than about the receiver")
    figures = print_verdicts(kept, summaries, prefilled, baseline is not None)
    results = RESULTS_DIR / time.strftime("receiver-%Y%m%d-%H%M%S.json")
    save_results(results, {
        "command": " ".join(["python -m bench.receiver_bench", *sys.argv[1:]]),
        "options": options, "environment": environment, "figures": figures,
        "peak_rss_bytes": peak_rss, "prefill": prefilled, "summaries": summaries,
        "rounds_left_out": left_out, "runs": measured, "problems": problems})
    print(f"results saved to {results.relative_to(REPO)}")
    disturbed = [m for m in kept if m.disturbed]
    if disturbed:
        print(f"WARNING: every round had DISTURBED runs ({len(disturbed)} of {len(kept)}): "
              "other processes or guests used the servers' CPUs; rerun on a quiet machine")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if not problems:
        print("checks passed: every request answered 200, no socket errors, and each journal "
              "holds exactly the distinct ids its receiver answered 200 for")
    return 1 if problems else 0


def prefill_journal(code: CodeUnderTest, path: Path, ids: int) -> PrefillResult:
    """``python -m bench.prefill`` on the code under test: N ids through the journal's API."""
    free = shutil.disk_usage(path.parent).free
    if free < ids * _DISK_BYTES_PER_ID:
        raise BenchError(f"prefilling {ids:,} ids needs about {ids * _DISK_BYTES_PER_ID / 1e9:.1f}"
                         f" GB in {path.parent}; {free / 1e9:.1f} GB free (see --workdir)")
    print(f"prefilling {path} with {ids:,} ids ...", flush=True)
    # cwd is the work dir so that the code under test, first on PYTHONPATH, is what imports.
    completed = subprocess.run([sys.executable, "-m", "bench.prefill", "--journal", str(path),
                                "--ids", str(ids)], stdout=subprocess.PIPE, text=True,
                               env=code.env({"PYTHONPATH": str(REPO)}), cwd=path.parent,
                               check=False)
    if completed.returncode != 0:
        raise BenchError(f"prefill failed with exit status {completed.returncode}")
    result = PrefillResult(**json.loads(completed.stdout.strip().splitlines()[-1]))
    print(f"prefill: {result.ids:,} ids in {result.seconds:.1f} s "
          f"({result.ids / result.seconds:,.0f} ids/s), file {result.file_bytes / 1e9:.2f} GB",
          flush=True)
    # Gigabytes of the prefill may still be in the page cache waiting to be written back; the
    # receivers' fsyncs would queue behind that writeback and measure the disk's backlog.
    started = time.monotonic()
    os.sync()
    print(f"prefill: written back to disk (sync) in {time.monotonic() - started:.1f} s",
          flush=True)
    return result


def start_targets(options: Options, code: CodeUnderTest, workdir: Path, token: str,
                  with_prefilled: bool, baseline: CodeUnderTest | None = None) -> list[Target]:
    targets: list[Target] = []
    try:
        for stage in ("none", *(LADDER if options.ladder else ())):
            name = BARE if stage == "none" else f"bare+{stage}"
            command = [sys.executable, "-m", "bench.bare_handler", "--listen", "127.0.0.1:0",
                       "--stage", stage]
            targets.append(Target(name, start_server(
                name, pinned(command, options.server_cpus), "bare handler listening on",
                workdir / f"{name}.stderr", env=code.env({TOKEN_ENV: token}),
                cwd=REPO)))
        journals = [(RECEIVER, workdir / "empty.db", code)]
        if with_prefilled:
            journals.append((PREFILLED, workdir / "prefilled.db", code))
        if baseline is not None:
            journals.append((BASELINE, workdir / "baseline.db", baseline))
        for name, journal, its_code in journals:
            command = [*its_code.cli, "receive", "--listen", "127.0.0.1:0",
                       "--journal", str(journal), "--token-env", TOKEN_ENV]
            server = start_server(name, pinned(command, options.server_cpus),
                                  "auditstream receiver listening on",
                                  workdir / f"{name}.stderr",
                                  env=its_code.env({TOKEN_ENV: token}), cwd=workdir)
            targets.append(Target(name, server, journal, journal_stats(its_code, journal)))
    except BaseException:
        stop_all(targets)
        raise
    return targets


def check_and_read_rss(targets: list[Target], code: CodeUnderTest,
                       baseline: CodeUnderTest | None = None
                       ) -> tuple[list[str], dict[str, int]]:
    """Let in-flight requests finish, then compare wrk, /metrics and the journal; read VmHWM."""
    time.sleep(1.0)
    problems: list[str] = []
    for target in targets:
        problems += answer_problems(target.name, target.reports)
        if target.journal is None:
            continue
        metrics_url = target.server.url + "/metrics"  # http://127.0.0.1:PORT, printed by it
        with urllib.request.urlopen(metrics_url, timeout=10) as answer:  # noqa: S310
            server = parse_metrics(answer.read().decode())
        its_code = baseline if target.name == BASELINE and baseline is not None else code
        after = journal_stats(its_code, target.journal)
        delta = JournalDelta(**{key: after[key] - target.stats_before[key] for key in
                                ("events", "remembered_ids", "duplicates_refused")})
        sent = sum_counts(report.counts for report in target.reports)
        problems += journal_problems(target.name, sent, server, delta)
        print(f"{target.name}: wrk sent {sent.sent:,} requests ({sent.fresh:,} distinct new "
              f"ids) and read {sent.answered:,} answers; the receiver answered "
              f"{server.requests.get('ok', 0):,} with 200; the journal gained "
              f"{delta.events:,} events and refused {delta.duplicates_refused:,} duplicates")
    peak_rss = {target.name: peak_rss_bytes(target.server.pid) for target in targets}
    return problems, peak_rss


def journal_stats(code: CodeUnderTest, path: Path) -> dict[str, int]:
    """``auditstream journal stats --output json``: the journal as its own CLI sees it."""
    completed = subprocess.run([*code.cli, "journal", "stats", "--journal", str(path),
                                "--output", "json"], capture_output=True, text=True,
                               env=code.env(), check=False)
    if completed.returncode != 0:
        raise BenchError(f"journal stats {path}: {completed.stderr.strip()}")
    stats: dict[str, int] = json.loads(completed.stdout)
    return stats


def stop_all(targets: list[Target]) -> list[str]:
    problems = []
    for target in targets:
        try:
            status = target.server.stop()
        except BenchError as exc:
            problems.append(str(exc))
            continue
        if status != 0:
            problems.append(f"{target.name} exited with status {status} on SIGTERM; see "
                            f"{target.server.stderr_path}")
    return problems


def print_verdicts(measured: list[Measured], summaries: list[Summary],
                   prefilled: PrefillResult | None, with_baseline: bool = False
                   ) -> dict[str, float]:
    figures: dict[str, float] = {}
    ratios = round_ratios(measured, RECEIVER, BARE)
    print(verdict("receiver / bare req/s", ratios, TARGET_RATIO))
    receiver = next(s for s in summaries if s.target == RECEIVER)
    p99_status = "met" if receiver.p99_ms < TARGET_P99_MS else "NOT met"
    print(f"receiver p99: median {receiver.p99_ms:.2f} ms; target < {TARGET_P99_MS:g} ms: "
          f"{p99_status}")
    figures["receiver_over_bare"] = statistics.median(ratios)
    figures["receiver_p99_ms"] = receiver.p99_ms
    per_cpu = round_ratios(measured, RECEIVER, BARE, per_cpu=True)
    figures["receiver_over_bare_per_cpu_second"] = statistics.median(per_cpu)
    print(f"receiver / bare requests per CPU-second (capacity on one core, less sensitive to "
          f"neighbours): median {statistics.median(per_cpu):.3f}")
    if prefilled is not None:
        filled = round_ratios(measured, PREFILLED, RECEIVER)
        print(verdict(f"receiver with {prefilled.ids:,} ids / empty journal req/s", filled,
                      TARGET_PREFILLED_RATIO))
        figures["prefilled_over_empty"] = statistics.median(filled)
        filled_cpu = round_ratios(measured, PREFILLED, RECEIVER, per_cpu=True)
        figures["prefilled_over_empty_per_cpu_second"] = statistics.median(filled_cpu)
        print(f"receiver with {prefilled.ids:,} ids / empty journal, requests per CPU-second: "
              f"median {statistics.median(filled_cpu):.3f}")
        figures["prefilled_over_bare"] = statistics.median(
            round_ratios(measured, PREFILLED, BARE))
    if with_baseline:
        for by_cpu, label in ((False, "req/s"), (True, "requests per CPU-second")):
            ratios = round_ratios(measured, RECEIVER, BASELINE, per_cpu=by_cpu)
            rounds = ", ".join(f"{r:.3f}" for r in ratios)
            print(f"receiver / baseline receiver, {label}: median {statistics.median(ratios):.3f} "
                  f"(rounds: {rounds})")
            key = "receiver_over_baseline" + ("_per_cpu_second" if by_cpu else "")
            figures[key] = statistics.median(ratios)
        figures["baseline_over_bare"] = statistics.median(round_ratios(measured, BASELINE, BARE))
    return figures


if __name__ == "__main__":
    sys.exit(main())
