"""TLS on both sides, with a throwaway CA made in the test.

Receiver: HTTPS with ``tls_cert``/``tls_key``, TLS 1.2 and 1.3 only. Relay: a HEC sink over
HTTPS is verified (``ca_file``, or the system's trust store); skipping verification takes
the explicit ``tls_verify = false``, which warns at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError
from auditstream.journal import Journal
from auditstream.receiver.tls import MINIMUM_TLS_VERSION
from auditstream.relay.service import Relay
from auditstream.server.hec import RunningHec, running_hec
from tests.conftest import TOKEN, StartReceiver, receiver_config
from tests.processes import AUDITSTREAM
from tests.relay.conftest import cursor, cursor_at_least, fill, hec_sink, relay_config
from tests.security.ca import Issued, ThrowawayCA
from tests.waiting import eventually

EVENT = orjson.dumps({"id": 1, "event_type": "user_created"})
HEADERS = {"X-Gitlab-Event-Streaming-Token": TOKEN}


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA(tmp_path / "pki")


@pytest.fixture
def leaf(ca: ThrowawayCA) -> Issued:
    return ca.issue("localhost", ("127.0.0.1",))


def client_context(ca: ThrowawayCA, *, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.ca_file))
    if maximum is not None:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = maximum
    return context


async def post(url: str, context: ssl.SSLContext | bool) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
            session.post(url, data=EVENT, headers=HEADERS, ssl=context) as response:
        return response.status


async def test_receiver_serves_https_with_the_configured_certificate(
        start_receiver_on_journal: StartReceiver, ca: ThrowawayCA, leaf: Issued) -> None:
    receiver = await start_receiver_on_journal(receiver_config(tls_cert=leaf.cert,
                                                               tls_key=leaf.key))
    assert receiver.url.startswith("https://")
    assert await post(receiver.url + "/", client_context(ca)) == 200
    assert [e.event_id for e in await receiver.journal.tail(10)] == ["1"]


async def test_plain_http_to_the_tls_port_stores_nothing(
        start_receiver_on_journal: StartReceiver, leaf: Issued) -> None:
    receiver = await start_receiver_on_journal(receiver_config(tls_cert=leaf.cert,
                                                               tls_key=leaf.key))
    plain = receiver.url.replace("https://", "http://")
    with pytest.raises(aiohttp.ClientError):
        await post(plain + "/", False)
    assert await receiver.journal.tail(10) == []


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
async def test_tls_1_2_and_1_3_are_accepted(start_receiver_on_journal: StartReceiver,
                                            ca: ThrowawayCA, leaf: Issued,
                                            version: ssl.TLSVersion) -> None:
    receiver = await start_receiver_on_journal(receiver_config(tls_cert=leaf.cert,
                                                               tls_key=leaf.key))
    context = client_context(ca, maximum=version)
    context.minimum_version = version
    assert await post(receiver.url + "/", context) == 200


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_tls_1_1_and_older_are_refused(start_receiver_on_journal: StartReceiver,
                                             ca: ThrowawayCA, leaf: Issued) -> None:
    assert MINIMUM_TLS_VERSION is ssl.TLSVersion.TLSv1_2
    receiver = await start_receiver_on_journal(receiver_config(tls_cert=leaf.cert,
                                                               tls_key=leaf.key))
    context = client_context(ca, maximum=ssl.TLSVersion.TLSv1_1)
    context.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer what it can
    with pytest.raises(aiohttp.ClientError):
        await post(receiver.url + "/", context)
    assert await receiver.journal.tail(10) == []


def write_config(folder: Path, receiver_lines: str) -> Path:
    path = folder / "auditstream.toml"
    path.write_text(f"""
