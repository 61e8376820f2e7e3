"""Each scripted fault over real HTTP: what the client sees, and what the stand-in kept."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from auditstream.server.hec import RunningHec, running_hec
from tests.server.hec.conftest import (
    ACKED,
    CHANNEL,
    EVENT,
    HEALTH,
    RAW,
    HecClient,
    envelopes,
    stand_in_config,
)
from tests.waiting import eventually

# A client that gives up quickly, for the faults that never answer.
GIVE_UP = 0.3


async def test_busy_for_the_next_three_requests_then_accepting(client: HecClient,
                                                               hec: RunningHec) -> None:
    hec.faults.busy(next=3, retry_after=7)
    replies = [await client.send(n) for n in range(4)]
    assert [(r.status, r.code) for r in replies] == [(503, 9)] * 3 + [(200, 0)]
    assert replies[0].body == {"text": "Server is busy", "code": 9}
    assert replies[0].headers["Retry-After"] == "7"
    assert hec.received.events == [3]
    assert [r.faults for r in hec.received.requests] == [("busy",)] * 3 + [()]


async def test_busy_for_some_seconds_then_accepting(client: HecClient,
                                                    hec: RunningHec) -> None:
    hec.faults.busy(for_seconds=0.3)
    assert (await client.send(1)).status == 503

    async def accepting() -> bool:
        return (await client.send(2)).status == 200

    await eventually(accepting, within=5)


async def test_busy_until_cleared(client: HecClient, hec: RunningHec) -> None:
    fault = hec.faults.busy()
    assert [(await client.send(n)).status for n in range(3)] == [503] * 3
    assert "Retry-After" not in (await client.send(3)).headers
    assert fault.fired == 4
    assert hec.faults.clear(fault) == 1
    assert (await client.send(4)).status == 200


async def test_busy_answer_to_a_large_body_reaches_the_client_whole(
        session: aiohttp.ClientSession) -> None:
    async with running_hec(stand_in_config(max_content_length=4_000_000)) as big:
        big.faults.busy(next=1)
        client = HecClient(session, big)
        body = envelopes(*(["x" * 1000] * 1000))
        assert (await client.post(EVENT, body)).status == 503
        assert (await client.post(EVENT, body)).status == 200
        assert len(big.received.envelopes) == 1000


async def test_internal_error_is_500_code_8(client: HecClient, hec: RunningHec) -> None:
    hec.faults.internal_error(next=1)
    reply = await client.send(1)
    assert (reply.status, reply.body) == (500, {"text": "Internal server error", "code": 8})
    assert hec.received.envelopes == ()


async def test_too_many_requests_is_429_with_retry_after(client: HecClient,
                                                         hec: RunningHec) -> None:
    hec.faults.too_many_requests(next=1, retry_after=2)
    reply = await client.send(1)
    assert (reply.status, reply.headers["Retry-After"]) == (429, "2")


async def test_too_large_is_413_whatever_the_size(client: HecClient, hec: RunningHec) -> None:
    hec.faults.too_large(next=1)
    assert (await client.send(1)).status == 413
    assert (await client.send(1)).status == 200


async def test_slow_answers_after_the_delay_and_still_accepts(client: HecClient,
                                                              hec: RunningHec) -> None:
    hec.faults.slow(0.3, next=1)
    started = time.monotonic()
    reply = await client.send(1)
    assert time.monotonic() - started >= 0.3
    assert reply.status == 200
    assert hec.received.events == [1]


async def test_slow_and_busy_together_answer_busy_late(client: HecClient,
                                                       hec: RunningHec) -> None:
    hec.faults.slow(0.2, next=1)
    hec.faults.busy(next=1)
    started = time.monotonic()
    assert (await client.send(1)).status == 503
    assert time.monotonic() - started >= 0.2
    assert hec.received.requests[0].faults == ("slow", "busy")


async def test_hang_never_answers_and_takes_nothing(client: HecClient,
                                                    hec: RunningHec) -> None:
    hec.faults.hang(next=1)
    with pytest.raises(TimeoutError):
        await client.post(EVENT, envelopes(1), give_up_after=GIVE_UP)
    assert hec.received.envelopes == ()
    assert hec.received.requests[0].status is None
    assert (await client.send(2)).status == 200


async def test_hang_after_accepting_keeps_the_events_the_client_never_hears_of(
        client: HecClient, hec: RunningHec) -> None:
    hec.faults.hang(accept=True, next=1)
    with pytest.raises(TimeoutError):
        await client.post(EVENT, envelopes({"id": 1}), give_up_after=GIVE_UP)
    # The client resends what it could not confirm: Splunk now holds it twice.
    await client.send({"id": 1})
    assert hec.received.duplicates() == {"1": 2}


async def test_hanging_request_is_cut_when_the_stand_in_stops(client: HecClient,
                                                              hec: RunningHec) -> None:
    hec.faults.hang(next=1)
    pending = asyncio.create_task(client.send(1))
    await hec.received.wait_for_requests(1)
    await hec.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await pending


async def test_reset_closes_the_connection_without_an_answer(client: HecClient,
                                                             hec: RunningHec) -> None:
    hec.faults.reset(next=1)
    with pytest.raises(aiohttp.ClientOSError):
        await client.send({"id": 1})
    assert hec.received.envelopes == ()
    assert hec.received.status_counts() == {}
    assert hec.received.requests[0].faults == ("reset",)


async def test_reset_after_accepting_makes_the_resend_a_duplicate(client: HecClient,
                                                                  hec: RunningHec) -> None:
    hec.faults.reset(accept=True, next=1)
    with pytest.raises(aiohttp.ClientOSError):
        await client.send({"id": 1}, {"id": 2})
    await client.send({"id": 1}, {"id": 2}, {"id": 3})
    assert hec.received.count_by() == {"1": 2, "2": 2, "3": 1}
    assert hec.received.duplicates() == {"1": 2, "2": 2}


async def test_internal_error_after_accepting_keeps_the_events(client: HecClient,
                                                               hec: RunningHec) -> None:
    hec.faults.internal_error(accept=True, next=1)
    assert (await client.send({"id": 1})).status == 500
    assert hec.received.events == [{"id": 1}]


@pytest.mark.parametrize(("code", "text"), [
    (18, "HEC is unhealthy, queues are full"),
    (19, "HEC is unhealthy, ack service unavailable"),
    (20, "HEC is unhealthy, queues are full, ack service unavailable"),
])
async def test_unhealthy_health_is_503_with_its_code(client: HecClient, hec: RunningHec,
                                                     code: int, text: str) -> None:
    hec.faults.unhealthy(code, next=1)
    reply = await client.get(HEALTH)
    assert (reply.status, reply.body) == (503, {"text": text, "code": code})
    assert (await client.get(HEALTH)).status == 200


async def test_unhealthy_health_does_not_refuse_events(client: HecClient,
                                                       hec: RunningHec) -> None:
    hec.faults.unhealthy(18)
    assert (await client.send(1)).status == 200


async def test_late_ack_is_false_until_its_time(client: HecClient, hec: RunningHec) -> None:
    hec.faults.ack_late(0.3, next=1)
    await client.send(1, token=ACKED, channel=CHANNEL)
    await client.send(2, token=ACKED, channel=CHANNEL)
    assert (await client.ack(0, 1)).body == {"acks": {"0": False, "1": True}}

    async def indexed() -> bool:
        return (await client.ack(0)).body == {"acks": {"0": True}}

    await eventually(indexed, within=5)


async def test_lost_ack_is_never_true(client: HecClient, hec: RunningHec) -> None:
    hec.faults.ack_never(next=1)
    await client.send(1, token=ACKED, channel=CHANNEL)
    assert (await client.ack(0)).body == {"acks": {"0": False}}
    assert hec.acks.pending(CHANNEL) == [0]
    assert hec.received.requests[0].faults == ("ack_never",)


async def test_bad_event_at_position_two_accepts_the_first_two(client: HecClient,
                                                               hec: RunningHec) -> None:
    hec.faults.bad_event(2, next=1)
    reply = await client.send(*({"id": n} for n in range(5)))
    assert (reply.status, reply.body) == (
        400, {"text": "Invalid data format", "code": 6, "invalid-event-number": 2})
    assert hec.received.events == [{"id": 0}, {"id": 1}]
    assert (await client.send({"id": 2})).status == 200


async def test_bad_event_may_use_another_envelope_code(client: HecClient,
                                                       hec: RunningHec) -> None:
    hec.faults.bad_event(0, code=7, next=1)
    reply = await client.send(1)
    assert reply.body == {"text": "Incorrect index", "code": 7, "invalid-event-number": 0}


async def test_faults_stay_on_the_data_endpoints_unless_moved(client: HecClient,
                                                              hec: RunningHec) -> None:
    hec.faults.busy()
    assert (await client.get(HEALTH)).status == 200
    assert (await client.post(RAW, "line")).status == 503
    hec.faults.clear()
    hec.faults.busy(endpoints=("ack",))
    assert (await client.send(1, token=ACKED, channel=CHANNEL)).status == 200
    assert (await client.ack(0)).status == 503


async def test_fault_scheduled_over_http_shapes_the_next_request(client: HecClient,
                                                                 hec: RunningHec) -> None:
    added = await client.admin("POST", "/faults", {"kind": "busy", "next": 1,
                                                   "retry_after": 3})
    assert added.status == 201
    assert added.body["kind"] == "busy"
    listed = await client.admin("GET", "/faults")
    assert [f["id"] for f in listed.body["faults"]] == [added.body["id"]]
    reply = await client.send(1)
    assert (reply.status, reply.headers["Retry-After"]) == (503, "3")
    assert (await client.admin("GET", "/faults")).body == {"faults": []}


async def test_faults_are_cleared_over_http_one_or_all(client: HecClient,
                                                       hec: RunningHec) -> None:
    first = (await client.admin("POST", "/faults", {"kind": "internal_error"})).body
    await client.admin("POST", "/faults", {"kind": "ack_never"})
    assert (await client.admin("DELETE", f"/faults/{first['id']}")).body == {"cleared": 1}
    assert (await client.admin("DELETE", f"/faults/{first['id']}")).status == 404
    assert (await client.admin("DELETE", "/faults")).body == {"cleared": 1}
    assert hec.faults.active == []


@pytest.mark.parametrize(("payload", "words"), [
    ({"kind": "explode"}, "unknown fault"),
    ({"kind": "busy", "next": 0}, "next"),
    ({"kind": "slow"}, "delay"),
    ([1], "JSON object"),
])
async def test_wrong_fault_over_http_is_400_naming_the_problem(
        client: HecClient, payload: object, words: str) -> None:
    reply = await client.admin("POST", "/faults", payload)
    assert reply.status == 400
    assert words in reply.body["error"]
