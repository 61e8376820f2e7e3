"""The crash-and-fault harness: GitLab streams, `auditstream run` is SIGKILLed and restarted,
the HEC sink misbehaves; then every answer is checked against what reached the sink.

Used by ``tests/reliability/test_crash_suite.py`` (bounded, in CI) and by
``bench/crash_soak.py`` (longer, by hand). Everything runs on 127.0.0.1: the GitLab and HEC
stand-ins in this process, ``auditstream run`` as a real subprocess serving a socket this
process holds (``listen = "fd:N"``, as systemd's socket activation does), so the GitLab
destination's URL stays right across restarts and nothing else can take the port between two.

What is checked, with GitLab's answers as the ground truth:
- lost: an event the receiver answered 200 that is not at the sink (by id, or by content
  hash for stream-only events re-sent with a fresh UUID). The target is none.
- foreign: an event at the sink that GitLab never sent, byte for byte. None, ever.
- duplicates at the sink, bounded by what was in flight at each kill (events the sink had
  that the journal's cursor did not yet cover) plus batches whose answer a fault cut off
  after the sink took them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditstream.receiver.connections import reserve
from auditstream.receiver.parse import content_hash
from auditstream.server.gitlab import (
    DEFAULT_SEED,
    GitLabConfig,
    Knobs,
    RunningGitLab,
    running_gitlab,
)
from auditstream.server.gitlab.deliveries import Result
from auditstream.server.gitlab.seed import SeedDestination
from auditstream.server.hec import RunningHec, running_hec
from tests.helpers.ports import LOOPBACK, port_of
from tests.processes import ServerProcess

STREAM_TOKEN = "crash-suite-token-01234"
SINK = "splunk"
PROJECTS = ("acme/website", "acme/platform/api")
# What `auditstream run` may have in flight per sink: windows_in_flight (2, the default)
# journal reads of batch_max_events each.
WINDOWS_IN_FLIGHT = 2
DEFAULT_CRASH_SEED = 20261129


@dataclass(frozen=True, slots=True)
class CrashPlan:
    """How hard to push. The defaults fit CI (about a minute on two shared cores)."""

    kills: int = 12
    min_up_seconds: float = 0.5
    max_up_seconds: float = 2.5
    events_per_tick: int = 3
    tick_seconds: float = 0.05
    outage_seconds: float = 6.0
    fault_every_seconds: float = 1.0
    batch_max_events: int = 50
    seed: int = DEFAULT_CRASH_SEED
    drain_timeout_seconds: float = 60.0

    @property
    def in_flight_bound(self) -> int:
        return WINDOWS_IN_FLIGHT * self.batch_max_events


@dataclass(slots=True)
class CrashReport:
    plan: CrashPlan
    kills: int = 0
    starts: int = 0
    seconds: float = 0.0
    events_made: int = 0
    deliveries: int = 0
    answered_200: int = 0
    refused: int = 0
    not_answered: int = 0
    unique_answered_200: int = 0
    lost: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    stored_without_200: int = 0
    at_sink: int = 0
    unique_at_sink: int = 0
    duplicates: int = 0
    in_flight_at_kills: list[int] = field(default_factory=list)
    cut_off_after_acceptance: int = 0
    hec_requests: Counter[str] = field(default_factory=Counter)
    integrity: str = ""
    last_exit_code: int | None = None

    @property
    def duplicate_bound(self) -> int:
        return sum(self.in_flight_at_kills) + self.cut_off_after_acceptance

    def lines(self) -> list[str]:
        hec = ", ".join(f"{k} {v}" for k, v in sorted(self.hec_requests.items()))
        return [
            f"crash suite (seed {self.plan.seed}): {self.kills} SIGKILLs, {self.starts} starts,"
            f" {self.seconds:.1f} s",
            f"  GitLab: {self.events_made} events made, {self.deliveries} deliveries "
            f"(duplicates and job retries included): {self.answered_200} answered 200 "
            f"({self.unique_answered_200} distinct events), {self.refused} refused, "
            f"{self.not_answered} unanswered (receiver killed or restarting)",
            f"  sink: {self.at_sink} envelopes, {self.unique_at_sink} distinct events, "
            f"{self.duplicates} duplicates (bound {self.duplicate_bound}: in flight at kills "
            f"{self.in_flight_at_kills}, max {max(self.in_flight_at_kills, default=0)} of "
            f"{self.plan.in_flight_bound}; cut off after acceptance "
            f"{self.cut_off_after_acceptance})",
            f"  lost (answered 200, not at the sink): {len(self.lost)}; foreign (at the sink, "
            f"never sent): {len(self.foreign)}; stored without a 200 (answer lost in the "
            f"kill): {self.stored_without_200}",
            f"  HEC answers: {hec}",
            f"  journal integrity_check: {self.integrity}; last exit code after SIGTERM: "
            f"{self.last_exit_code}",
        ]


def write_config(folder: Path, listen_fd: int, hec_url: str, plan: CrashPlan) -> Path:
    config = folder / "auditstream.toml"
    config.write_text(f"""
