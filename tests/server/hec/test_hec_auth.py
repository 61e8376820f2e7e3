"""Each way of presenting a token, over real HTTP, with Splunk's answer for each refusal."""

from __future__ import annotations

import aiohttp
import pytest

from auditstream.server.hec import RunningHec
from tests.server.hec.conftest import DISABLED, EVENT, PLAIN, QUERY, HecClient, envelopes


@pytest.mark.parametrize("scheme", ["Splunk", "splunk", "SPLUNK"])
async def test_splunk_scheme_is_accepted_in_any_case(client: HecClient, hec: RunningHec,
                                                     scheme: str) -> None:
    reply = await client.post(EVENT, envelopes(1), token=None,
                              headers={"Authorization": f"{scheme} {PLAIN}"})
    assert reply.status == 200
    assert hec.received.envelopes[0].auth.value == "splunk"


async def test_basic_auth_with_any_user_and_the_token_as_password_is_accepted(
        session: aiohttp.ClientSession, hec: RunningHec) -> None:
    basic = {"Authorization": aiohttp.encode_basic_auth("whoever", PLAIN)}
    async with session.post(hec.event_url, data=envelopes(1), headers=basic) as response:
        assert response.status == 200
    kept = hec.received.envelopes[0]
    assert (kept.token.name, kept.auth.value) == ("plain", "basic")
    assert kept.headers["Authorization"] == "Basic ********"


async def test_query_token_is_accepted_where_the_token_allows_it(client: HecClient,
                                                                 hec: RunningHec) -> None:
    reply = await client.post(EVENT, envelopes(1), token=None, params={"token": QUERY})
    assert reply.status == 200
    assert hec.received.envelopes[0].auth.value == "query"


async def test_query_token_where_the_token_forbids_it_is_400_code_16(client: HecClient,
                                                                     ) -> None:
    reply = await client.post(EVENT, envelopes(1), token=None, params={"token": PLAIN})
    assert (reply.status, reply.body) == (
        400, {"text": "Query string authorization is not enabled", "code": 16})


@pytest.mark.parametrize(("headers", "status", "code", "text"), [
    ({}, 401, 2, "Token is required"),
    ({"Authorization": f"Bearer {PLAIN}"}, 401, 3, "Invalid authorization"),
    ({"Authorization": "Splunk not-a-token"}, 403, 4, "Invalid token"),
    ({"Authorization": f"Splunk {DISABLED}"}, 403, 1, "Token disabled"),
])
async def test_each_token_refusal_has_splunks_status_code_and_text(
        client: HecClient, hec: RunningHec, headers: dict[str, str], status: int, code: int,
        text: str) -> None:
    reply = await client.post(EVENT, envelopes(1), token=None, headers=headers)
    assert (reply.status, reply.body) == (status, {"text": text, "code": code})
    assert hec.received.envelopes == ()


async def test_token_is_checked_on_raw_and_ack_too(client: HecClient) -> None:
    raw = await client.post("/services/collector/raw", "line", token="nope")
    ack = await client.post("/services/collector/ack", b'{"acks":[0]}', token=None)
    assert (raw.status, raw.code, ack.status, ack.code) == (403, 4, 401, 2)
