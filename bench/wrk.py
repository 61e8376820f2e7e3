"""Running wrk with ``wrk_post.lua`` and reading its report. Parsing is pure and separate."""

from __future__ import annotations

import json
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")
# GitLab gives up on a destination after 8 s: a slower answer is a lost event, so wrk's
# default 2 s timeout would be stricter than the real sender.
WRK_TIMEOUT = "8s"
_SCRIPT_LINE = "auditstream-bench "
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True, slots=True)
class ScriptCounts:
    """What wrk_post.lua counted: requests sent and answered, and what the answers said."""

    sent: int
    fresh: int
    answered: int
    non200: int
    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class WrkReport:
    """One wrk run as wrk reported it."""

    requests: int
    seconds: float
    requests_per_second: float
    latency_ms: dict[int, float]  # percentile -> milliseconds (50, 75, 90, 99)
    socket_errors: dict[str, int]  # connect, read, write, timeout
    non_2xx_3xx: int
    counts: ScriptCounts


@dataclass(frozen=True, slots=True)
class WrkRun:
    """A wrk run and the CPU wrk itself used, in cores (1.0 = one core busy all the time)."""

    report: WrkReport
    wrk_cores: float
    output: str


def wrk_command(url: str, *, threads: int, connections: int, seconds: float, token: str,
                first_id: int) -> list[str]:
    if seconds != int(seconds) or seconds < 1:
        raise ValueError(f"wrk runs for whole seconds, not {seconds}")
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
            f"--timeout={WRK_TIMEOUT}", "-s", str(WRK_SCRIPT), url, "--", token, str(first_id)]


def run_wrk(command: list[str]) -> WrkRun:
    """Run wrk to completion; its CPU time comes from the kernel's accounting of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {completed.returncode}): "
                           f"{completed.stderr.strip() or completed.stdout.strip()}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return WrkRun(report=parse_wrk_output(completed.stdout), wrk_cores=cpu / wall,
                  output=completed.stdout)


def parse_wrk_output(text: str) -> WrkReport:
    """Read wrk's ``--latency`` report and the script's count line."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if total is None or rate is None:
        raise ValueError(f"not a wrk report: {text[:300]!r}")
    latency = {int(p): _ms(v, u) for p, v, u in
               re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)}
    if set(latency) != {50, 75, 90, 99}:
        raise ValueError("wrk report without its latency distribution (run with --latency)")
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    if socket is not None:
        errors = dict(zip(errors, (int(n) for n in socket.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkReport(
        requests=int(total.group(1)), seconds=_ms(total.group(2), total.group(3)) / 1000,
        requests_per_second=float(rate.group(1)), latency_ms=latency, socket_errors=errors,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0, counts=_script_counts(text))


def _script_counts(text: str) -> ScriptCounts:
    for line in text.splitlines():
        if line.startswith(_SCRIPT_LINE):
            data = json.loads(line[len(_SCRIPT_LINE):])
            return ScriptCounts(sent=data["sent"], fresh=data["fresh"],
                                answered=data["answered"], non200=data["non200"],
                                accepted=data["accepted"], duplicates=data["duplicates"])
    raise ValueError(f"wrk report without the {_SCRIPT_LINE.strip()!r} line of {WRK_SCRIPT.name}")


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]
