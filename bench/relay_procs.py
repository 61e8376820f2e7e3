"""The processes of the relay benchmark: sinks, ``auditstream relay``, and their metrics.

Each relay run gets a fresh copy of the prefilled journal (so its cursor starts at 0 and no
retention pass can touch the bodies) and a fresh sink process (the HEC stand-in keeps every
envelope it accepted in memory, so a new one per run keeps runs alike). The relay is the
real CLI, configured by a small TOML file (the CLI has no ``--no-gzip``), and watched through
its ``/metrics`` until its backlog is 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.environment import CodeUnderTest, installed_cli
from bench.procs import BenchError, Server, cores_used, cpu_sample, peak_rss_bytes, start_server
from bench.relay_ceiling import Bodies, CeilingRun, post_bodies
from bench.relay_collector import COUNTS_PATH
from bench.relay_collector import READY_LINE as COLLECTOR_READY

REPO = Path(__file__).resolve().parent.parent
HEC_TOKEN_ENV = "AUDITSTREAM_BENCH_HEC_TOKEN"  # noqa: S105 (the name of a variable)
SINK_NAME = "hec"
POLL_SECONDS = 0.1
# A relay that delivers nothing for this long is stuck (the stats scan takes ~0.4 s at 1M).
STALL_SECONDS = 60.0
HEC_READY = "auditstream HEC stand-in listening on"
RELAY_READY = "auditstream relay status listening on"
_METRIC = re.compile(r'^auditstream_relay_(delivered_events_total|backlog_events)'
                     r'\{sink="([^"]*)"\}\s+(\S+)$', re.M)
_STAND_IN_STOPPED = re.compile(r"stopped requests=(\d+) envelopes=(\d+)")


@dataclass(frozen=True, slots=True)
class RelayRun:
    """One relay run, from spawning the process until its backlog was seen at 0."""

    sink: str  # "hec" (the stand-in) or "collector"
    gzip: bool
    events: int
    delivered: int
    seconds: float  # spawn -> backlog 0 (what events/s is computed from)
    startup_seconds: float  # spawn -> status endpoint listening (imports, sink check)
    finished: bool
    relay_main_cores: float
    relay_other_cores: float
    sink_cores: float
    relay_peak_rss: int
    fmt: str = "raw"  # the sink's format: raw or ocsf

    @property
    def events_per_second(self) -> float:
        return self.delivered / self.seconds


def start_sink(kind: str, workdir: Path, code: CodeUnderTest, token: str) -> Server:
    """``auditstream serve hec`` or the bare collector, on a free port."""
    if kind == "hec":
        command = [*code.cli, "serve", "hec", "--listen", "127.0.0.1:0",
                   "--token-env", HEC_TOKEN_ENV]
        return start_server("hec stand-in", command, HEC_READY, workdir / "hec.stderr",
                            env=code.env({HEC_TOKEN_ENV: token}), cwd=workdir)
    command = [sys.executable, "-m", "bench.relay_collector", "--listen", "127.0.0.1:0"]
    return start_server("collector", command, COLLECTOR_READY, workdir / "collector.stderr",
                        cwd=REPO)


def relay_config(path: Path, url: str, *, gzip: bool, fmt: str = "raw") -> Path:
    """The TOML for one HEC sink at the defaults, gzip on or off, in format ``fmt``."""
    path.write_text(f'[[sinks]]\nname = "{SINK_NAME}"\ntype = "hec"\nurl = "{url}"\n'
                    f'token_env = "{HEC_TOKEN_ENV}"\ngzip = {"true" if gzip else "false"}\n'
                    f'format = "{fmt}"\n')
    return path


def run_relay(prefilled: Path, events: int, sink_kind: str, *, gzip: bool, workdir: Path,
              code: CodeUnderTest, token: str, max_seconds: float,
              fmt: str = "raw") -> RelayRun:
    """A fresh journal copy and sink; the relay from spawn until the backlog is 0."""
    journal = fresh_copy(prefilled, workdir / "relay-run.db")
    sink = start_sink(sink_kind, workdir, code, token)
    try:
        config = relay_config(workdir / "relay.toml", sink.url, gzip=gzip, fmt=fmt)
        command = [*code.cli, "relay", "--config", str(config), "--journal", str(journal),
                   "--listen", "127.0.0.1:0"]
        sink_before = cpu_sample(sink.pid)
        spawned = time.monotonic()
        relay = start_server("relay", command, RELAY_READY, workdir / "relay.stderr",
                             env=code.env({HEC_TOKEN_ENV: token}), cwd=workdir)
        try:
            ready = time.monotonic()
            relay_before = cpu_sample(relay.pid)
            delivered, finished = wait_for_empty_backlog(relay.url, events,
                                                         spawned + max_seconds)
            ended = time.monotonic()
            main, other = cores_used(relay_before, cpu_sample(relay.pid))
            sink_main, sink_other = cores_used(sink_before, cpu_sample(sink.pid))
            rss = peak_rss_bytes(relay.pid)
        finally:
            stop(relay)
    finally:
        stop(sink)
    check_sink_count(sink, sink_kind, delivered)
    remove_journal(journal)
    return RelayRun(sink=sink_kind, fmt=fmt, gzip=gzip, events=events, delivered=delivered,
                    seconds=ended - spawned, startup_seconds=ready - spawned, finished=finished,
                    relay_main_cores=main, relay_other_cores=other,
                    sink_cores=sink_main + sink_other, relay_peak_rss=rss)


def fresh_copy(source: Path, target: Path) -> Path:
    """``source`` copied to ``target``, with no WAL or shared memory left from a run before
    (SQLite would replay an old WAL onto the fresh copy)."""
    remove_journal(target)
    shutil.copyfile(source, target)
    return target


def remove_journal(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


def wait_for_empty_backlog(status_url: str, events: int, deadline: float) -> tuple[int, bool]:
    """Poll /metrics until every event is delivered and the backlog is 0; give up at the
    deadline, or when nothing was delivered for ``STALL_SECONDS``."""
    last_change, last_delivered = time.monotonic(), -1
    while True:
        delivered, backlog = relay_metrics(status_url)
        now = time.monotonic()
        if backlog == 0 and delivered >= events:
            return delivered, True
        if delivered != last_delivered:
            last_change, last_delivered = now, delivered
        if now > deadline or now - last_change > STALL_SECONDS:
            return delivered, False
        time.sleep(POLL_SECONDS)


def relay_metrics(status_url: str) -> tuple[int, int | None]:
    """(delivered events, backlog or None before the pipeline reported it) of our sink."""
    with urllib.request.urlopen(status_url + "/metrics", timeout=10) as answer:  # noqa: S310
        text = answer.read().decode()
    values = {name: round(float(value)) for name, sink, value in _METRIC.findall(text)
              if sink == SINK_NAME}
    return values.get("delivered_events_total", 0), values.get("backlog_events")


def stop(server: Server) -> None:
    status = server.stop()
    if status != 0:
        raise BenchError(f"{server.name} exited with status {status} on SIGTERM; see "
                         f"{server.stderr_path}")


def check_sink_count(sink: Server, kind: str, delivered: int) -> None:
    """The sink's own count must match what the relay says it delivered."""
    if kind != "hec":
        return  # the collector's count is read by the ceiling; it does not parse envelopes
    found = _STAND_IN_STOPPED.search(sink.stderr_path.read_text())
    if found is None:
        raise BenchError(f"the stand-in did not log its counts; see {sink.stderr_path}")
    if int(found.group(2)) != delivered:
        raise BenchError(f"the relay says it delivered {delivered:,} events, the stand-in "
                         f"accepted {int(found.group(2)):,}")


