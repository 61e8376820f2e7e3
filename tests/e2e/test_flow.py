"""GitLab -> receiver -> journal -> relay -> HEC, set up through the CLI as a user would."""

from __future__ import annotations

import asyncio
from datetime import datetime

import aiohttp
import orjson
import pytest

from auditstream.server.gitlab.streaming import Knobs
from tests.e2e.conftest import Flow

EVENT_TYPES = ("repository_git_operation", "merge_request_create", "member_created",
               "audit_operation")
ON = ("acme/website", "acme/platform/api")


async def test_every_acknowledged_event_reaches_the_sink_once_mapped_as_designed(
        flow: Flow) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    run = await flow.start_run()
    try:
        made = await flow.gitlab.make_activity(60, event_types=EVENT_TYPES, on=ON)
        await flow.wait_for_sink()
        assert await asyncio.to_thread(run.terminate) == 0
    finally:
        await asyncio.to_thread(run.kill)
    answered = flow.answered_200()
    assert sorted(answered) == sorted(str(e.id) for e in made)
    assert sorted(flow.at_sink()) == sorted(answered)  # each exactly once
    by_id = {str(e.id): e for e in made}
    for received in flow.hec.received.envelopes:
        envelope, event = received.envelope, received.event
        original = by_id[str(event["id"])]
        assert event["event_type"] == original.event_type
        created = datetime.fromisoformat(event["created_at"]).timestamp()
        assert envelope["time"] == round(created, 3)
        assert (envelope["host"], envelope["source"], envelope["sourcetype"],
                envelope["index"]) == ("127.0.0.1", "gitlab:siem", "gitlab:audit", "main")
        assert envelope["fields"]["event_id"] == str(event["id"])
        assert envelope["fields"]["event_type"] == event["event_type"]
        assert all(isinstance(v, str) for v in envelope["fields"].values())


@pytest.mark.parametrize("knobs", [Knobs(duplicate_rate=0.5, job_retry_rate=0.3, seed=5)])
async def test_gitlabs_duplicates_never_reach_the_sink_twice(flow: Flow) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    run = await flow.start_run()
    try:
        await flow.gitlab.make_activity(40, event_types=("member_created",), on=ON)
        await flow.wait_for_sink()
    finally:
        await asyncio.to_thread(run.terminate)
    answered = flow.answered_200()
    assert len(answered) > len(set(answered))  # GitLab did send duplicates
    assert sorted(flow.at_sink()) == sorted(set(answered))


@pytest.mark.parametrize("knobs", [Knobs(fresh_uuid_rate=1.0, seed=5)])
@pytest.mark.parametrize("content_hash", [True, False], ids=["content-hash", "id-only"])
async def test_fresh_uuid_resends_are_caught_only_with_the_content_hash_option(
        flow: Flow, content_hash: bool) -> None:
    await flow.create_destination()
    flow.add_sink_and_journal()
    if content_hash:
        text = flow.config.read_text()
        flow.config.write_text(text.replace('name = "siem"', 'name = "siem"\n'
                                            "content_hash_dedup = true", 1))
    run = await flow.start_run()
    try:
        made = await flow.gitlab.make_activity(10, event_types=("repository_git_operation",),
                                               on=ON)
        await flow.wait_for_sink({str(e.id) for e in made})
        await flow.wait_for_relay_to_catch_up()  # what should not arrive would be there now
    finally:
        await asyncio.to_thread(run.terminate)
    answered = set(flow.answered_200())
    assert len(answered) > len(made)  # GitLab re-sent them with fresh UUIDs
    if content_hash:
        assert sorted(flow.at_sink()) == sorted(str(e.id) for e in made)
    else:  # without the option each fresh UUID is, by id, a new event
        assert sorted(flow.at_sink()) == sorted(answered)


async def test_filters_headers_forgery_and_deletion_through_the_cli(flow: Flow) -> None:
    destination = await flow.create_destination()
    flow.add_sink_and_journal()
    await flow.cli("filters", "add", destination, "--group", "acme",
                   "--event-type", "member_created")
    await flow.cli("headers", "add", destination, "X-Env", "e2e", "--group", "acme")
    run = await flow.start_run()
    try:
        await flow.gitlab.make_activity(20, event_types=("member_created",
                                                         "merge_request_create"), on=ON)
        async with aiohttp.ClientSession() as http, http.post(
                flow.receiver_url, data=orjson.dumps({"id": "forged-1"}),
                headers={"X-Gitlab-Event-Streaming-Token": "guessed-token-0123456789"},
        ) as forged:
            assert forged.status == 401
        await flow.wait_for_sink()
        types = {e.event["event_type"] for e in flow.hec.received.envelopes}
        assert types == {"member_created"}
        assert "forged-1" not in flow.at_sink()
        # Everything sent since the header was added carries it (the audit events of the
        # set-up itself went out before, while the receiver was not up yet).
        sent = [d for d in flow.gitlab.deliveries.to(flow.receiver_url)
                if d.event_type == "member_created"]
        assert len(sent) == 10
        assert all(d.headers.get("X-Env") == "e2e" for d in sent)
        await flow.cli("destinations", "delete", destination, "--group", "acme")
        before = len(flow.gitlab.deliveries.to(flow.receiver_url))
        await flow.gitlab.make_activity(5, event_types=("member_created",), on=ON)
        await flow.gitlab.settle()
        assert len(flow.gitlab.deliveries.to(flow.receiver_url)) == before
    finally:
        await asyncio.to_thread(run.terminate)
