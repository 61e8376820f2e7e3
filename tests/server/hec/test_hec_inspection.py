"""What the stand-in kept, in-process and over HTTP, and how tests start and stop it."""

from __future__ import annotations

import asyncio
import gc

import aiohttp
import pytest

from auditstream.server.hec import (
    DEFAULT_TOKEN,
    HecConfig,
    HecConfigError,
    HecToken,
    RunningHec,
    running_hec,
)
from tests.server.hec.conftest import (
    ACKED,
    CHANNEL,
    EVENT,
    PLAIN,
    HecClient,
    envelopes,
)


async def test_running_hec_listens_on_an_ephemeral_loopback_port_and_stops() -> None:
    async with running_hec() as hec, aiohttp.ClientSession() as session:
        assert hec.url == f"http://127.0.0.1:{hec.port}"
        assert hec.port > 0
        assert hec.token == DEFAULT_TOKEN
        async with session.post(hec.event_url, data=envelopes("hi"),
                                headers=hec.headers()) as response:
            assert response.status == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session, session.get(hec.url):
            pass


async def test_events_are_counted_per_event_id_and_duplicates_found(client: HecClient,
                                                                    hec: RunningHec) -> None:
    await client.send({"id": 1}, {"id": 2})
    await client.send({"id": 2}, {"id": 3})
    await client.send({"id": 2})
    await client.post(EVENT, b'{"event":"text","fields":{"event_id":"e-9"}}')
    assert hec.received.count_by() == {"1": 1, "2": 3, "3": 1, "e-9": 1}
    assert hec.received.duplicates() == {"2": 3}
    assert [e.position for e in hec.received.for_request(2)] == [0, 1]


async def test_kept_envelopes_hold_no_decoded_dicts_until_a_test_asks(
        client: HecClient, hec: RunningHec) -> None:
    # A stand-in fed millions of envelopes keeps them all: decoded dicts would cost the
    # cyclic GC a walk over each at every full collection.
    await client.send({"id": 1, "details": {"a": [1]}})
    (kept,) = hec.received.envelopes
    dicts = [r for r in gc.get_referents(kept) if isinstance(r, dict) and r is not kept.headers]
    assert dicts == []
    assert kept.event == {"id": 1, "details": {"a": [1]}}
    assert kept.envelope is kept.envelope  # decoded once, then kept
    assert hec.received.envelopes[0] is kept  # built once, when first asked for


async def test_envelope_count_counts_what_was_accepted_and_clear_forgets_it(
        client: HecClient, hec: RunningHec) -> None:
    await client.send(1, 2)
    await client.send(3)
    assert hec.received.envelope_count == 3
    assert [e.event for e in hec.received.envelopes] == [1, 2, 3]
    hec.received.clear()
    await client.send(4)
    assert hec.received.envelope_count == 1
    assert hec.received.events == [4]


async def test_count_by_takes_any_key(client: HecClient, hec: RunningHec) -> None:
    await client.send("a", index="audit")
    await client.send("b", "c")
    assert hec.received.count_by(lambda e: e.index) == {"audit": 1, "main": 2}


async def test_wait_for_returns_once_enough_envelopes_arrived(client: HecClient,
                                                              hec: RunningHec) -> None:
    waiting = asyncio.create_task(hec.received.wait_for(3, within=2))
    await client.send(1)
    await client.send(2, 3)
    assert len(await waiting) == 3


async def test_wait_for_says_how_many_came_when_it_times_out(client: HecClient,
                                                             hec: RunningHec) -> None:
    await client.send(1)
    with pytest.raises(TimeoutError, match=r"3 envelopes \(got 1\)"):
        await hec.received.wait_for(3, within=0.1)


async def test_received_over_http_names_tokens_but_never_shows_them(
        client: HecClient, hec: RunningHec) -> None:
    await client.send({"id": 1}, {"id": 1}, token=ACKED, channel=CHANNEL)
    await client.post(EVENT, b"")
    reply = await client.admin("GET", "/received")
    assert reply.status == 200
    [first, second] = reply.body["envelopes"]
    assert first["envelope"] == {"event": {"id": 1}}
    assert (first["token_name"], first["channel"], first["ack_id"]) == ("acked", CHANNEL, 0)
    assert (first["request_number"], second["position"], first["key"]) == (1, 1, "1")
    assert [r["status"] for r in reply.body["requests"]] == [200, 400]
    assert reply.body["status_counts"] == {"200": 1, "400": 1}
    assert reply.body["duplicates"] == {"1": 2}
    raw = await (await client.session.get(f"{hec.url}/_stand-in/received")).text()
    assert ACKED not in raw
    assert PLAIN not in raw


async def test_received_is_cleared_over_http(client: HecClient, hec: RunningHec) -> None:
    await client.send(1)
    assert (await client.admin("DELETE", "/received")).status == 200
    assert hec.received.envelopes == ()
    await client.send(2)
    assert hec.received.requests[0].number == 2


async def test_pending_acks_are_shown_over_http(client: HecClient, hec: RunningHec) -> None:
    hec.faults.ack_never()
    await client.send(1, token=ACKED, channel=CHANNEL)
    await client.send(2, token=ACKED, channel=CHANNEL)
    assert (await client.admin("GET", "/acks")).body == {"pending": {CHANNEL: [0, 1]}}


@pytest.mark.parametrize(("config", "words"), [
    ({"tokens": ()}, "at least one token"),
    ({"tokens": (HecToken("a"), HecToken("b"))}, "share a name"),
    ({"tokens": (HecToken("a", name="x"), HecToken("a", name="y"))}, "share a value"),
    ({"tokens": (HecToken(" a "),)}, "value"),
    ({"tokens": (HecToken("a", indexes=("audit",)),)}, "default_index"),
    ({"max_content_length": 0}, "max_content_length"),
    ({"port": 70000}, "port"),
    ({"max_pending_acks_per_channel": 0}, "max_pending_acks_per_channel"),
])
def test_wrong_config_names_the_setting_and_never_the_token(config: dict[str, object],
                                                            words: str) -> None:
    with pytest.raises(HecConfigError, match=words) as caught:
        HecConfig(**config)  # type: ignore[arg-type]
    assert "'a'" not in str(caught.value)


def test_token_value_never_shows_in_a_repr() -> None:
    token = HecToken("very-secret-value", name="prod")
    assert "very-secret-value" not in repr(token)
    assert "very-secret-value" not in repr(HecConfig(tokens=(token,)))


async def test_headers_helper_builds_splunk_or_basic_auth_and_the_channel(
        client: HecClient, hec: RunningHec) -> None:
    assert hec.headers(PLAIN, CHANNEL) == {"Authorization": f"Splunk {PLAIN}",
                                           "X-Splunk-Request-Channel": CHANNEL}
    async with client.session.post(hec.event_url, data=envelopes(1),
                                   headers=hec.headers(PLAIN, basic=True)) as response:
        assert response.status == 200
    assert hec.received.envelopes[0].auth.value == "basic"
