"""One destination's token cannot erase another destination's events (issue 21).

Two destinations, two tokens, real HTTP: the holder of one token posts an id first; the other
destination's real event under that id is still stored, counted as a collision, and logged
with both destinations' names (never a token).
"""

from __future__ import annotations

import logging

import aiohttp
import orjson
import pytest

from tests.conftest import (
    OTHER_TOKEN,
    TOKEN,
    ReceiverUnderTest,
    StartReceiver,
    destination,
    receiver_config,
)
from tests.helpers.bodies import gitlab_body, gitlab_headers
from tests.helpers.http import post


@pytest.fixture
async def two_destinations(start_receiver_on_journal: StartReceiver) -> ReceiverUnderTest:
    return await start_receiver_on_journal(receiver_config(
        destination("acme", TOKEN), destination("forger", OTHER_TOKEN)))


async def test_forged_id_does_not_erase_another_destinations_event(
        two_destinations: ReceiverUnderTest, http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    url = two_destinations.url + "/"
    forged = orjson.dumps({"id": 5000})
    real = gitlab_body(5000)
    assert (await post(http, url, forged, gitlab_headers(OTHER_TOKEN)))[:2] == (
        200, {"accepted": 1, "duplicates": 0})
    with caplog.at_level(logging.WARNING, logger="auditstream.journal"):
        status, answer, _ = await post(http, url, real, gitlab_headers(TOKEN))
    # Stored, and answered as stored: the poster learns nothing about the other destination.
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    stored = await two_destinations.journal.tail(10)
    assert [(e.destination, e.event_id, e.body) for e in stored] == [
        ("forger", "5000", forged), ("acme", "5000", real)]
    assert (await two_destinations.journal.stats()).collisions == 1
    [warning] = [r.getMessage() for r in caplog.records if "collision" in r.getMessage()]
    assert "5000" in warning
    assert "'acme'" in warning
    assert "'forger'" in warning
    assert TOKEN not in caplog.text
    assert OTHER_TOKEN not in caplog.text
    async with http.get(two_destinations.url + "/metrics") as response:
        metrics = await response.text()
    assert ('auditstream_receiver_events_total{destination="acme",outcome="collision"} 1.0'
            in metrics)
    # GitLab's re-send of the real event is a duplicate of what was stored.
    assert (await post(http, url, real, gitlab_headers(TOKEN)))[:2] == (
        200, {"accepted": 0, "duplicates": 1})


async def test_same_event_to_group_and_instance_destinations_is_stored_once(
        two_destinations: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    url = two_destinations.url + "/"
    real = gitlab_body(6000)
    assert (await post(http, url, real, gitlab_headers(TOKEN)))[:2] == (
        200, {"accepted": 1, "duplicates": 0})
    assert (await post(http, url, real, gitlab_headers(OTHER_TOKEN)))[:2] == (
        200, {"accepted": 0, "duplicates": 1})
    stats = await two_destinations.journal.stats()
    assert (stats.events, stats.collisions) == (1, 0)
