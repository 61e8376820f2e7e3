"""The journal contract, proved the same way on every backend (SQLite, Redis and memory).

What only one backend has (file permissions and locks; key expiry, consumer groups, WAIT)
is tested beside it: ``test_sqlite_journal.py`` and ``tests/journal/redis``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from auditstream.journal import (
    AppendOutcome,
    DeadLetterSelection,
    IncomingEvent,
    Journal,
    JournalClosed,
    JournalConfig,
    JournalUnavailable,
    open_journal,
    open_journal_readonly,
)
from tests.helpers.events import event
from tests.journal.redis.server import redis_journal_config
from tests.waiting import eventually

ACCEPTED, DUPLICATE = AppendOutcome.ACCEPTED, AppendOutcome.DUPLICATE
COLLISION = AppendOutcome.COLLISION
DAY = 86400.0


@pytest.fixture(params=["sqlite", "redis", "memory"])
def backend_config(request: pytest.FixtureRequest, tmp_path: Path) -> JournalConfig:
    if request.param == "sqlite":
        return JournalConfig(path=tmp_path / "journal.db", busy_timeout_seconds=0.2)
    if request.param == "memory":
        return JournalConfig(path=tmp_path / "journal", backend="memory")
    return redis_journal_config(request.getfixturevalue("redis_server"))


@pytest.fixture
async def backend(backend_config: JournalConfig) -> AsyncIterator[Journal]:
    opened = await open_journal(backend_config)
    try:
        yield opened
    finally:
        await opened.close()


# -- append: atomic dedup and store ----------------------------------------------------------

async def test_new_id_is_accepted_and_repeat_is_a_duplicate(backend: Journal) -> None:
    assert await backend.append([event(1)]) == [ACCEPTED]
    assert await backend.append([event(1)]) == [DUPLICATE]
    assert [e.event_id for e in await backend.tail(10)] == ["1"]


async def test_repeat_within_one_append_is_a_duplicate(backend: Journal) -> None:
    assert await backend.append([event(7), event(7), event(8)]) == [ACCEPTED, DUPLICATE,
                                                                    ACCEPTED]


async def test_same_id_under_another_instance_is_stored(backend: Journal) -> None:
    assert await backend.append([event(1, instance="a"), event(1, instance="b")]) == [
        ACCEPTED, ACCEPTED]


async def test_instance_and_key_never_run_together(backend: Journal) -> None:
    # ("a:id", "id:1") and ("a", "id:id:1") must be two keys, however keys are spelled.
    assert await backend.append([event(1, instance="a:id"),
                                 event("id:1", instance="a")]) == [ACCEPTED, ACCEPTED]


async def test_body_is_kept_byte_for_byte(backend: Journal) -> None:
    raw = b'{ "id" : 5,\n "odd":"\\u00e9\xc3\xa9\xff\x00", "n": 1.50 }'
    await backend.append([event(5, body=raw)])
    [stored] = await backend.read("sink", 10)
    assert stored.body == raw
    assert (stored.event_id, stored.instance, stored.destination, stored.received_at) == (
        "5", "default", "default", 1000.0)
    assert (stored.event_type, stored.created_at, stored.entity_type, stored.entity_path) == (
        "audit_operation", 999.5, "Project", "acme/app")


async def test_missing_metadata_stays_missing(backend: Journal) -> None:
    bare = IncomingEvent(instance="default", event_id="9", dedup_keys=("id:9",),
                         destination="d", received_at=5.25, body=b"{}")
    await backend.append([bare])
    [stored] = await backend.tail(1)
    assert (stored.event_type, stored.created_at, stored.entity_type, stored.entity_path) == (
        None, None, None, None)


async def test_content_key_catches_a_repeat_with_a_fresh_id(backend: Journal) -> None:
    first = event("uuid-1", extra_keys=("hash:abc",))
    resent = event("uuid-2", extra_keys=("hash:abc",))
    assert await backend.append([first, resent]) == [ACCEPTED, DUPLICATE]


async def test_concurrent_appends_of_the_same_ids_store_each_once(backend: Journal) -> None:
    outcomes = await asyncio.gather(*(backend.append([event(i % 100)]) for i in range(300)))
    assert sum(o == [ACCEPTED] for o in outcomes) == 100
    stats = await backend.stats()
    assert (stats.events, stats.duplicates_refused) == (100, 200)
    assert sorted(int(e.event_id) for e in await backend.tail(1000)) == list(range(100))



# -- one destination must not erase another's events: duplicates and collisions ---------------

REAL = b'{"id": 5000, "event_type": "user_created", "author_id": 1}'
FORGED = b'{"id": 5000}'


async def test_same_destination_same_id_is_a_duplicate_whatever_the_bytes(
        backend: Journal) -> None:
    assert await backend.append([event(5000, destination="acme", body=REAL)]) == [ACCEPTED]
    assert await backend.append([event(5000, destination="acme", body=FORGED)]) == [DUPLICATE]
    assert [e.body for e in await backend.tail(10)] == [REAL]


async def test_same_body_from_another_destination_is_a_duplicate(backend: Journal) -> None:
    # GitLab streams one event to a group destination and to an instance destination.
    assert await backend.append([event(5000, destination="group", body=REAL)]) == [ACCEPTED]
    assert await backend.append([event(5000, destination="instance", body=REAL)]) == [
        DUPLICATE]
    stats = await backend.stats()
    assert (stats.events, stats.duplicates_refused, stats.collisions) == (1, 1, 0)


async def test_another_destinations_different_event_under_a_known_id_is_stored_and_flagged(
        backend: Journal, caplog: pytest.LogCaptureFixture) -> None:
    assert await backend.append([event(5000, destination="forger", body=FORGED)]) == [ACCEPTED]
    assert await backend.append([event(5000, destination="acme", body=REAL)]) == [COLLISION]
    stored = await backend.tail(10)
    assert [(e.destination, e.body) for e in stored] == [("forger", FORGED), ("acme", REAL)]
    assert [e.event_id for e in await backend.claim("hec", 10)] == ["5000", "5000"]
    stats = await backend.stats()
    assert (stats.events, stats.duplicates_refused, stats.collisions) == (2, 0, 1)
    [warning] = [r for r in caplog.records if r.name == "auditstream.journal"
                 and r.levelname == "WARNING" and "collision" in r.getMessage()]
    assert "5000" in warning.getMessage()
    assert "'forger'" in warning.getMessage()
    assert "'acme'" in warning.getMessage()


async def test_a_stored_collision_sent_again_is_a_duplicate_of_it(backend: Journal) -> None:
    await backend.append([event(5000, destination="forger", body=FORGED)])
    assert await backend.append([event(5000, destination="group", body=REAL)]) == [COLLISION]
    # GitLab's re-send, and the same event at the instance destination: the collision again.
    assert await backend.append([event(5000, destination="group", body=REAL),
                                 event(5000, destination="instance", body=REAL)]) == [
        DUPLICATE, DUPLICATE]
    # The first destination's re-sends stay duplicates, whatever their bytes.
    assert await backend.append([event(5000, destination="forger", body=b'{"id":5000,"x":1}')]
                                ) == [DUPLICATE]
    stats = await backend.stats()
    assert (stats.events, stats.duplicates_refused, stats.collisions) == (2, 3, 1)


async def test_collision_within_one_append_is_stored_once(backend: Journal) -> None:
    assert await backend.append([event(5000, destination="forger", body=FORGED),
                                 event(5000, destination="acme", body=REAL),
                                 event(5000, destination="acme", body=REAL),
                                 event(5001, destination="acme")]) == [
        ACCEPTED, COLLISION, DUPLICATE, ACCEPTED]
    assert (await backend.stats()).collisions == 1


async def test_each_different_event_under_one_id_is_stored_once(backend: Journal) -> None:
    bodies = [b'{"id": 7, "n": %d}' % n for n in range(3)]
    outcomes = [await backend.append([event(7, destination=f"d{n}", body=body)])
                for n, body in enumerate(bodies)]
    assert outcomes == [[ACCEPTED], [COLLISION], [COLLISION]]
    assert sorted(e.body for e in await backend.tail(10)) == sorted(bodies)
    assert (await backend.stats()).collisions == 2


async def test_reopened_journal_still_tells_duplicates_from_collisions(
        backend_config: JournalConfig) -> None:
    first = await open_journal(backend_config)
    await first.append([event(5000, destination="forger", body=FORGED)])
    await first.close()
    again = await open_journal(backend_config)
    try:
        assert await again.append([event(5000, destination="acme", body=REAL),
                                   event(5000, destination="other", body=FORGED)]) == [
            COLLISION, DUPLICATE]
    finally:
        await again.close()

# -- claim, ack, read: delivering to sinks ---------------------------------------------------

async def test_claims_hand_out_each_event_once_in_order(backend: Journal) -> None:
    await backend.append([event(i) for i in range(1, 6)])
    await backend.register_sink("hec")
    first = await backend.claim("hec", 2)
    second = await backend.claim("hec", 10)
    assert [e.event_id for e in first] == ["1", "2"]
    assert [e.event_id for e in second] == ["3", "4", "5"]
    assert await backend.claim("hec", 10) == []
    assert [e.seq for e in first + second] == sorted(e.seq for e in first + second)


async def test_ack_moves_the_cursor_past_what_was_delivered(backend: Journal) -> None:
    await backend.append([event(i) for i in range(1, 6)])
    await backend.register_sink("hec")
    first = await backend.claim("hec", 2)
    await backend.ack("hec", first[-1].seq)
    assert [e.event_id for e in await backend.read("hec", 10)] == ["3", "4", "5"]
    [position] = (await backend.stats()).sinks
    assert (position.sink, position.cursor, position.backlog) == ("hec", first[-1].seq, 3)
    assert await backend.positions() == (position,)


async def test_ack_of_a_later_claim_confirms_the_earlier_ones(backend: Journal) -> None:
    await backend.append([event(i) for i in range(1, 7)])
    await backend.register_sink("hec")
    await backend.claim("hec", 2)
    await backend.claim("hec", 2)
    third = await backend.claim("hec", 2)
    await backend.ack("hec", third[-1].seq)
    [position] = (await backend.stats()).sinks
    assert (position.cursor, position.backlog) == (third[-1].seq, 0)


async def test_unacked_claims_come_back_when_the_reader_starts_again(backend: Journal) -> None:
    await backend.append([event(i) for i in range(1, 6)])
    await backend.register_sink("hec")
    delivered = await backend.claim("hec", 2)
    await backend.claim("hec", 2)  # sent, never confirmed: the relay stopped
    await backend.ack("hec", delivered[-1].seq)
    await backend.register_sink("hec")  # the relay's pipeline starts again
    again = await backend.claim("hec", 10)
    assert [e.event_id for e in again][:2] == ["3", "4"]
    rest = again + await backend.claim("hec", 10)
    assert sorted(e.event_id for e in rest) == ["3", "4", "5"]


async def test_every_sink_has_a_cursor_of_its_own(backend: Journal) -> None:
    await backend.append([event(i) for i in range(1, 5)])
    for sink in ("archive", "hec"):
        await backend.register_sink(sink)
    claimed = await backend.claim("hec", 3)
    await backend.ack("hec", claimed[-1].seq)
    assert [e.event_id for e in await backend.claim("archive", 10)] == ["1", "2", "3", "4"]
    positions = {p.sink: (p.cursor, p.backlog) for p in (await backend.stats()).sinks}
    assert positions == {"archive": (0, 4), "hec": (claimed[-1].seq, 1)}


async def test_read_after_a_seq_changes_nothing(backend: Journal) -> None:
    await backend.append([event(i) for i in range(1, 5)])
    await backend.register_sink("hec")
    [first, *_] = await backend.read("hec", 10)
    assert [e.event_id for e in await backend.read("hec", 2, after=first.seq)] == ["2", "3"]
    assert [e.event_id for e in await backend.claim("hec", 10)] == ["1", "2", "3", "4"]


async def test_wait_for_append_returns_early_when_an_event_arrives(backend: Journal) -> None:
    await backend.register_sink("hec")
    assert await backend.claim("hec", 10) == []
    waiting = asyncio.create_task(backend.wait_for_append(10.0))
    await asyncio.sleep(0.05)
    await backend.append([event(1)])
    async with asyncio.timeout(5):
        await waiting
    assert [e.event_id for e in await backend.claim("hec", 10)] == ["1"]


# -- dead letters, stats, tail ---------------------------------------------------------------

async def test_stats_count_events_duplicates_and_dead_letters(backend: Journal) -> None:
    await backend.append([event(1), event(2), event(1), event(3)])
    await backend.append([event(2)])
    [stored, *_] = await backend.read("hec", 1)
    await backend.dead_letter("hec", stored, "Incorrect index (code 7)")
    await backend.dead_letter("archive", stored, "other")
    stats = await backend.stats()
    assert (stats.events, stats.first_seq, stats.last_seq) == (3, 1, 3)
    assert (stats.remembered_ids, stats.duplicates_refused, stats.dead_letters) == (3, 2, 2)
    [letter] = await backend.dead_letters("hec", 10)
    assert (letter.sink, letter.seq, letter.event_id, letter.reason, letter.body) == (
        "hec", stored.seq, "1", "Incorrect index (code 7)", stored.body)
    assert [d.sink for d in await backend.dead_letters(None, 10)] == ["hec", "archive"]


async def test_a_dead_letter_keeps_the_whole_event(backend: Journal) -> None:
    await backend.append([event(1, destination="acme")])
    [stored] = await backend.read("hec", 1)
    await backend.dead_letter("hec", stored, "Invalid data format (code 6)")
    [letter] = await backend.dead_letters("hec", 10)
    assert letter.event == stored
    assert letter.id
    assert letter.retry_requested_at is None


async def test_a_retry_request_is_kept_until_the_dead_letter_is_removed(
        backend: Journal) -> None:
    await backend.append([event(1), event(2), event(3)])
    first, second, third = await backend.read("hec", 3)
    for stored in (first, second):
        await backend.dead_letter("hec", stored, "Invalid data format (code 6)")
    await backend.dead_letter("archive", third, "other")
    letters = await backend.dead_letters(None, 10)
    assert await backend.dead_letters_to_retry("hec", 10) == []
    assert await backend.retry_dead_letters([letters[1].id, "no-such-id", "99999"], 50.0) == 1
    [requested] = await backend.dead_letters_to_retry("hec", 10)
    assert (requested.id, requested.seq, requested.retry_requested_at) == (
        letters[1].id, second.seq, 50.0)
    assert await backend.retry_dead_letters([letters[1].id], 60.0) == 1  # asked twice: once
    assert [d.retry_requested_at for d in await backend.dead_letters("hec", 10)] == [None, 50.0]
    assert await backend.dead_letters_to_retry("archive", 10) == []
    assert await backend.remove_dead_letters([letters[1].id]) == 1
    assert await backend.dead_letters_to_retry("hec", 10) == []
    assert [d.id for d in await backend.dead_letters(None, 10)] == [letters[0].id,
                                                                    letters[2].id]


async def test_removing_dead_letters_removes_only_those_named(backend: Journal) -> None:
    await backend.append([event(1), event(2)])
    first, second = await backend.read("hec", 2)
    await backend.dead_letter("hec", first, "Invalid data format (code 6)")
    await backend.dead_letter("hec", second, "Incorrect index (code 7)")
    await backend.dead_letter("archive", second, "Incorrect index (code 7)")
    named = await backend.select_dead_letters(
        DeadLetterSelection(sink="hec", reason="CODE 7"), 100)
    assert [(d.sink, d.seq) for d in named] == [("hec", second.seq)]
    assert await backend.remove_dead_letters([named[0].id, "unknown"]) == 1
    assert await backend.remove_dead_letters([named[0].id]) == 0
    assert [(d.sink, d.seq) for d in await backend.dead_letters(None, 10)] == [
        ("hec", first.seq), ("archive", second.seq)]
    assert (await backend.stats()).dead_letters == 2


async def test_tail_shows_the_latest_events_oldest_first(backend: Journal) -> None:
    await backend.append([event(i) for i in range(1, 6)])
    assert [e.event_id for e in await backend.tail(2)] == ["4", "5"]


# -- retention -------------------------------------------------------------------------------

async def test_purge_keeps_bodies_until_every_sink_has_them(backend: Journal) -> None:
    await backend.append([event(i, received_at=100.0) for i in range(1, 5)])
    for sink, count in (("hec", 4), ("archive", 2)):
        await backend.register_sink(sink)
        claimed = await backend.claim(sink, count)
        await backend.ack(sink, claimed[-1].seq)
    result = await backend.purge(now=100.0 + 8 * DAY)
    assert result.bodies_removed == 2
    assert [e.event_id for e in await backend.tail(10)] == ["3", "4"]
    assert await backend.append([event(1)]) == [DUPLICATE]  # its id outlives its body
    # ... and so does what tells a duplicate from a collision.
    assert await backend.append([event(1, destination="other", body=b'{"id": 1, "x": 2}')]
                                ) == [COLLISION]


async def test_purge_keeps_what_is_younger_than_the_retention(backend: Journal) -> None:
    await backend.append([event(1, received_at=100.0), event(2, received_at=100.0 + 6 * DAY)])
    await backend.register_sink("hec")
    await backend.ack("hec", (await backend.claim("hec", 10))[-1].seq)
    assert (await backend.purge(now=100.0 + 8 * DAY)).bodies_removed == 1
    assert [e.event_id for e in await backend.tail(10)] == ["2"]


async def test_purge_keeps_everything_while_no_sink_is_registered(backend: Journal) -> None:
    await backend.append([event(1, received_at=0.0)])
    assert (await backend.purge(now=10**9)).bodies_removed == 0
    assert len(await backend.tail(10)) == 1


async def test_purge_forgets_uptime_records_from_before_the_dedup_window(
        backend: Journal) -> None:
    await backend.record_uptime("host:1", 0.0, 10.0, stopped=True)  # long gone
    await backend.record_uptime("host:2", 0.0, 40 * DAY)  # ran until recently
    result = await backend.purge(now=45 * DAY)  # the window: 30 days back, to day 15
    assert result.uptime_forgotten == 1
    assert await backend.uptime(0.0, 50 * DAY) == [(0.0, 40 * DAY, False)]


async def test_sequence_numbers_are_never_reused_after_a_full_purge(backend: Journal) -> None:
    await backend.append([event(1, received_at=0.0), event(2, received_at=0.0)])
    await backend.register_sink("hec")
    await backend.ack("hec", (await backend.claim("hec", 10))[-1].seq)
    assert (await backend.purge(now=10**9)).bodies_removed == 2
    await backend.append([event(3)])
    [fresh] = await backend.claim("hec", 10)
    assert (fresh.event_id, fresh.seq) == ("3", 3)


# -- lifecycle -------------------------------------------------------------------------------

async def test_reopened_journal_keeps_everything(backend_config: JournalConfig) -> None:
    opened = await open_journal(backend_config)
    await opened.append([event(1), event(2)])
    await opened.register_sink("hec")
    await opened.ack("hec", (await opened.claim("hec", 1))[-1].seq)
    await opened.close()
    reopened = await open_journal(backend_config)
    try:
        assert await reopened.append([event(2), event(3)]) == [DUPLICATE, ACCEPTED]
        assert [e.event_id for e in await reopened.read("hec", 10)] == ["2", "3"]
    finally:
        await reopened.close()


async def test_closed_journal_refuses_calls(backend_config: JournalConfig) -> None:
    opened = await open_journal(backend_config)
    await opened.close()
    await opened.close()  # idempotent
    with pytest.raises(JournalClosed):
        await opened.append([event(1)])
    with pytest.raises(JournalClosed):
        await opened.stats()


async def test_readonly_journal_refuses_writes(backend: Journal,
                                               backend_config: JournalConfig) -> None:
    await backend.append([event(1)])
    readonly = await open_journal_readonly(backend_config)
    try:
        assert (await readonly.stats()).events == 1
        assert [e.event_id for e in await readonly.tail(5)] == ["1"]
        with pytest.raises(JournalUnavailable, match="read-only"):
            await readonly.append([event(2)])
    finally:
        await readonly.close()


async def test_a_writable_journal_says_so(backend: Journal) -> None:
    await backend.check_writable()


# -- origin and known: what reconcile relies on ----------------------------------------------

async def test_origin_is_kept_and_a_backfilled_copy_of_a_streamed_event_is_a_duplicate(
        backend: Journal) -> None:
    streamed = event(7)
    backfilled = event(8)._replace(origin="backfill")
    assert await backend.append([streamed, backfilled]) == [ACCEPTED, ACCEPTED]
    assert await backend.append([event(7)._replace(origin="backfill"),
                                 event(8)]) == [DUPLICATE, DUPLICATE]
    origins = {e.event_id: e.origin for e in await backend.read("any", 10, after=0)}
    assert origins == {"7": "stream", "8": "backfill"}


async def test_known_tells_which_keys_an_append_would_call_duplicates(
        backend: Journal) -> None:
    await backend.append([event(1), event(2, instance="other")])
    assert await backend.known("default", ["id:1", "id:2", "id:3"]) == {"id:1"}
    assert await backend.known("other", ["id:2"]) == {"id:2"}
    assert await backend.append([event(3)]) == [ACCEPTED]  # known() changed nothing


async def test_uptime_is_recorded_per_process_and_read_by_range(backend: Journal) -> None:
    await backend.record_uptime("host:1", 100.0, 100.0)
    await backend.record_uptime("host:1", 100.0, 160.0)  # a heartbeat moves seen_at on
    await backend.record_uptime("host:2", 300.0, 400.0)
    await backend.record_uptime("host:1", 100.0, 170.0, stopped=True)  # a clean stop
    assert await backend.uptime(0.0, 1000.0) == [(100.0, 170.0, True), (300.0, 400.0, False)]
    assert await backend.uptime(200.0, 250.0) == []
    assert await backend.uptime(150.0, 310.0) == [(100.0, 170.0, True),
                                                  (300.0, 400.0, False)]


async def test_reconcile_progress_is_kept_and_never_moves_back(
        backend_config: JournalConfig) -> None:
    first = await open_journal(backend_config)
    assert await first.reconcile_progress("siem") is None
    await first.record_reconcile_progress("siem", 500.25)
    await first.record_reconcile_progress("siem", 400.0)  # a slower process, finishing late
    await first.record_reconcile_progress("other", 10.0)
    await first.close()
    again = await open_journal(backend_config)  # another process, or the next start
    try:
        assert await again.reconcile_progress("siem") == 500.25
        assert await again.reconcile_progress("other") == 10.0
    finally:
        await again.close()


async def test_a_reconcile_turn_is_one_holders_until_it_runs_out(backend: Journal) -> None:
    now = time.time()
    assert await backend.take_reconcile_turn("siem", "a", 0.2, now)
    assert not await backend.take_reconcile_turn("siem", "b", 0.2, now)
    assert await backend.take_reconcile_turn("siem", "a", 0.2, now)  # its own, renewed
    assert await backend.take_reconcile_turn("other", "b", 0.2, now)  # per destination

    async def taken_by_b() -> bool:  # "a" stopped renewing: its turn runs out (Redis
        return await backend.take_reconcile_turn("siem", "b", 60.0, time.time())  # expires)

    await eventually(taken_by_b)
    assert not await backend.take_reconcile_turn("siem", "a", 60.0, time.time())


def from_destination(event_id: int, destination: str, body: bytes,
                     origin: str = "stream") -> IncomingEvent:
    return event(event_id, body=body)._replace(destination=destination, origin=origin)


@pytest.mark.parametrize("backfill_first", [True, False], ids=["backfill-first", "stream-first"])
async def test_a_backfilled_copy_is_never_a_collision_whatever_destination_streamed_it(
        backend: Journal, backfill_first: bool) -> None:
    # Two destinations stream the same group to this journal; reconcile runs for one of them.
    # The backfilled body is the REST entity converted, never the streamed bytes.
    streamed = [from_destination(9, "a", b'{"id": 9, "via": "stream"}'),
                from_destination(9, "b", b'{"id": 9, "via": "stream"}')]
    backfilled = from_destination(9, "b", b'{"id": 9, "via": "rest"}', origin="backfill")
    if backfill_first:
        assert await backend.append([backfilled]) == [ACCEPTED]
        assert await backend.append(streamed) == [DUPLICATE, DUPLICATE]
    else:
        assert await backend.append(streamed) == [ACCEPTED, DUPLICATE]
        assert await backend.append([backfilled]) == [DUPLICATE]
    assert [e.event_id for e in await backend.read("any", 10, after=0)] == ["9"]
    assert (await backend.stats()).collisions == 0


# -- the destinations' last events (a restarted receiver's silence alarms) -------------------

async def test_newest_received_at_is_each_destinations_latest_event(backend: Journal) -> None:
    assert await backend.newest_received_at() == {}
    await backend.append([event(1, destination="acme", received_at=100.0),
                          event(2, destination="acme", received_at=300.0),
                          event(3, destination="globex", received_at=200.0)])
    await backend.append([event(4, destination="acme", received_at=250.0)])  # out of order
    # A backfill says nothing about whether GitLab still streams.
    await backend.append([event(5, destination="globex", received_at=900.0)._replace(
        origin="backfill")])
    assert await backend.newest_received_at() == {"acme": 300.0, "globex": 200.0}
