"""The long crash soak, by hand: the CI crash suite's harness with more kills and more time.

    python -m bench.crash_soak                       # 100 SIGKILLs, about 8 minutes
    python -m bench.crash_soak --kills 300 --seed 7 --max-up 5 --outage 30

Each round: ``auditstream run`` is SIGKILLed at a random moment (uniform between --min-up and
--max-up seconds after it is ready) and restarted, under a steady stream from the GitLab
stand-in with its duplicate knobs on, while the HEC stand-in answers 503s, 500s, timeouts and
resets and, once, goes away for --outage seconds. Prints the figures of
``tests.reliability.crash.CrashReport`` and exits 1 if anything answered 200 was lost, anything
foreign reached the sink, duplicates passed their bound or the journal is not intact.
Loopback only; bounded by --kills.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.reliability.crash import DEFAULT_CRASH_SEED, CrashPlan, CrashReport, CrashRun


def parse_args(argv: list[str] | None = None) -> CrashPlan:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=DEFAULT_CRASH_SEED)
    parser.add_argument("--min-up", type=float, default=0.5)
    parser.add_argument("--max-up", type=float, default=4.0)
    parser.add_argument("--outage", type=float, default=20.0)
    parser.add_argument("--fault-every", type=float, default=3.0,
                        help="seconds between scripted sink faults (the CI suite: 1)")
    parser.add_argument("--events-per-tick", type=int, default=3,
                        help="events made every 50 ms (3: about 60 a second)")
    args = parser.parse_args(argv)
    return CrashPlan(kills=args.kills, seed=args.seed, min_up_seconds=args.min_up,
                     max_up_seconds=args.max_up, outage_seconds=args.outage,
                     events_per_tick=args.events_per_tick, drain_timeout_seconds=300.0,
                     fault_every_seconds=args.fault_every)


def failures(report: CrashReport) -> list[str]:
    problems = []
    if report.lost:
        problems.append(f"lost {len(report.lost)} events answered 200: {report.lost[:10]}")
    if report.foreign:
        problems.append(f"{len(report.foreign)} foreign events at the sink")
    if report.duplicates > report.duplicate_bound:
        problems.append(f"{report.duplicates} duplicates, over the bound "
                        f"{report.duplicate_bound}")
    if report.integrity != "ok":
        problems.append(f"journal integrity_check: {report.integrity}")
    if report.last_exit_code != 0:
        problems.append(f"last SIGTERM exit code {report.last_exit_code}")
    return problems


def main(argv: list[str] | None = None) -> int:
    plan = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="auditstream-crash-soak-") as folder:
        report = asyncio.run(CrashRun(Path(folder), plan, say=print).run())
    print("\n".join(report.lines()))
    problems = failures(report)
    for problem in problems:
        print("FAILED:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