[receiver]
listen = "fd:{listen_fd}"
shutdown_timeout_seconds = 5

[[receiver.destinations]]
name = "acme"
token_env = "STREAM_TOKEN"
path = "/gitlab"
content_hash_dedup = true

[journal]
path = "journal.db"

[relay]
backoff_base_seconds = 0.05
backoff_cap_seconds = 1.0
pause_retry_seconds = 1.0
poll_seconds = 0.1

[[sinks]]
name = "{SINK}"
url = "{hec_url}"
token_env = "HEC_TOKEN"
index = "main"
timeout_seconds = 1.0
batch_max_events = {plan.batch_max_events}
batch_max_wait_seconds = 0.05
""")
    return config


class CrashRun:
    """One run of the harness; ``await run()`` returns the report (and asserts nothing)."""

    def __init__(self, folder: Path, plan: CrashPlan,
                 say: Callable[[str], None] = lambda line: None) -> None:
        self.folder = folder
        self.plan = plan
        self.say = say
        self.rng = random.Random(plan.seed)
        self.listener = reserve(LOOPBACK, 0)  # held for the whole run; closed at its end
        self.port = port_of(self.listener)
        self.journal_path = folder / "journal.db"
        self.report = CrashReport(plan)
        self.stderr: list[str] = []
        self._stop = asyncio.Event()

    async def run(self) -> CrashReport:
        with self.listener:
            return await self._run()

    async def _run(self) -> CrashReport:
        started = time.monotonic()
        seed = dataclasses.replace(DEFAULT_SEED, destinations=(SeedDestination(
            url=f"http://127.0.0.1:{self.port}/gitlab", group="acme", name="siem",
            token=STREAM_TOKEN),))
        knobs = Knobs(duplicate_rate=0.1, fresh_uuid_rate=0.05, job_retry_rate=0.05,
                      reorder=True, seed=self.plan.seed)
        gitlab_config = GitLabConfig(delivery_timeout_seconds=2.0, knobs=knobs,
                                     activity_seed=self.plan.seed)
        async with running_hec() as hec, running_gitlab(seed, gitlab_config) as gitlab:
            config = write_config(self.folder, self.listener.fileno(), hec.url, self.plan)
            env = {"STREAM_TOKEN": STREAM_TOKEN, "HEC_TOKEN": hec.token}
            args = ("run", "--config", str(config))
            stream = asyncio.create_task(self._stream(gitlab))
            faults = asyncio.create_task(self._faults(hec))
            try:
                await self._kill_loop(args, env, hec)
            finally:
                self._stop.set()
                for task in (stream, faults):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await gitlab.settle()
            hec.faults.clear()
            await self._drain(args, env)
            self._check(gitlab, hec)
        self.report.seconds = time.monotonic() - started
        return self.report

    # -- load and faults ---------------------------------------------------------------------

    async def _stream(self, gitlab: RunningGitLab) -> None:
        while not self._stop.is_set():
            await gitlab.make_activity(self.plan.events_per_tick, on=PROJECTS, wait=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.plan.tick_seconds)

    async def _faults(self, hec: RunningHec) -> None:
        """503s, 500s, timeouts, resets (some after the sink took the batch), and once, a
        long outage where every connection is reset."""
        plan, rng = self.plan, self.rng
        outage_at = time.monotonic() + plan.max_up_seconds * plan.kills * 0.3
        outage_done = False
        # Each fault expires (for_seconds) even if no request used it up: otherwise they pile
        # up while the relay is down, and the sink would never work again.
        lasts = plan.fault_every_seconds / 2
        while not self._stop.is_set():
            if not outage_done and time.monotonic() >= outage_at:
                hec.faults.reset(for_seconds=plan.outage_seconds)
                self.say(f"HEC outage: every connection reset for {plan.outage_seconds} s")
                outage_done = True
            else:
                choices: list[Callable[[], object]] = [
                    lambda: hec.faults.busy(next=3, retry_after=1, for_seconds=lasts),
                    lambda: hec.faults.internal_error(next=3, for_seconds=lasts),
                    # past the sink's 1 s timeout
                    lambda: hec.faults.slow(1.5, next=2, for_seconds=lasts),
                    lambda: hec.faults.reset(next=2, for_seconds=lasts),
                    # taken, answer lost
                    lambda: hec.faults.reset(next=1, accept=True, for_seconds=lasts),
                ]
                rng.choice(choices)()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), plan.fault_every_seconds)

    # -- the process: killed, restarted, finally drained --------------------------------------

    async def _start(self, args: tuple[str, ...], env: dict[str, str]) -> ServerProcess:
        process = await asyncio.to_thread(ServerProcess, *args, env=env, ready_timeout=30,
                                          pass_fds=(self.listener.fileno(),))
        self.report.starts += 1
        return process

    async def _kill_loop(self, args: tuple[str, ...], env: dict[str, str],
                         hec: RunningHec) -> None:
        for number in range(1, self.plan.kills + 1):
            process = await self._start(args, env)
            await asyncio.sleep(self.rng.uniform(self.plan.min_up_seconds,
                                                 self.plan.max_up_seconds))
            await asyncio.to_thread(process.kill)  # SIGKILL
            self.stderr.append(process.stderr)
            self.report.kills += 1
            in_flight = await asyncio.to_thread(self._in_flight, self._ids_at_sink(hec))
            self.report.in_flight_at_kills.append(in_flight)
            self.say(f"kill {number}: {len(hec.received.envelopes)} envelopes at the sink, "
                     f"{in_flight} of them beyond the journal's cursor")
            await asyncio.sleep(self.rng.uniform(0.0, 0.3))  # GitLab's deliveries fail

    async def _drain(self, args: tuple[str, ...], env: dict[str, str]) -> None:
        process = await self._start(args, env)
        try:
            deadline = time.monotonic() + self.plan.drain_timeout_seconds
            while not await asyncio.to_thread(self._drained):
                if time.monotonic() > deadline:
                    raise TimeoutError("the relay did not catch up with the journal in time")
                await asyncio.sleep(0.2)
            self.report.last_exit_code = await asyncio.to_thread(process.terminate)
        finally:
            await asyncio.to_thread(process.kill)
            self.stderr.append(process.stderr)

    # -- looking at the journal file between runs ---------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.journal_path.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=5)

    def _cursor(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT cursor FROM cursors WHERE sink = ?", (SINK,)).fetchone()
        return 0 if row is None else int(row[0])

    def _in_flight(self, at_sink: set[str]) -> int:
        """Events the sink already has that the cursor does not cover: a restart sends them
        again. (Read right after the SIGKILL, before the next start.)"""
        if not self.journal_path.exists():
            return 0
        with contextlib.closing(self._connect()) as conn:
            beyond = {row[0] for row in conn.execute(
                "SELECT event_id FROM events WHERE seq > ?", (self._cursor(conn),))}
        return len(beyond & at_sink)

    def _drained(self) -> bool:
        with contextlib.closing(self._connect()) as conn:
            last = int(conn.execute("SELECT value FROM meta WHERE key = 'last_seq'")
                       .fetchone()[0])
            return self._cursor(conn) >= last

    def _integrity(self) -> str:
        with contextlib.closing(self._connect()) as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])

    @staticmethod
    def _ids_at_sink(hec: RunningHec) -> set[str]:
        return {str(envelope.fields.get("event_id")) for envelope in hec.received.envelopes}

    # -- the verdict ---------------------------------------------------------------------------

    def _check(self, gitlab: RunningGitLab, hec: RunningHec) -> None:
        report = self.report
        report.events_made = len(gitlab.events.made)
        sent = [d for d in gitlab.deliveries.all if d.sent]
        report.deliveries = len(sent)
        ok = [d for d in sent if d.result is Result.DELIVERED]
        report.answered_200 = len(ok)
        report.refused = sum(1 for d in sent if d.result is Result.REFUSED)
        report.not_answered = len(sent) - len(ok) - report.refused

        at_sink: list[dict[str, Any]] = [e.event for e in hec.received.envelopes]
        counts = Counter(str(e.fields.get("event_id")) for e in hec.received.envelopes)
        report.at_sink = len(at_sink)
        report.unique_at_sink = len(counts)
        report.duplicates = sum(n - 1 for n in counts.values())
        sink_ids = set(counts)
        sink_hashes = {content_hash(event) for event in at_sink}

        answered = {str(d.event["id"]): d.event for d in ok}
        report.unique_answered_200 = len(answered)
        report.lost = sorted(event_id for event_id, event in answered.items()
                             if event_id not in sink_ids
                             and content_hash(event) not in sink_hashes)
        bodies = {_canonical(d.event) for d in sent}
        report.foreign = sorted(str(e.get("id")) for e in at_sink
                                if _canonical(e) not in bodies)
        report.stored_without_200 = len(sink_ids - set(answered))
        report.cut_off_after_acceptance = sum(
            len(hec.received.for_request(r.number)) for r in hec.received.requests
            if r.status is None)
        report.hec_requests = Counter(
            "no answer" if r.status is None else str(r.status) for r in hec.received.requests
            if r.endpoint == "event")
        report.integrity = self._integrity()


def _canonical(event: Any) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
