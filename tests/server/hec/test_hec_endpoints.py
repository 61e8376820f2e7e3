"""The HEC endpoints over real HTTP: paths, parsing, every refusal with its status, 413."""

from __future__ import annotations

import gzip
import os

import pytest

from auditstream.server.hec import RunningHec
from tests.server.hec.conftest import (
    CHANNEL,
    EVENT,
    HEALTH,
    MAX_CONTENT_LENGTH,
    PLAIN,
    RAW,
    HecClient,
    envelopes,
)


@pytest.mark.parametrize("path", ["/services/collector", "/services/collector/event",
                                  "/services/collector/event/1.0"])
async def test_every_event_path_accepts_envelopes(client: HecClient, hec: RunningHec,
                                                  path: str) -> None:
    reply = await client.post(path, envelopes({"id": 1}))
    assert (reply.status, reply.body) == (200, {"text": "Success", "code": 0})
    assert hec.received.events == [{"id": 1}]


@pytest.mark.parametrize("content_type", [None, "application/json",
                                          "application/x-www-form-urlencoded", "text/plain"])
async def test_any_content_type_is_accepted(client: HecClient, content_type: str | None,
                                            ) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    reply = await client.post(EVENT, envelopes("x"), headers=headers)
    assert reply.status == 200


async def test_concatenated_envelopes_without_whitespace_are_each_accepted(
        client: HecClient, hec: RunningHec) -> None:
    reply = await client.post(EVENT, b'{"event":{"id":1}}{"event":{"id":2}}{"event":"three"}')
    assert reply.status == 200
    assert hec.received.events == [{"id": 1}, {"id": 2}, "three"]


async def test_concatenated_envelopes_with_whitespace_are_each_accepted(
        client: HecClient, hec: RunningHec) -> None:
    reply = await client.post(EVENT, b'{"event":1}\n\n  {"event":2}\r\n{"event":3}\n')
    assert reply.status == 200
    assert hec.received.events == [1, 2, 3]


async def test_gzip_body_is_decoded(client: HecClient, hec: RunningHec) -> None:
    reply = await client.post(EVENT, envelopes(*range(5)), gzipped=True)
    assert reply.status == 200
    assert hec.received.events == [0, 1, 2, 3, 4]


async def test_body_that_is_not_gzip_but_says_so_is_invalid_data_format(
        client: HecClient) -> None:
    reply = await client.post(EVENT, envelopes(1), headers={"Content-Encoding": "gzip"})
    assert (reply.status, reply.code) == (400, 6)


@pytest.mark.parametrize(("body", "code"), [
    (b"", 5),
    (b"  \n", 5),
    (b'[{"event":1}]', 6),
    (b'{"event":1,"index":"secret"}', 7),
    (b'{"host":"h"}', 12),
    (b'{"event":""}', 13),
    (b'{"event":1,"fields":{"nested":{"a":"b"}}}', 15),
])
async def test_each_bad_body_gets_splunks_code_and_400(client: HecClient, hec: RunningHec,
                                                      body: bytes, code: int) -> None:
    reply = await client.post(EVENT, body)
    assert (reply.status, reply.code) == (400, code)
    assert hec.received.envelopes == ()


async def test_bad_event_at_position_two_accepts_the_first_two(client: HecClient,
                                                               hec: RunningHec) -> None:
    body = envelopes({"id": 1}, {"id": 2}) + b'\n{"event":""}\n' + envelopes({"id": 4})
    reply = await client.post(EVENT, body)
    assert reply.status == 400
    assert reply.body == {"text": "Event field cannot be blank", "code": 13,
                          "invalid-event-number": 2}
    assert hec.received.events == [{"id": 1}, {"id": 2}]
    assert hec.received.requests[0].accepted == 2


async def test_body_over_max_content_length_is_413_and_nothing_is_taken(
        client: HecClient, hec: RunningHec) -> None:
    body = envelopes("x" * MAX_CONTENT_LENGTH)
    reply = await client.post(EVENT, body)
    assert reply.status == 413
    assert hec.received.envelopes == ()
    assert hec.received.status_counts() == {413: 1}


