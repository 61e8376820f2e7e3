"""A third-party Splunk HEC client library works against the stand-in unchanged."""

from __future__ import annotations

import asyncio
import logging

from splunk_handler import SplunkHandler

from auditstream.server.hec import running_hec


async def test_splunk_handler_logs_arrive_as_envelopes() -> None:
    async with running_hec() as hec:
        handler = SplunkHandler(host=hec.host, port=hec.port, token=hec.token, index="main",
                                protocol="http", flush_interval=0.05, retry_count=0,
                                sourcetype="third-party", timeout=5)
        logger = logging.getLogger("third-party-client-test")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            # The library queues records and posts them from its own timer thread with
            # requests, so the stand-in in this loop is free to answer.
            for number in range(5):
                logger.warning("audit line %d", number)
            received = await hec.received.wait_for(5, within=10)
        finally:
            logger.removeHandler(handler)
            await asyncio.to_thread(handler.close)
    assert [e.envelope["sourcetype"] for e in received] == ["third-party"] * 5
    assert [e.index for e in received] == ["main"] * 5
    assert all(f"audit line {n}" in str(e.event) for n, e in enumerate(received))