[receiver]
listen = "127.0.0.1:0"
{receiver_lines}
[[receiver.destinations]]
name = "acme"
token_env = "STREAM_TOKEN"
[journal]
path = "journal.db"
""")
    return path


@pytest.mark.parametrize(("lines", "message"), [
    ('tls_cert = "pki/localhost.crt"', "receiver.tls_key: tls_cert and tls_key go together"),
    ('tls_key = "pki/localhost.key"', "receiver.tls_cert: tls_cert and tls_key go together"),
    ('tls_cert = "pki/missing.crt"\ntls_key = "pki/localhost.key"',
     "receiver.tls_cert: cannot load"),
    ('tls_cert = "pki/ca.pem"\ntls_key = "pki/localhost.key"', "receiver.tls_cert: cannot load"),
])
def test_tls_config_errors_name_the_key_and_the_file(tmp_path: Path, leaf: Issued,
                                                      lines: str, message: str) -> None:
    path = write_config(tmp_path, lines)
    with pytest.raises(ConfigError) as error:
        load_config(path, {"STREAM_TOKEN": TOKEN})
    assert str(error.value).startswith(f"{path}: {message}")


async def test_auditstream_receive_serves_https_from_its_config(tmp_path: Path,
                                                                ca: ThrowawayCA,
                                                                leaf: Issued) -> None:
    config = write_config(tmp_path, 'tls_cert = "pki/localhost.crt"\n'
                                    'tls_key = "pki/localhost.key"')
    process = await asyncio.create_subprocess_exec(
        AUDITSTREAM, "receive", "--config", str(config), env={"STREAM_TOKEN": TOKEN,
                                                               "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        match = re.search(r"listening on (https://\S+)", line)
        assert match, line
        assert await post(match.group(1) + "/", client_context(ca)) == 200
    finally:
        process.terminate()
        await process.wait()


# -- the relay to a HEC sink over HTTPS --------------------------------------------------------

@pytest.fixture
async def tls_hec(leaf: Issued) -> AsyncIterator[tuple[RunningHec, str]]:
    """The HEC stand-in, also listening with TLS (a second site on its own runner)."""
    async with running_hec() as hec:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(leaf.cert, leaf.key)
        site = web.TCPSite(hec.runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = next(a[1] for a in hec.runner.addresses
                    if isinstance(a, tuple) and a[1] != hec.port)
        yield hec, f"https://localhost:{port}"


async def test_relay_verifies_the_sink_with_its_ca_file(journal: Journal,
                                                        tls_hec: tuple[RunningHec, str],
                                                        ca: ThrowawayCA) -> None:
    hec, url = tls_hec
    await fill(journal, 5)
    relay = Relay(relay_config(hec_sink(hec, url=url, ca_file=ca.ca_file)), journal)
    assert (await relay.check_sinks())["splunk"].ok
    relay.start()
    try:
        await hec.received.wait_for(5)
        await eventually(lambda: cursor_at_least(journal, 5))
    finally:
        await relay.stop(1.0)
    assert sorted(e.event["id"] for e in hec.received.envelopes) == [1, 2, 3, 4, 5]


async def test_relay_refuses_a_sink_it_cannot_verify_and_keeps_the_events(
        journal: Journal, tls_hec: tuple[RunningHec, str]) -> None:
    hec, url = tls_hec
    await fill(journal, 3)
    relay = Relay(relay_config(hec_sink(hec, url=url)), journal)  # system trust store only
    health = (await relay.check_sinks())["splunk"]
    assert not health.ok
    assert "certificate" in health.reason.lower()
    relay.start()
    try:
        # A delivery was tried and failed: the sink is retrying (or paused), never running.
        await eventually(lambda: relay.pipelines[0].state in ("retrying", "paused"))
    finally:
        await relay.stop(1.0)
    assert hec.received.envelopes == ()
    assert await cursor(journal) == 0  # nothing was confirmed: everything is still to send


async def test_skipping_verification_takes_the_explicit_option_and_warns_at_start(
        journal: Journal, tls_hec: tuple[RunningHec, str],
        caplog: pytest.LogCaptureFixture) -> None:
    hec, url = tls_hec
    await fill(journal, 2)
    with caplog.at_level(logging.WARNING, logger="auditstream.relay"):
        relay = Relay(relay_config(hec_sink(hec, url=url, tls_verify=False)), journal)
    assert any("TLS verification is OFF for sink splunk" in r.getMessage()
               for r in caplog.records)
    relay.start()
    try:
        await hec.received.wait_for(2)
    finally:
        await relay.stop(1.0)