async def test_max_content_length_is_measured_on_the_wire_after_gzip(
        client: HecClient, hec: RunningHec) -> None:
    # Inflates to well over the limit, but what travels is small: Splunk takes it.
    body = envelopes(*(["the same words again"] * 500))
    assert len(body) > MAX_CONTENT_LENGTH > len(gzip.compress(body))
    assert (await client.post(EVENT, body, gzipped=True)).status == 200
    assert len(hec.received.envelopes) == 500
    incompressible = os.urandom(MAX_CONTENT_LENGTH + 1)
    assert (await client.post(EVENT, incompressible, gzipped=True)).status == 413


@pytest.mark.parametrize("path", [RAW, "/services/collector/raw/1.0"])
async def test_raw_takes_a_line_per_event_with_metadata_from_the_query(
        client: HecClient, hec: RunningHec, path: str) -> None:
    params = {"host": "gl", "source": "gitlab", "sourcetype": "audit", "index": "audit",
              "channel": CHANNEL}
    reply = await client.post(path, "one\ntwo\n", params=params)
    assert (reply.status, reply.code) == (200, 0)
    assert hec.received.events == ["one", "two"]
    first = hec.received.envelopes[0]
    assert (first.endpoint, first.index, first.channel) == ("raw", "audit", CHANNEL)
    assert first.envelope["host"] == "gl"
    assert first.envelope["sourcetype"] == "audit"


async def test_raw_with_an_index_the_token_lacks_is_code_7(client: HecClient) -> None:
    reply = await client.post(RAW, "line", params={"index": "secret"})
    assert (reply.status, reply.code) == (400, 7)


@pytest.mark.parametrize("path", [HEALTH, "/services/collector/health/1.0"])
async def test_health_says_healthy_with_code_17(client: HecClient, path: str) -> None:
    reply = await client.get(path)
    assert (reply.status, reply.body) == (200, {"text": "HEC is healthy", "code": 17})


async def test_unknown_path_is_a_json_404(client: HecClient) -> None:
    reply = await client.post("/services/collector/nope", envelopes(1))
    assert (reply.status, reply.code) == (404, 404)


async def test_get_on_the_event_endpoint_is_a_json_405(client: HecClient) -> None:
    reply = await client.get(EVENT)
    assert (reply.status, reply.code) == (405, 405)


async def test_accepted_envelope_is_kept_with_its_request(client: HecClient,
                                                          hec: RunningHec) -> None:
    await client.send("before")
    await client.post(EVENT, b'{"event":{"id":7},"index":"audit","fields":{"k":"v"}}',
                      channel=CHANNEL, headers={"X-Custom": "yes"})
    kept = hec.received.envelopes[-1]
    assert (kept.request_number, kept.position, kept.endpoint) == (2, 0, "event")
    assert (kept.token.name, kept.auth.value, kept.channel) == ("plain", "splunk", CHANNEL)
    assert (kept.index, kept.ack_id, kept.fields) == ("audit", None, {"k": "v"})
    assert kept.text == '{"event":{"id":7},"index":"audit","fields":{"k":"v"}}'
    assert kept.headers["X-Custom"] == "yes"
    # The token is masked wherever headers are kept.
    assert kept.headers["Authorization"] == "Splunk ********"
    assert PLAIN not in repr(kept)


async def test_requests_are_counted_by_status(client: HecClient, hec: RunningHec) -> None:
    await client.send(1)
    await client.send(2)
    await client.post(EVENT, b"")
    await client.post(EVENT, envelopes(1), token="wrong")
    assert hec.received.status_counts() == {200: 2, 400: 1, 403: 1}
    assert [r.code for r in hec.received.requests] == [0, 0, 5, 4]
    assert [r.number for r in hec.received.requests] == [1, 2, 3, 4]
