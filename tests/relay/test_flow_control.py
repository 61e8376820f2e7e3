"""The pipeline's flow-control parts, each on its own: what they hand over, and that what
they take is always given back (on success, failure or cancellation)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from auditstream.relay.acks import AckTracker
from auditstream.relay.batch import Batch
from auditstream.relay.decision import Delivered, Retry
from auditstream.relay.flow import BusySenders, SendGate, WorkQueue
from auditstream.relay.sinks.file import FileSink
from auditstream.relay.window import Window


async def test_a_closed_work_queue_hands_out_nothing_more_even_with_items_left() -> None:
    queue: WorkQueue[int] = WorkQueue()
    queue.put(1)
    queue.put(2)
    taken = [await anext(queue)]
    queue.close()
    taken += [item async for item in queue]
    assert taken == [1]


async def test_a_taker_waiting_on_an_empty_queue_ends_when_it_is_closed() -> None:
    queue: WorkQueue[int] = WorkQueue()
    taking = asyncio.create_task(anext(queue, None))
    await asyncio.sleep(0)
    queue.close()
    assert await taking is None


async def test_drain_hands_over_everything_put_before_close_then_nothing() -> None:
    queue: WorkQueue[int] = WorkQueue()
    draining = asyncio.create_task(queue.drain())
    await asyncio.sleep(0)
    queue.put(1)
    assert await draining == [1]
    queue.put(2)
    queue.put(3)
    queue.close()
    assert await queue.drain() == [2, 3]
    assert await queue.drain() == []


async def test_while_a_sender_fails_the_others_wait_until_it_succeeds() -> None:
    gate = SendGate()
    async with gate.turn() as failing:
        await failing.failed()
        async with gate.turn() as other:
            waiting = asyncio.create_task(other.wait_for_failing_sender())
            await asyncio.sleep(0)
            assert gate.failing
            assert not waiting.done()
            failing.succeeded()
            await waiting
        assert not gate.failing


async def test_a_failing_sender_cancelled_gives_the_gate_back() -> None:
    gate = SendGate()
    held = asyncio.Event()

    async def fail_then_hang() -> None:
        async with gate.turn() as turn:
            await turn.failed()
            held.set()
            await asyncio.Event().wait()

    sender = asyncio.create_task(fail_then_hang())
    await held.wait()
    assert gate.failing
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    assert not gate.failing


async def test_stop_waits_until_no_sender_has_a_batch_in_hand() -> None:
    senders = BusySenders()
    release = asyncio.Event()

    async def send() -> None:
        with senders.busy():
            await release.wait()

    sending = asyncio.create_task(send())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(senders.wait_idle(60))
    await asyncio.sleep(0)
    assert not waiting.done()
    release.set()
    await asyncio.gather(sending, waiting)


async def test_ack_room_comes_back_unless_the_batch_got_an_ack_id(tmp_path: Path) -> None:
    tracker = AckTracker(FileSink("archive", tmp_path / "out"), poll_seconds=60,
                         timeout_seconds=60, max_pending=1, on_confirmed=lambda w, b: None,
                         on_expired=lambda w, b: None)
    window = Window(last_seq=1, events={}, batches=[])
    async with tracker.slot():
        pass  # no ackId (a failure, or delivered without one): the room comes back
    async with tracker.slot() as slot:
        slot.await_ack(7, window, Batch(()))
    assert len(tracker) == 1
    blocked = asyncio.create_task(tracker.slot().__aenter__())
    await asyncio.sleep(0)
    assert not blocked.done()  # the one slot belongs to ackId 7 until it is answered
    await tracker.poll_once()  # the file sink says every id is indexed
    await blocked


async def test_a_file_sink_that_cannot_write_asks_for_a_retry(tmp_path: Path) -> None:
    unwritable = FileSink("archive", tmp_path)  # a directory: opening it to write fails
    decision = await unwritable.send(Batch(()))
    assert isinstance(decision, Retry)
    assert "cannot open" in decision.reason
    writable = FileSink("archive", tmp_path / "out.jsonl")
    assert await writable.send(Batch(())) == Delivered()
    await writable.close()
