"""Indexer acknowledgement: the cursor waits for true; lost acks are resent after a timeout."""

from __future__ import annotations

from auditstream.journal import Journal
from auditstream.relay.config import AckSettings
from auditstream.server.hec import HecConfig, HecToken, running_hec
from tests.helpers.metrics import scraped
from tests.relay.conftest import (
    StartRelay,
    cursor,
    cursor_at_least,
    fill,
    hec_sink,
    relay_config,
)
from tests.waiting import eventually

ACK_TOKEN = HecToken("ack-token-0000-4000-8000-000000000001", ack=True)


async def test_cursor_moves_only_when_the_indexer_says_true(
        journal: Journal, start_relay: StartRelay) -> None:
    async with running_hec(HecConfig(tokens=(ACK_TOKEN,))) as hec:
        await fill(journal, 60)
        hec.faults.ack_late(0.6)
        patient = AckSettings(poll_seconds=0.05, timeout_seconds=5.0, max_pending=50)
        relay = await start_relay(relay_config(hec_sink(hec, ack=True), ack=patient))
        await hec.received.wait_for(60)

        def asked_while_pending() -> bool:
            """The relay has asked /ack and still holds acks (late by 0.6 s), as a scraper
            sees them."""
            pending = scraped(relay.registry, "auditstream_relay_pending_acks", sink="splunk")
            return bool(pending) and any(r.endpoint == "ack" for r in hec.received.requests)

        await eventually(asked_while_pending)
        assert await cursor(journal) == 0  # taken, but not yet indexed
        await eventually(lambda: cursor_at_least(journal, 60))
        assert not hec.received.duplicates()
        ack_requests = [r for r in hec.received.requests if r.endpoint == "ack"]
        assert ack_requests, "the relay never asked /ack"


async def test_lost_acks_lead_to_a_resend_after_the_timeout(
        journal: Journal, start_relay: StartRelay) -> None:
    async with running_hec(HecConfig(tokens=(ACK_TOKEN,))) as hec:
        await fill(journal, 30)
        hec.faults.ack_never(next=1)  # the first batch's ackId never turns true
        await start_relay(relay_config(hec_sink(hec, ack=True)))
        await eventually(lambda: cursor_at_least(journal, 30))
        counts = hec.received.count_by()
        assert sorted(int(str(k)) for k in counts) == list(range(1, 31))
        resent = {k for k, n in counts.items() if n > 1}
        assert resent, "the batch whose ack was lost must have been sent again"
        assert all(n == 2 for k, n in counts.items() if k in resent)
