"""The Redis journal benchmark: receiver events/s on Redis vs SQLite, with one and two receivers.

wrk (``bench/wrk_post.lua``: ~700-byte GitLab audit events, one in five a repeated id) posts
to four targets, alternately, round after round, in one run on one machine:

    sqlite x1   one ``auditstream receive`` on a SQLite journal (WAL, synchronous=FULL)
    sqlite x2   two receiver processes on that same file (they take turns at its write lock)
    redis x1    one receiver on Redis (appendonly yes, appendfsync everysec by default)
    redis x2    two receiver processes on the same Redis journal

With two receivers, two wrk processes share the connections, each posting to one receiver
with its own ids. Each run also reads the CPU time of every receiver and of redis-server,
and Redis' own count of script calls, which is what the scaling model in
docs/benchmarks-redis.md is built from. Afterwards each journal's stats must match what the
receivers answered: every fresh id stored once, every repeat refused.

    python -m bench.redis_bench                       # 3 rounds of 10 s per target
    python -m bench.redis_bench --appendfsync always
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.environment import REPO, CodeUnderTest, code_under_test, describe
from bench.procs import BenchError, Server, cpu_sample, cpu_times, idle_and_steal, start_server
from bench.wrk import WrkRun, run_wrk, wrk_command
from tests.journal.redis.server import RedisServer, start_redis

RESULTS_DIR = REPO / "bench" / "results"
TOKEN_ENV = "AUDITSTREAM_BENCH_TOKEN"  # noqa: S105 (the name of a variable)
FIRST_ID = 3_000_000_000
STRIDE = 64  # wrk_post.lua: thread t of a wrk sends base + t, base + t + 64, ...


@dataclass(slots=True)
class Target:
    name: str
    backend: str
    config: Path
    servers: list[Server] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run of one target."""

    target: str
    round: int
    events_per_second: float
    p50_ms: float
    p99_ms: float
    non200: int
    socket_errors: int
    receiver_cores: float  # all receiver processes together
    redis_cores: float
    script_calls_per_second: float
    wrk_cores: float
    others_cores: float  # what other processes on the machine used meanwhile


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_bench", description=(
        "Receiver events/s on the Redis journal vs SQLite, one and two receiver processes."))
    parser.add_argument("--duration", type=int, default=10, help="whole seconds per run")
    parser.add_argument("--warmup", type=int, default=2,
                        help="whole seconds per target first (0: none)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per target")
    parser.add_argument("--connections", type=int, default=64, help="in total per run")
    parser.add_argument("--appendfsync", choices=("everysec", "always"), default="everysec",
                        help="Redis' AOF fsync policy (default %(default)s)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.connections < 2:
        parser.error("--rounds, --duration and --connections must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        print("redis_bench: needs wrk and redis-server", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="auditstream-redis-bench-"))
    try:
        return run(args, workdir)
    except BenchError as exc:
        print(f"redis_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> int:
    code = code_under_test(None, workdir)
    environment = describe(code, load=(
        f"{args.connections} connections per run, {args.rounds} rounds x {args.duration:g} s "
        f"per target (+{args.warmup:g} s warm-up); redis appendfsync {args.appendfsync}"),
        pinning="none: receivers, redis-server and wrk share both cores")
    redis = start_redis(workdir / "redis", "--appendonly", "yes", "--appendfsync",
                        args.appendfsync)
    environment["redis"] = _redis_version()
    print("\n".join(f"{key}: {value}" for key, value in environment.items()), flush=True)
    token = secrets.token_urlsafe(18)
    targets = [make_target(workdir, name, backend, redis)
               for name, backend in (("sqlite x1", "sqlite"), ("sqlite x2", "sqlite"),
                                     ("redis x1", "redis"), ("redis x2", "redis"))]
    runs: list[Run] = []
    try:
        for target in targets:
            for index in range(1 if target.name.endswith("x1") else 2):
                target.servers.append(start_receiver(code, target, index, token, workdir))
        next_id = FIRST_ID
        for target in targets:
            if args.warmup > 0:
                next_id, _ = measure(args, target, token, next_id, redis, args.warmup, 0)
        for round_number in range(1, args.rounds + 1):
            for target in targets:
                next_id, measured = measure(args, target, token, next_id, redis,
                                            args.duration, round_number)
                assert measured is not None
                runs.append(measured)
                print(_line(measured), flush=True)
        stops = args.connections * (args.rounds + 1)
        problems = [p for target in targets for p in check(code, target, stops)]
    finally:
        for target in targets:
            for server in target.servers:
                server.stop()
        redis.stop()
    summary = summarise(runs, targets)
    print("\n" + summary)
    results = RESULTS_DIR / time.strftime("redis-%Y%m%d-%H%M%S.json")
    results.write_text(json.dumps({
        "command": " ".join(["python -m bench.redis_bench", *sys.argv[1:]]),
        "environment": environment, "runs": [asdict(r) for r in runs],
        "summary": summary, "problems": problems}, indent=2) + "\n")
    print(f"results saved to {results.relative_to(REPO)}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if not problems:
        print("checks passed: each journal holds every fresh id once and refused every repeat")
    return 1 if problems else 0


def make_target(workdir: Path, name: str, backend: str, redis: RedisServer) -> Target:
    slug = name.replace(" ", "")
    journal = (f'path = "{slug}.db"\n' if backend == "sqlite" else
               f'backend = "redis"\nurl = "{redis.url}"\nkey_prefix = "bench-{slug}"\n')
    config = workdir / f"{slug}.toml"
    config.write_text(f'[receiver]\nlisten = "127.0.0.1:0"\n[[receiver.destinations]]\n'
                      f'name = "bench"\ntoken_env = "{TOKEN_ENV}"\n[journal]\n{journal}')
    return Target(name, backend, config)


def start_receiver(code: CodeUnderTest, target: Target, index: int, token: str,
                   workdir: Path) -> Server:
    name = f"{target.name.replace(' ', '')}-{index}"
    command = [*code.cli, "receive",
               "--config", str(target.config)]
    return start_server(name, command, "auditstream receiver listening on",
                        workdir / f"{name}.stderr", env=code.env({TOKEN_ENV: token}),
                        cwd=workdir)


def measure(args: argparse.Namespace, target: Target, token: str, first_id: int,
            redis: RedisServer, seconds: int, round_number: int) -> tuple[int, Run | None]:
    """One wrk per receiver, at once, connections split; ids interleave and never repeat."""
    share = args.connections // len(target.servers)
    commands = [wrk_command(server.url, threads=1, connections=share, seconds=seconds,
                            token=token, first_id=first_id + index * (STRIDE // 2))
                for index, server in enumerate(target.servers)]
    pids = [server.pid for server in target.servers]
    before = [cpu_sample(pid) for pid in [*pids, redis.process.pid]]
    calls_before, machine_before = _script_calls(redis), cpu_times(None)
    with ThreadPoolExecutor(len(commands)) as pool:
        wrk_runs: list[WrkRun] = list(pool.map(run_wrk, commands))
    after = [cpu_sample(pid) for pid in [*pids, redis.process.pid]]
    idle, _steal = idle_and_steal(machine_before, cpu_times(None))
    calls = _script_calls(redis) - calls_before
    sent = max(w.report.counts.sent for w in wrk_runs)
    next_id = first_id + STRIDE * (sent + 1)
    target.accepted += sum(w.report.counts.accepted for w in wrk_runs)
    target.duplicates += sum(w.report.counts.duplicates for w in wrk_runs)
    if round_number == 0:
        return next_id, None
    wall = max(a.wall - b.wall for a, b in zip(after, before, strict=True))
    cores = [(a.total - b.total) / wall for a, b in zip(after, before, strict=True)]
    reports = [w.report for w in wrk_runs]
    wrk_cores = sum(w.wrk_cores for w in wrk_runs)
    busy = (1 - idle) * (os.cpu_count() or 1)
    return next_id, Run(
        target=target.name, round=round_number,
        events_per_second=sum(r.requests_per_second for r in reports),
        p50_ms=max(r.latency_ms[50] for r in reports),
        p99_ms=max(r.latency_ms[99] for r in reports),
        non200=sum(r.counts.non200 for r in reports),
        socket_errors=sum(sum(r.socket_errors.values()) for r in reports),
        receiver_cores=sum(cores[:-1]), redis_cores=cores[-1],
        script_calls_per_second=calls / wall if target.backend == "redis" else 0.0,
        wrk_cores=wrk_cores, others_cores=max(0.0, busy - sum(cores) - wrk_cores))


def check(code: CodeUnderTest, target: Target, in_flight_at_stops: int) -> list[str]:
    completed = subprocess.run([*code.cli, "journal",
                                "stats", "--config", str(target.config), "--output", "json"],
                               capture_output=True, text=True, env=code.env(), check=False,
                               cwd=target.config.parent)
    if completed.returncode != 0:
        return [f"{target.name}: journal stats failed: {completed.stderr.strip()}"]
    stats = json.loads(completed.stdout)
    # wrk stops with requests in flight: stored, never counted. At most one per connection.
    unanswered = in_flight_at_stops
    extra_events = stats["events"] - target.accepted
    extra_duplicates = stats["duplicates_refused"] - target.duplicates
    if not (0 <= extra_events <= unanswered and 0 <= extra_duplicates <= unanswered):
        return [f"{target.name}: the journal holds {stats['events']} events and refused "
                f"{stats['duplicates_refused']}; the receivers answered {target.accepted} "
                f"accepted and {target.duplicates} duplicates (and at most {unanswered} "
                "requests were cut off unanswered when wrk stopped)"]
    return []


def summarise(runs: list[Run], targets: list[Target]) -> str:
    rows = ["| target | events/s (median) | p50 ms | p99 ms | receiver cores | redis cores | "
            "receiver CPU µs/event | redis CPU µs/event | events per script call | "
            "others' cores |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for target in targets:
        mine = sorted((r for r in runs if r.target == target.name),
                      key=lambda r: r.events_per_second)
        median = mine[len(mine) // 2]
        rate = median.events_per_second
        per_call = (f"{rate / median.script_calls_per_second:.1f}"
                    if median.script_calls_per_second else "-")
        redis_us = f"{median.redis_cores / rate * 1e6:.0f}" if target.backend == "redis" else "-"
        rows.append(f"| {target.name} | {rate:,.0f} | {median.p50_ms:.1f} | {median.p99_ms:.1f}"
                    f" | {median.receiver_cores:.2f} | {median.redis_cores:.2f} | "
                    f"{median.receiver_cores / rate * 1e6:.0f} | {redis_us} | {per_call} | "
                    f"{median.others_cores:.2f} |")
    return "\n".join(rows)


def _line(run: Run) -> str:
    return (f"round {run.round} {run.target:10} {run.events_per_second:8,.0f} events/s  "
            f"p99 {run.p99_ms:6.1f} ms  receivers {run.receiver_cores:.2f} cores  "
            f"redis {run.redis_cores:.2f} cores  wrk {run.wrk_cores:.2f} cores  "
            f"others {run.others_cores:.2f} cores  "
            f"non-200 {run.non200}  socket errors {run.socket_errors}")


def _script_calls(redis: RedisServer) -> int:
    info = subprocess.run(["redis-cli", "-p", str(redis.port), "info", "commandstats"],
                          capture_output=True, text=True, check=False).stdout
    return sum(int(line.partition("calls=")[2].partition(",")[0]) for line in info.splitlines()
               if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")))


def _redis_version() -> str:
    completed = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                               check=False)
    return completed.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
