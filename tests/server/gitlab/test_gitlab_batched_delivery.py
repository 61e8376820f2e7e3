"""GitLab's newer batched delivery, behind a knob: a destination's events as one JSON array per
POST, without the event type header, sent again after a non-2xx (GitLab: 2 m, 5 m, 15 m, 30 m,
1 h, ... 10 tries; scaled down here). The receiver takes arrays, and its 503s lead to
redelivery, as they would."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from auditstream.journal.sqlite import SqliteJournal
from auditstream.server.gitlab import Result, RunningGitLab
from auditstream.server.gitlab.errors import StandInRequestError
from auditstream.server.gitlab.streaming import (
    MAX_BATCH_TRIES,
    Knobs,
    redelivery_wait,
)
from tests.conftest import StartReceiver, destination, receiver_config
from tests.server.gitlab.conftest import GraphQL
from tests.waiting import eventually

TYPES = ("audit_operation", "member_created")


def test_redelivery_waits_follow_gitlabs_schedule_scaled_then_stop() -> None:
    waits = [redelivery_wait(tries, 1.0) for tries in range(1, MAX_BATCH_TRIES + 1)]
    assert waits == [120.0, 300.0, 900.0, 1800.0, 3600.0, 3600.0, 3600.0, 3600.0, 3600.0,
                     None]
    assert redelivery_wait(1, 0.001) == pytest.approx(0.12)


@pytest.mark.parametrize("knobs", [{"batch_size": -1}, {"batch_size": 1.5},
                                   {"batch_size": 100_000}, {"redelivery_scale": 2}])
def test_batch_knobs_out_of_range_are_refused_naming_the_knob(knobs: dict[str, object]) -> None:
    with pytest.raises(StandInRequestError, match=str(next(iter(knobs)))):
        Knobs.from_json(knobs)


async def test_batches_arrive_as_arrays_and_503s_lead_to_redelivery_until_stored(
        api: GraphQL, gitlab: RunningGitLab, start_receiver_on_sqlite: StartReceiver,
        sqlite_journal: SqliteJournal) -> None:
    receiver = await start_receiver_on_sqlite(receiver_config(destination(token="x" * 24)))
    created = await api.create(url=receiver.url + "/acme")
    receiver.running.reload(receiver_config(destination(token=created["verificationToken"])))
    await gitlab.settle()
    gitlab.knobs = Knobs(batch_size=5, redelivery_scale=0.001)
    blocker = sqlite3.connect(sqlite_journal.path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # the journal cannot take writes: 503
        # wait=False: with batching, waiting would last every redelivery GitLab makes.
        made = await gitlab.make_activity(12, event_types=TYPES, on=["acme/website"],
                                          wait=False)
        await eventually(lambda: any(d.status == 503 for d in gitlab.deliveries.all),
                         within=10)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wanted = {event.key for event in made}

    async def all_stored() -> bool:
        return wanted <= {e.event_id for e in await receiver.journal.tail(1000)}

    await eventually(all_stored, within=20)
    await gitlab.settle()
    batched = [d for d in gitlab.deliveries.all if d.event_id in wanted]
    assert {d.reason for d in batched} >= {"event", "redelivery"}
    assert all("X-Gitlab-Audit-Event-Type" not in d.headers for d in batched)
    delivered = {d.event_id for d in batched if d.result is Result.DELIVERED}
    assert delivered == wanted
    assert max(d.job_attempt for d in batched) >= 2
    stats = await receiver.journal.stats()
    assert stats.events == len({e.event_id for e in await receiver.journal.tail(1000)})
    assert {d.batch for d in batched} <= {1, 2, 3, 4, 5}
    assert max(d.batch for d in batched) == 5


def test_a_batch_is_one_json_array_without_the_event_type_header() -> None:
    from auditstream.server.gitlab.destinations import EVENT_TYPE_HEADER
    from auditstream.server.gitlab.streaming import Planned, Reason, batch_request, batches

    class Event:  # only what batch_request and batches read
        def __init__(self, number: int) -> None:
            self.key = str(number)

    class Destination:
        def __init__(self, gid: str) -> None:
            self.gid = gid

    def planned(gid: str, number: int) -> Planned:
        return Planned(Destination(gid), Event(number),  # type: ignore[arg-type]
                       (("X-Gitlab-Event-Streaming-Token", "t"), (EVENT_TYPE_HEADER, "x")),
                       orjson.dumps({"id": number}), Reason.EVENT, 1)

    plan = [planned("a", 1), planned("b", 2), planned("a", 3), planned("a", 4)]
    grouped = batches(plan, 2)
    assert [[d.event.key for d in batch] for batch in grouped] == [["1", "3"], ["2"], ["4"]]
    headers, body = batch_request(grouped[0])
    assert orjson.loads(body) == [{"id": 1}, {"id": 3}]
    assert EVENT_TYPE_HEADER not in dict(headers)
