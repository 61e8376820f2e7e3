"""A receiver outage while GitLab streams, closed by `auditstream backfill` run as a user runs
it (a real subprocess): every stored event of the destination's tree reaches the sink once,
stream-only events are reported and never invented, nothing is doubled afterwards."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.journal import JournalConfig, open_journal_readonly
from auditstream.server.gitlab import TOKEN_HEADER
from tests.e2e.conftest import HEC_TOKEN, Flow
from tests.processes import AUDITSTREAM, run_cli
from tests.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

TREE = ("acme/website", "acme/platform/api", "acme", "acme/platform")
TYPES = ("member_created", "repository_git_operation", "audit_operation")


def stored_in_tree(flow: Flow) -> set[str]:
    return {e.key for e in flow.gitlab.events.stored if e.entity.path.split("/")[0] == "acme"}


async def backfill(flow: Flow, *args: str, user: str = "owner") -> tuple[int, str, str]:
    env = {"GITLAB_TOKEN": flow.gitlab.token_for(user)}
    done = await asyncio.to_thread(run_cli, "backfill", "--config", str(flow.config),
                                   "--destination", "siem", *args, env=env)
    return done.returncode, done.stdout, done.stderr


async def test_a_receiver_outage_is_closed_by_backfill_and_nothing_doubles(
        flow: Flow) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    run = await flow.start_run()
    try:
        await flow.gitlab.make_activity(12, event_types=TYPES, on=TREE)
        await flow.wait_for_sink()
        assert await asyncio.to_thread(run.terminate) == 0
        lost = await flow.gitlab.make_activity(24, event_types=TYPES,
                                               on=(*TREE, "globex/portal"))
        await flow.gitlab.settle()
        run = await flow.start_run()
        code, out, err = await backfill(flow, "--since", "1h", "--output", "json")
        assert code == 0, err
        report = orjson.loads(out)  # stdout is the JSON alone; progress went to stderr
        assert f"events listed by GitLab: {report['found']} so far" in err
        wanted = set(flow.answered_200()) | stored_in_tree(flow)
        await flow.wait_for_sink(wanted)
        await flow.wait_for_relay_to_catch_up()  # what should not arrive would be there now
        assert sorted(flow.at_sink()) == sorted(wanted)  # each exactly once
        never = {e.key for e in lost if not e.stored}
        assert not never & set(flow.at_sink())  # stream-only: not invented
        assert "repository_git_operation" in report["not_recoverable"][
            "stream_only_event_types"]
        # The journal's record of the receiver's uptime tells when nothing listened.
        silent = report["not_recoverable"]["receiver_not_listening"]
        created = [datetime.fromisoformat(e.payload()["created_at"]) for e in lost]
        assert any(datetime.fromisoformat(gap["from"]) <= min(created)
                   and max(created) <= datetime.fromisoformat(gap["until"]) for gap in silent)
        assert report["added"] == len(wanted - set(flow.answered_200()))
        backfilled = [e for e in flow.hec.received.envelopes
                      if e.fields.get("origin") == "backfill"]
        assert len(backfilled) == report["added"]
        assert all(e.event["rest_entity"]["id"] == e.event["id"] for e in backfilled)
        # GitLab delivers one of them late after all: the receiver calls it a duplicate.
        late = next(e for e in lost if e.key in {str(b.event["id"]) for b in backfilled})
        token = next((flow.workdir / "tokens").glob("*.token")).read_text().strip()
        async with aiohttp.ClientSession() as http, http.post(
                flow.receiver_url, data=orjson.dumps(late.payload()),
                headers={TOKEN_HEADER: token}) as answer:
            assert await answer.json() == {"accepted": 0, "duplicates": 1}
        code, out, err = await backfill(flow, "--since", "1h")  # again: the table
        assert code == 0, err
        assert "added                     0 (origin=backfill)" in out
        assert "repository_git_operation" in out
        await flow.wait_for_relay_to_catch_up()
        assert sorted(flow.at_sink()) == sorted(wanted)
    finally:
        await asyncio.to_thread(run.kill)


async def test_backfill_exits_1_on_gitlabs_refusal_and_2_on_usage_errors(
        flow: Flow, tmp_path: Path) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    code, _, err = await backfill(flow, "--since", "40d", user="maintainer")
    assert code == 1
    assert "Owner role" in err
    assert "older than the journal's dedup window (30 days)" in err
    assert "Traceback" not in err
    assert flow.gitlab.token_for("maintainer") not in err
    code, _, err = await backfill(flow, "--since", "yesterday")
    assert code == 2
    assert "--since" in err
    done = await asyncio.to_thread(run_cli, "backfill", "--config", str(flow.config),
                                   "--destination", "nope", "--since", "1h")
    assert done.returncode == 2
    assert "no destination 'nope'" in done.stderr


async def test_a_dry_run_before_the_first_run_reports_everything_as_to_add(
        flow: Flow) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    await flow.gitlab.make_activity(6, event_types=TYPES, on=TREE)
    code, out, err = await backfill(flow, "--since", "1h", "--dry-run", "--output", "json")
    assert code == 0, err
    assert f"no journal at {flow.workdir / 'journal.db'} yet" in err
    report = orjson.loads(out)
    assert report["would_add"] == report["found"] == len(stored_in_tree(flow)) > 0
    assert not (flow.workdir / "journal.db").exists()  # a dry run creates nothing


async def test_a_backfill_killed_halfway_resumes_and_neither_loses_nor_doubles(
        flow: Flow) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    await flow.gitlab.make_activity(250, event_types=("member_created",), on=("acme/website",))
    wanted = stored_in_tree(flow)
    # The tree (3 requests), acme, acme/platform, the first page of acme/website; then a 429
    # asking for 30 s: the process waits there, one page appended, and is killed.
    throttle = flow.gitlab.state.throttle
    throttle.let_through, throttle.refuse_next, throttle.retry_after_seconds = 6, 1, 30
    process = await asyncio.to_thread(
        subprocess.Popen,
        [AUDITSTREAM, "backfill", "--config", str(flow.config), "--destination", "siem",
         "--since", "1h"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "GITLAB_TOKEN": flow.gitlab.token_for("owner")})
    try:
        await eventually(lambda: throttle.refused > 0)
        assert throttle.refused == 1
    finally:
        process.kill()
        await asyncio.to_thread(process.wait, 10)
    journal = await open_journal_readonly(JournalConfig(path=flow.workdir / "journal.db"))
    try:
        partial = {e.event_id for e in await journal.read("any", 1000, after=0)}
    finally:
        await journal.close()
    assert 0 < len(partial) < len(wanted)
    code, out, err = await backfill(flow, "--since", "1h", "--output", "json")
    assert code == 0, err
    report = orjson.loads(out)
    assert (report["added"], report["already_held"]) == (len(wanted) - len(partial),
                                                         len(partial))
    journal = await open_journal_readonly(JournalConfig(path=flow.workdir / "journal.db"))
    try:
        ids = [e.event_id for e in await journal.read("any", 1000, after=0)]
    finally:
        await journal.close()
    assert sorted(ids) == sorted(wanted)  # each once


async def test_run_reconciles_at_start_up_what_was_lost_while_it_was_down(flow: Flow) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    text = flow.config.read_text()
    flow.config.write_text(text.replace('name = "siem"', 'name = "siem"\n'
                                        "reconcile_every_minutes = 0.05", 1))
    env = {"HEC_TOKEN": HEC_TOKEN, "GITLAB_TOKEN": flow.gitlab.token_for("owner")}
    # An older version's progress file: taken into the journal at start-up, then removed.
    old_state = flow.workdir / "reconcile-state.json"
    old_state.write_text(f'{{"siem": {{"done_until": {time.time() - 3600}}}}}')
    run = await flow.start("run", "--config", str(flow.config), env=env)
    try:
        await flow.gitlab.make_activity(6, event_types=TYPES, on=TREE)
        await flow.wait_for_sink()
        first_run = run
        await eventually(lambda: any(f"moved from {old_state} into the journal" in line
                                     for line in first_run.stderr_lines))
        assert not old_state.exists()
        await eventually(lambda: any("reconcile siem: " in line  # the start-up pass is done
                                     for line in first_run.stderr_lines), within=20)
        assert await asyncio.to_thread(run.terminate) == 0
        await flow.gitlab.make_activity(12, event_types=TYPES, on=TREE)  # nobody listens
        await flow.gitlab.settle()
        run = await flow.start("run", "--config", str(flow.config), env=env)
        wanted = set(flow.answered_200()) | stored_in_tree(flow)
        await flow.wait_for_sink(wanted)

        def passes() -> list[str]:
            return [line for line in run.stderr_lines if "reconcile siem: " in line]

        # A pass that finds everything held already (the one that closed the gap may log
        # only now: it is not the proof, so it is not counted).
        before = len(passes())
        await eventually(lambda: any(" 0 added" in line for line in passes()[before:]),
                         within=20)
        await flow.wait_for_relay_to_catch_up()
        assert sorted(flow.at_sink()) == sorted(wanted)
        assert flow.gitlab.token_for("owner") not in run.stderr
    finally:
        await asyncio.to_thread(run.kill)
