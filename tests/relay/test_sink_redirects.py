"""A sink that redirects is never followed: the sink pauses, names the Location, keeps everything.

Followed, a 301/302 turned the POST into a body-less GET and the 200 of whatever page answered
counted as delivered (the cursor moved, the events were at no sink); a 307/308 re-posted every
envelope to another origin. Here a real server on 127.0.0.1 redirects to a second one that would
answer 200 to anything: that second server must receive nothing.
"""

from __future__ import annotations

import aiohttp
import pytest

from auditstream.common.secrets import Secret
from auditstream.journal import Journal
from auditstream.relay.config import BatchSettings, HecSinkConfig
from auditstream.relay.decision import Pause, decide
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.relay.errors import SinkUnavailable
from auditstream.relay.sinks.hec import HecSink
from auditstream.relay.status import create_status_app
from tests.redirecting import REDIRECTS, redirecting, serving
from tests.relay.conftest import StartRelay, cursor, fill, relay_config
from tests.waiting import eventually

TOKEN = "11111111-2222-3333-4444-555555555555"


def sink_config(url: str) -> HecSinkConfig:
    return HecSinkConfig(name="splunk", url=url, token=Secret(TOKEN), timeout_seconds=2.0,
                         batch=BatchSettings(max_events=50, max_bytes=100_000,
                                             max_wait_seconds=0.0),
                         envelope=EnvelopeSettings(index="main"))


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_pauses_with_its_location_never_delivers(status: int) -> None:
    decision = decide(status, b'{"text":"Success","code":0}', None, 5,
                      "https://user:secret@elsewhere.example:8443/collect?x=1")
    assert isinstance(decision, Pause)
    assert "https://elsewhere.example:8443/collect?x=1" in decision.reason
    assert "secret" not in decision.reason
    assert "user" not in decision.reason
    assert str(status) in decision.reason


def test_a_redirect_without_location_still_pauses() -> None:
    decision = decide(302, b"", None, 1, None)
    assert isinstance(decision, Pause)
    assert "no Location header" in decision.reason


@pytest.mark.parametrize("status", REDIRECTS)
async def test_redirecting_sink_pauses_keeps_the_cursor_and_the_target_gets_nothing(
        journal: Journal, start_relay: StartRelay, status: int) -> None:
    await fill(journal, 20)
    async with redirecting(status) as (sink_url, target):
        relay = await start_relay(relay_config(sink_config(sink_url)))
        health = await relay.check_sinks()
        assert not health["splunk"].ok
        assert target.url in health["splunk"].reason
        pipeline = relay.pipelines[0]
        await eventually(lambda: pipeline.state == "paused", 5)
        assert f"HTTP {status}" in pipeline.pause_reason
        assert target.url + "/services/collector/event" in pipeline.pause_reason
        async with serving(create_status_app(relay.registry, relay.probes())) as status_url, \
                aiohttp.ClientSession() as http, http.get(status_url + "/readyz") as ready:
            assert ready.status == 503
            answer = await ready.json()
        component = answer["components"]["sink:splunk"]
        assert component["ok"] is False
        assert target.url in component["reason"]
        assert await cursor(journal) == 0
        assert target.requests == []
        assert TOKEN not in pipeline.pause_reason


@pytest.mark.parametrize("status", REDIRECTS)
async def test_ack_query_to_a_redirecting_sink_is_unavailable_naming_the_location(
        status: int) -> None:
    async with redirecting(status) as (sink_url, target):
        sink = HecSink("splunk", sink_url, Secret(TOKEN), use_acks=True, timeout_seconds=2.0)
        try:
            with pytest.raises(SinkUnavailable, match=r"redirects to http://127\.0\.0\.1"):
                await sink.query_acks([1, 2])
        finally:
            await sink.close()
        assert target.requests == []
