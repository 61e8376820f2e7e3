"""The realism knobs do what they promise, seen at the destination and in the records:
duplicates with the same id, stream-only events again with a fresh UUID, drops, reordering,
and job-level retries that re-send to every destination."""

from __future__ import annotations

from collections import Counter

import aiohttp
import pytest

from auditstream.server.gitlab import Knobs, Result, RunningGitLab
from tests.server.gitlab import operations as ops
from tests.server.gitlab.conftest import Collector, GraphQL

STORED = "member_created"
STREAM_ONLY = "repository_git_operation"


async def two_destinations(api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await api.create(url=collector.url_for("acme"))
    await api.mutate(ops.INSTANCE_CREATE, as_user="admin",
                     destinationUrl=collector.url_for("all"))
    await gitlab.settle()
    collector.arrivals.clear()
    gitlab.deliveries.clear()


async def test_duplicates_resend_the_same_delivery_with_the_same_id(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await two_destinations(api, gitlab, collector)
    gitlab.knobs = Knobs(duplicate_rate=1.0)
    events = await gitlab.make_activity(3, event_types=[STORED, STREAM_ONLY],
                                        on=["acme/website"])
    for path in ("acme", "all"):
        ids = Counter(a.event["id"] for a in collector.to(path))
        assert ids == {e.payload()["id"]: 2 for e in events}
        bodies = Counter(a.body for a in collector.to(path))
        assert set(bodies.values()) == {2}
    assert Counter(d.reason for d in gitlab.deliveries.all) == {"event": 6, "duplicate": 6}


async def test_fresh_uuid_resends_only_stream_only_events_with_a_new_id(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await two_destinations(api, gitlab, collector)
    gitlab.knobs = Knobs(fresh_uuid_rate=1.0)
    [stored, stream_only] = await gitlab.make_activity(2, event_types=[STORED, STREAM_ONLY],
                                                       on=["acme/website"])
    arrived = [a.event for a in collector.to("acme")]
    assert [e["id"] for e in arrived].count(stored.id) == 1
    git = [e for e in arrived if e["event_type"] == STREAM_ONLY]
    assert len(git) == 2
    assert git[0]["id"] != git[1]["id"]
    same = [{k: v for k, v in e.items() if k != "id"} for e in git]
    assert same[0] == same[1]  # the same event in every other respect
    assert stream_only.id in {e["id"] for e in git}
    assert Counter(d.reason for d in gitlab.deliveries.all)["fresh_uuid"] == 2


async def test_drops_are_recorded_and_never_sent(api: GraphQL, gitlab: RunningGitLab,
                                                 collector: Collector) -> None:
    await two_destinations(api, gitlab, collector)
    gitlab.knobs = Knobs(drop_rate=1.0)
    await gitlab.make_activity(5, on=["acme/website"])
    assert collector.arrivals == []
    assert [d.result for d in gitlab.deliveries.all] == [Result.DROPPED] * 10


async def test_a_seeded_drop_rate_drops_some_and_the_records_say_which(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await two_destinations(api, gitlab, collector)
    gitlab.knobs = Knobs(drop_rate=0.5, seed=3)
    await gitlab.make_activity(40, on=["acme/website"])
    dropped = [d for d in gitlab.deliveries.all if d.result is Result.DROPPED]
    assert 10 < len(dropped) < 70
    sent = {(d.url, d.body) for d in gitlab.deliveries.all if d.sent}
    assert {(collector.url + a.path, a.body) for a in collector.arrivals} == sent


async def test_reordering_shuffles_the_sending_order_repeatably(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await api.create(url=collector.url_for("acme"))
    await gitlab.settle()
    orders = []
    for _ in range(2):
        gitlab.knobs = Knobs(reorder=True, seed=11)
        gitlab.deliveries.clear()
        events = await gitlab.make_activity(20, event_types=[STORED], on=["acme/website"])
        by_number = sorted(gitlab.deliveries.all, key=lambda d: d.number)
        positions = {str(e.id): n for n, e in enumerate(events)}
        orders.append([positions[d.event_id] for d in by_number])
    assert orders[0] != sorted(orders[0])
    assert orders[0] == orders[1]


async def test_a_job_retry_resends_to_every_destination(
        api: GraphQL, gitlab: RunningGitLab, collector: Collector) -> None:
    await two_destinations(api, gitlab, collector)
    gitlab.knobs = Knobs(job_retry_rate=1.0, job_retries=2)
    [stored, stream_only] = await gitlab.make_activity(
        2, event_types=[STORED, STREAM_ONLY], on=["acme/website"])
    for path in ("acme", "all"):
        arrived = [a.event for a in collector.to(path)]
        assert [e["id"] for e in arrived].count(stored.id) == 3
        git_ids = {e["id"] for e in arrived if e["event_type"] == STREAM_ONLY}
        assert len(git_ids) == 3
        assert stream_only.id in git_ids
    attempts = Counter((d.reason, d.job_attempt) for d in gitlab.deliveries.all)
    assert attempts == {("event", 1): 4, ("job_retry", 2): 4, ("job_retry", 3): 4}


async def test_knobs_are_set_and_read_over_http(gitlab: RunningGitLab,
                                                http: aiohttp.ClientSession) -> None:
    url = f"{gitlab.url}/_stand-in/knobs"
    async with http.put(url, json={"duplicate_rate": 0.25, "seed": 5}) as response:
        assert response.status == 200
        assert (await response.json())["duplicate_rate"] == 0.25
    assert gitlab.knobs == Knobs(duplicate_rate=0.25, seed=5)
    async with http.delete(url) as response:
        assert (await response.json())["duplicate_rate"] == 0.0


@pytest.mark.parametrize(("knobs", "words"), [
    ({"duplicate_rate": 2}, "duplicate_rate: must be a number from 0 to 1"),
    ({"drop_rate": "often"}, "drop_rate: must be a number from 0 to 1"),
    ({"job_retries": 4}, "job_retries: must be 1 to 3"),
    ({"reorder": "yes"}, "reorder: must be true or false"),
    ({"lose_everything": True}, "unknown key(s) lose_everything"),
])
async def test_wrong_knobs_are_refused_naming_the_key(gitlab: RunningGitLab,
                                                      http: aiohttp.ClientSession,
                                                      knobs: dict[str, object],
                                                      words: str) -> None:
    async with http.put(f"{gitlab.url}/_stand-in/knobs", json=knobs) as response:
        assert response.status == 400
        assert words in (await response.json())["error"]
    assert gitlab.knobs == Knobs()
