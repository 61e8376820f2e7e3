"""``auditstream demo``: the whole flow on loopback, then a summary that must add up.

In one process: the GitLab stand-in, the HEC stand-in, and receiver + relay as ``auditstream
run`` wires them. A destination is created through the client and written into the receiver's
config file as ``destinations create --write-config`` does, so the token flows as it does in
production; GitLab then streams a few hundred events of mixed types, with duplicates, and a
forged request is sent with a wrong token. Part-way through the receiver goes down while
GitLab keeps making events (GitLab never retries: they are lost from the stream); when it is
back, reconcile lists GitLab's stored events and brings the stored ones back, and the summary
says which could not come back (stream-only types).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from auditstream.client.api import streaming_api
from auditstream.client.audit_events import AuditScope
from auditstream.client.session import GitLabSession
from auditstream.common.secrets import Secret
from auditstream.config.app import AppConfig, load_config
from auditstream.config.write import write_destination
from auditstream.journal import Journal
from auditstream.receiver.app import TOKEN_HEADER
from auditstream.receiver.connections import reserve
from auditstream.reconcile.backfill import backfill
from auditstream.reconcile.config import ReconcileTarget
from auditstream.reconcile.select import DestinationFilter
from auditstream.relay.config import BatchSettings, HecSinkConfig, RelayConfig, RetrySettings
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.server.gitlab import AuditEvent, GitLabConfig, RunningGitLab, running_gitlab
from auditstream.server.gitlab.deliveries import Result
from auditstream.server.gitlab.streaming import Knobs
from auditstream.server.hec import HecConfig, HecToken, RunningHec, running_hec
from auditstream.wiring.process import running_parts

SINK_FAULTS = ("busy", "errors", "resets", "timeouts", "outage", "bad-event")
EVENT_TYPES = ("repository_git_operation", "merge_request_create", "member_created",
               "project_fork_operation", "audit_operation")
PROJECTS = ("acme/website", "acme/platform/api")
CHUNK = 25
DELIVERY_WAIT_SECONDS = 60.0
# Reconcile's range reaches this far around the run: the set-up's own audit events (creating
# the destination) went out before the receiver was up, and come back too.
SETUP_MARGIN = timedelta(minutes=1)

Progress = Callable[[int, int], None]
# --keep-running: given what was started and the summary (to show before staying up), it
# answers a future that is done when the demo should stop.
StayUp = Callable[["DemoWorld", "DemoSummary"], "asyncio.Future[None]"]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    events: int = 300
    sink_faults: tuple[str, ...] = ()
    duplicate_rate: float = 0.1
    seed: int = 7
    outage_share: float = 0.2  # of the events, made while the receiver is down (0: no outage,
    #                            and no reconcile)


@dataclass(frozen=True, slots=True)
class Outage:
    """What happened while the receiver was down, and what reconcile did about it."""

    made: int = 0                  # events GitLab made meanwhile
    stored: tuple[str, ...] = ()   # of those, the ones GitLab keeps (REST lists them)
    stream_only: int = 0           # the rest: lost for good
    brought_back: tuple[str, ...] = ()  # ids reconcile appended
    already_held: int = 0          # ids reconcile found in the journal already


@dataclass(frozen=True, slots=True)
class DemoSummary:
    streamed: int            # POSTs GitLab made to the receiver
    answered_200: int
    distinct: int            # distinct event ids among those answered 200
    accepted: int            # events the journal took
    duplicates_refused: int
    forged_rejected: int
    forged_sent: int
    at_sink: int             # envelopes the HEC stand-in accepted
    at_sink_distinct: int
    dead_letters: int
    seconds: float
    problems: tuple[str, ...]
    outage: Outage = Outage()


@dataclass(slots=True)
class DemoWorld:
    """Everything the demo started, for ``--keep-running`` to show."""

    gitlab_url: str
    owner_token: str
    receiver_url: str
    hec_url: str
    hec_token: str
    journal_path: Path
    config_path: Path


async def run_demo(options: DemoOptions, progress: Progress,
                   keep_running: StayUp | None = None,
                   ) -> DemoSummary:
    hec_token = str(secrets.token_hex(16))
    gitlab_config = GitLabConfig(knobs=Knobs(duplicate_rate=options.duplicate_rate,
                                             seed=options.seed),
                                 activity_seed=options.seed)
    with tempfile.TemporaryDirectory(prefix="auditstream-demo-") as folder:
        async with running_gitlab(config=gitlab_config) as gitlab, \
                running_hec(HecConfig(tokens=(HecToken(hec_token),))) as hec:
            _inject(hec, options.sink_faults)
            workdir = Path(folder)
            # The receiver's socket, bound now on a port the system picks and held until the
            # receiver serves on it: GitLab's destination needs the URL before the receiver
            # starts (its token is in the config), and no one else can take the port between.
            # Not listening yet, so GitLab's own event about the new destination is refused as
            # before. (Creating it with a placeholder URL and updating it once the receiver
            # is up streams the update's audit event: one event more than --events.)
            with reserve("127.0.0.1", 0) as listener:
                url = f"http://127.0.0.1:{listener.getsockname()[1]}/demo"
                config_path = await _create_destination(gitlab.url, gitlab.token_for("owner"),
                                                        url, workdir)
                world = DemoWorld(gitlab.url, gitlab.token_for("owner"), url, hec.url,
                                  hec_token, workdir / "auditstream.db", config_path)
                return await _run(options, progress, gitlab, hec, world, keep_running,
                                  listener)


async def _create_destination(gitlab_url: str, token: str, url: str, workdir: Path) -> Path:
    """As ``destinations create --group acme --url URL --write-config FILE`` does."""
    async with GitLabSession(gitlab_url, token) as session:
        api = await streaming_api(session, "acme", "auto")
        created = await api.create_destination(url, "auditstream-demo", None)
    config_path = workdir / "auditstream.toml"
    config_path.write_text(f'[journal]\npath = "auditstream.db"\n'
                           f'[receiver]\nlisten = "{url.split("/")[2]}"\n')
    write_destination(config_path, created, "127.0.0.1", gitlab_url)
    return config_path


async def _run(options: DemoOptions, progress: Progress, gitlab: RunningGitLab, hec: RunningHec,
               world: DemoWorld, keep_running: StayUp | None,
               listener: socket.socket) -> DemoSummary:
    """``listener``: the receiver's bound socket for its first start; after the outage it
    binds the same address again (the config's listen), as a restarted receiver does."""
    relay_config = RelayConfig(
        sinks=(HecSinkConfig(name="hec", url=hec.url, token=Secret(world.hec_token),
                             timeout_seconds=2.0, envelope=EnvelopeSettings(index="main"),
                             batch=BatchSettings(max_events=100, max_wait_seconds=0.2)),),
        retry=RetrySettings(backoff_base_seconds=0.2, backoff_cap_seconds=2.0,
                            pause_retry_seconds=2.0))
    # As `auditstream run --config FILE` would run it, with a sink that retries sooner.
    config = replace(load_config(world.config_path), relay=relay_config)
    started, since = time.monotonic(), datetime.now(UTC) - SETUP_MARGIN
    down = round(options.events * options.outage_share)
    before = (options.events - down) // 2 if down else 0
    first = (0, 0)
    lost: list[AuditEvent] = []
    if down:  # up, then down while GitLab makes events, then up again and reconcile
        async with running_parts(config, receive=True, relay=True, announce=_quiet,
                                 listener=listener):
            first = await _stream(before, options.events, progress, gitlab, hec,
                                  world.receiver_url)
        lost = await gitlab.make_activity(down, event_types=EVENT_TYPES, on=PROJECTS)
    async with running_parts(config, receive=True, relay=True, announce=_quiet,
                             listener=None if down else listener) as parts:
        outage = Outage()
        if down:
            report = await backfill(_target(gitlab, world, config), parts.journal, since,
                                    datetime.now(UTC) + SETUP_MARGIN, rules=DestinationFilter())
            outage = Outage(made=len(lost), stored=tuple(e.key for e in lost if e.stored),
                            stream_only=sum(1 for e in lost if not e.stored),
                            brought_back=report.added_ids, already_held=report.already_held)
        second = await _stream(options.events - before - down, options.events, progress,
                               gitlab, hec, world.receiver_url, made_before=before + down)
        await _wait_for_sink(progress, hec, parts.journal, world.receiver_url, gitlab,
                             outage.brought_back)
        forged = (first[0] + second[0], first[1] + second[1])
        summary = await _summarise(gitlab, hec, parts.journal, world.receiver_url, forged,
                                   time.monotonic() - started, outage)
        if keep_running is not None:
            await keep_running(world, summary)
        return summary


def _target(gitlab: RunningGitLab, world: DemoWorld, config: AppConfig) -> ReconcileTarget:
    """The demo's destination as reconcile sees it, as the owner."""
    [settings] = config.reconcile
    return ReconcileTarget(destination=settings.destination, instance=settings.instance,
                           gitlab_url=gitlab.url, scope=AuditScope("group", "acme"),
                           token=Secret(world.owner_token))


def _quiet(line: str) -> None:
    """The demo shows a progress bar and a summary, not the parts' start-up lines."""


async def _stream(events: int, total: int, progress: Progress, gitlab: RunningGitLab,
                  hec: RunningHec, receiver_url: str, made_before: int = 0) -> tuple[int, int]:
    """GitLab's activity in chunks (for the progress bar), and forged requests among it."""
    forged_sent = forged_rejected = 0
    made = 0
    async with aiohttp.ClientSession() as http:
        while made < events:
            count = min(CHUNK, events - made)
            await gitlab.make_activity(count, event_types=EVENT_TYPES, on=PROJECTS)
            made += count
            forged_sent += 1
            if await _forge(http, receiver_url, made_before + made) == 401:
                forged_rejected += 1
            progress(len(_sink_ids(hec)), total)
    return forged_sent, forged_rejected


async def _forge(http: aiohttp.ClientSession, url: str, number: int) -> int:
    body = b'{"id": "forged-%d", "event_type": "user_created", "entity_path": "acme"}' % number
    headers = {TOKEN_HEADER: "forged-" + secrets.token_hex(8),
               "Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(url, data=body, headers=headers) as response:
        return response.status


async def _wait_for_sink(progress: Progress, hec: RunningHec, journal: Journal,
                         receiver_url: str, gitlab: RunningGitLab,
                         brought_back: tuple[str, ...]) -> None:
    """Until every event answered 200 or brought back is at the sink or a dead letter (or
    time runs out)."""
    await gitlab.settle()
    wanted = _delivered_ids(gitlab, receiver_url) | set(brought_back)
    deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
    while time.monotonic() < deadline:
        dead = {letter.event_id for letter in await journal.dead_letters(None, 1000)}
        done = len(wanted & (_sink_ids(hec) | dead))
        progress(done, len(wanted))
        if done == len(wanted):
            return
        await asyncio.sleep(0.1)


def _delivered_ids(gitlab: RunningGitLab, receiver_url: str) -> set[str]:
    return {d.event_id for d in gitlab.deliveries.to(receiver_url)
            if d.result is Result.DELIVERED}


def _sink_ids(hec: RunningHec) -> set[str]:
    return {str(e.fields.get("event_id")) for e in hec.received.envelopes}


async def _summarise(gitlab: RunningGitLab, hec: RunningHec, journal: Journal, receiver_url: str,
                     forged: tuple[int, int], seconds: float, outage: Outage) -> DemoSummary:
    attempts = [d for d in gitlab.deliveries.to(receiver_url) if d.sent]
    answered = [d for d in attempts if d.result is Result.DELIVERED]
    distinct = {d.event_id for d in answered}
    stats = await journal.stats()
    at_sink = [str(e.fields.get("event_id")) for e in hec.received.envelopes]
    letters = await journal.dead_letters(None, 1000)
    forged_sent, forged_rejected = forged
    problems = _problems(distinct, stats.events, stats.duplicates_refused, len(answered),
                         set(at_sink), {letter.event_id for letter in letters},
                         forged_sent, forged_rejected, outage)
    return DemoSummary(
        streamed=len(attempts), answered_200=len(answered), distinct=len(distinct),
        accepted=stats.events, duplicates_refused=stats.duplicates_refused,
        forged_rejected=forged_rejected, forged_sent=forged_sent, at_sink=len(at_sink),
        at_sink_distinct=len(set(at_sink)), dead_letters=len(letters), seconds=seconds,
        problems=tuple(problems), outage=outage)


def _problems(distinct: set[str], accepted: int, duplicates: int, answered: int,
              at_sink: set[str], dead: set[str], forged_sent: int,
              forged_rejected: int, outage: Outage) -> list[str]:
    problems = []
    back = set(outage.brought_back)
    if accepted != len(distinct) + len(back):
        problems.append(f"the journal holds {accepted} events, GitLab had {len(distinct)} "
                        f"distinct ones answered 200 and reconcile added {len(back)}")
    expected = answered - len(distinct) + outage.already_held
    if duplicates != expected:
        problems.append(f"{duplicates} duplicates refused, expected {expected}")
    gone = set(outage.stored) - back - distinct
    if gone:
        problems.append(f"{len(gone)} stored events made while the receiver was down did not "
                        "come back")
    missing = (distinct | back) - at_sink - dead
    if missing:
        problems.append(f"{len(missing)} events answered 200 or brought back never reached "
                        "the sink")
    extra = at_sink - distinct - back
    if extra:
        problems.append(f"{len(extra)} events at the sink that GitLab never had answered 200 "
                        f"(forged?): {sorted(extra)[:3]}")
    if forged_rejected != forged_sent:
        problems.append(f"only {forged_rejected} of {forged_sent} forged requests were refused")
    return problems


def _inject(hec: RunningHec, faults: tuple[str, ...]) -> None:
    for fault in faults:
        if fault == "busy":
            hec.faults.busy(next=5, retry_after=1)
        elif fault == "errors":
            hec.faults.internal_error(next=5)
        elif fault == "resets":
            hec.faults.reset(next=3)
        elif fault == "timeouts":
            hec.faults.hang(next=2)
        elif fault == "outage":
            hec.faults.busy(for_seconds=5.0)
        elif fault == "bad-event":
            hec.faults.bad_event(1, next=1)


