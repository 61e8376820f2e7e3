"""The ceiling's client: the relay's own batches, posted one after another by bare aiohttp.

``load_bodies`` reads the prefilled journal once and builds exactly what the relay sends:
windows of ``max_events`` events (the relay's read size), each encoded with
``relay.envelope.encode`` and cut with ``relay.batch.cut_batches`` at the relay's defaults.
``post_bodies`` then posts them sequentially (the relay has one sender per sink), with the
relay's headers, and gzips each body inline, before its request, at the relay's level: the
relay must compress too, so the ceiling pays for it the same way. Building the bodies (journal
read and encoding) is not timed: the ceiling is the transport alone.
"""

from __future__ import annotations

import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from auditstream.journal import JournalConfig, open_journal_readonly
from auditstream.relay.batch import cut_batches
from auditstream.relay.config import BatchSettings
from auditstream.relay.envelope import EnvelopeSettings, encode
from auditstream.relay.sinks.hec import DEFAULT_GZIP_LEVEL, EVENT_PATH

# A sink name nobody registers: read(after=...) never looks at its cursor.
_READER = "bench-ceiling"
_CONNECTIONS = 8  # as HecSink's connector


@dataclass(frozen=True, slots=True)
class Bodies:
    """The request bodies of the whole journal, uncompressed, and how many events they hold."""

    bodies: list[bytes]
    events: int

    @property
    def raw_bytes(self) -> int:
        return sum(len(body) for body in self.bodies)


@dataclass(frozen=True, slots=True)
class CeilingRun:
    """One pass of every body: wall seconds from the first request to the last answer."""

    events: int
    requests: int
    seconds: float
    wire_bytes: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


async def load_bodies(journal: Path, batch: BatchSettings | None = None,
                      envelope: EnvelopeSettings | None = None) -> Bodies:
    """Every event of ``journal`` as the relay's request bodies, in journal order."""
    batch = batch or BatchSettings()
    envelope = envelope or EnvelopeSettings()
    source = await open_journal_readonly(JournalConfig(path=journal))
    bodies: list[bytes] = []
    events = 0
    try:
        position = 0
        while window := await source.read(_READER, batch.max_events, after=position):
            position = window[-1].seq
            envelopes = [encode(event, envelope) for event in window]
            bodies += [b.body() for b in cut_batches(envelopes, batch.max_events,
                                                     batch.max_bytes)]
            events += len(window)
    finally:
        await source.close()
    return Bodies(bodies=bodies, events=events)


def gzip_body(data: bytes, level: int = DEFAULT_GZIP_LEVEL) -> bytes:
    """What ``relay.sinks.hec`` does to a body: a gzip member at ``level``."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


async def post_bodies(url: str, token: str, bodies: Bodies, *, gzip: bool,
                      gzip_level: int = DEFAULT_GZIP_LEVEL) -> CeilingRun:
    """Post every body to ``url`` + the event path, one at a time; any non-200 is an error."""
    headers = {"Authorization": f"Splunk {token}", "X-Splunk-Request-Channel": str(uuid.uuid4()),
               "Content-Type": "application/json"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    wire = 0
    connector = aiohttp.TCPConnector(limit=_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        for body in bodies.bodies:
            data = gzip_body(body, gzip_level) if gzip else body
            wire += len(data)
            async with session.post(url + EVENT_PATH, data=data, headers=headers) as answer:
                text = await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"the collector answered HTTP {answer.status}: "
                                       f"{text[:200]!r}")
        seconds = time.perf_counter() - started
    return CeilingRun(events=bodies.events, requests=len(bodies.bodies), seconds=seconds,
                      wire_bytes=wire)
