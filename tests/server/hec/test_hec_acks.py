"""Channels and indexer acknowledgement over real HTTP, as Splunk keeps them."""

from __future__ import annotations

import orjson
import pytest

from auditstream.server.hec import HecToken, RunningHec, running_hec
from tests.server.hec.conftest import (
    ACK,
    ACKED,
    CHANNEL,
    EVENT,
    OTHER_CHANNEL,
    PLAIN,
    RAW,
    HecClient,
    envelopes,
    stand_in_config,
)


async def test_ack_token_without_a_channel_is_400_code_10(client: HecClient,
                                                          hec: RunningHec) -> None:
    reply = await client.send(1, token=ACKED)
    assert (reply.status, reply.body) == (400, {"text": "Data channel is missing", "code": 10})
    assert hec.received.envelopes == ()


async def test_ack_token_with_a_channel_that_is_not_a_guid_is_400_code_11(
        client: HecClient) -> None:
    reply = await client.send(1, token=ACKED, channel="my-channel")
    assert (reply.status, reply.body) == (400, {"text": "Invalid data channel", "code": 11})


async def test_channel_may_come_as_a_query_parameter(client: HecClient,
                                                     hec: RunningHec) -> None:
    reply = await client.post(EVENT, envelopes(1), token=ACKED, params={"channel": CHANNEL})
    assert (reply.status, reply.body["ackId"]) == (200, 0)
    assert hec.received.envelopes[0].channel == CHANNEL


async def test_channel_is_harmless_without_ack(client: HecClient, hec: RunningHec) -> None:
    reply = await client.send(1, token=PLAIN, channel="anything-at-all")
    assert (reply.status, reply.body) == (200, {"text": "Success", "code": 0})


async def test_ack_ids_count_from_zero_per_channel(client: HecClient, hec: RunningHec) -> None:
    ids = [(await client.send(n, token=ACKED, channel=channel)).body["ackId"]
           for n, channel in enumerate([CHANNEL, CHANNEL, OTHER_CHANNEL, CHANNEL])]
    assert ids == [0, 1, 0, 2]
    assert [e.ack_id for e in hec.received.envelopes] == [0, 1, 0, 2]


async def test_raw_request_gets_an_ack_id_too(client: HecClient) -> None:
    reply = await client.post(RAW, "a line", token=ACKED, channel=CHANNEL)
    assert reply.body == {"text": "Success", "code": 0, "ackId": 0}


async def test_ack_reports_true_once_then_forgets_the_id(client: HecClient) -> None:
    await client.send(1, token=ACKED, channel=CHANNEL)
    await client.send(2, token=ACKED, channel=CHANNEL)
    first = await client.ack(0, 1, 2)
    assert (first.status, first.body) == (200, {"acks": {"0": True, "1": True, "2": False}})
    again = await client.ack(0, 1)
    assert again.body == {"acks": {"0": False, "1": False}}


async def test_ack_ids_belong_to_their_channel(client: HecClient) -> None:
    await client.send(1, token=ACKED, channel=CHANNEL)
    other = await client.ack(0, channel=OTHER_CHANNEL)
    assert other.body == {"acks": {"0": False}}
    assert (await client.ack(0)).body == {"acks": {"0": True}}


async def test_ack_body_may_be_gzipped(client: HecClient) -> None:
    await client.send(1, token=ACKED, channel=CHANNEL)
    reply = await client.post(ACK, orjson.dumps({"acks": [0]}), token=ACKED, channel=CHANNEL,
                              gzipped=True)
    assert reply.body == {"acks": {"0": True}}


async def test_ack_on_a_token_without_ack_is_400_code_14(client: HecClient) -> None:
    reply = await client.ack(0, token=PLAIN)
    assert (reply.status, reply.body) == (400, {"text": "ACK is disabled", "code": 14})


@pytest.mark.parametrize(("channel", "code"), [("", 10), ("nope", 11)])
async def test_ack_needs_a_valid_channel(client: HecClient, channel: str, code: int) -> None:
    reply = await client.post(ACK, b'{"acks":[0]}', token=ACKED, channel=channel or None)
    assert (reply.status, reply.code) == (400, code)


async def test_bad_ack_body_is_invalid_data_format(client: HecClient) -> None:
    reply = await client.post(ACK, b'{"acks":"all"}', token=ACKED, channel=CHANNEL)
    assert (reply.status, reply.code) == (400, 6)


async def test_partly_accepted_request_gets_no_ack_id(client: HecClient,
                                                      hec: RunningHec) -> None:
    reply = await client.post(EVENT, envelopes(1) + b'{"event":""}', token=ACKED,
                              channel=CHANNEL)
    assert reply.body == {"text": "Event field cannot be blank", "code": 13,
                          "invalid-event-number": 1}
    assert [(e.event, e.ack_id) for e in hec.received.envelopes] == [(1, None)]
    assert (await client.send(2, token=ACKED, channel=CHANNEL)).body["ackId"] == 0


async def test_channel_over_its_pending_ack_limit_is_busy_until_acks_are_queried(
        client: HecClient) -> None:
    config = stand_in_config(tokens=(HecToken(ACKED, ack=True),),
                             max_pending_acks_per_channel=2)
    async with running_hec(config) as limited:
        client = HecClient(client.session, limited)
        for n in range(2):
            assert (await client.send(n, token=ACKED, channel=CHANNEL)).status == 200
        full = await client.send(2, token=ACKED, channel=CHANNEL)
        assert (full.status, full.code) == (503, 9)
        assert (await client.send(2, token=ACKED, channel=OTHER_CHANNEL)).status == 200
        await client.ack(0)
        assert (await client.send(2, token=ACKED, channel=CHANNEL)).status == 200
        assert len(limited.received.envelopes) == 4


async def test_acks_can_be_inspected_in_process(client: HecClient, hec: RunningHec) -> None:
    await client.send(1, token=ACKED, channel=CHANNEL)
    await client.send(2, token=ACKED, channel=CHANNEL)
    await client.ack(0)
    assert hec.acks.pending(CHANNEL) == [1]