def collector_counts(collector: Server) -> dict[str, int]:
    with urllib.request.urlopen(collector.url + COUNTS_PATH, timeout=10) as answer:  # noqa: S310
        counts: dict[str, int] = json.loads(answer.read())
    return counts


@dataclass(frozen=True, slots=True)
class CeilingMeasured:
    """A ceiling run and the CPU both sides used, in cores."""

    run: CeilingRun
    gzip: bool
    client_cores: float
    collector_cores: float


def run_ceiling(bodies: Bodies, *, gzip: bool, workdir: Path, token: str) -> CeilingMeasured:
    """A fresh bare collector; every body posted by the bare client in this process."""
    bench_code = CodeUnderTest("bench", None, (installed_cli(),))
    collector = start_sink("collector", workdir, bench_code, token)
    try:
        client_before, collector_before = cpu_sample(os.getpid()), cpu_sample(collector.pid)
        run = asyncio.run(post_bodies(collector.url, token, bodies, gzip=gzip))
        client = sum(cores_used(client_before, cpu_sample(os.getpid())))
        sink = sum(cores_used(collector_before, cpu_sample(collector.pid)))
        counts = collector_counts(collector)
    finally:
        stop(collector)
    if counts != {"requests": run.requests, "bytes": run.wire_bytes}:
        raise BenchError(f"the collector read {counts}; the client sent {run.requests} "
                         f"requests, {run.wire_bytes} bytes")
    return CeilingMeasured(run=run, gzip=gzip, client_cores=client, collector_cores=sink)
