"""Fixtures for the HEC stand-in's tests: a stand-in with one token of each kind, a client."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest

from auditstream.server.hec import HecConfig, HecToken, RunningHec

PLAIN = "plain-token-0123"        # indexes main and audit, no ack
ACKED = "acked-token-4567"        # acknowledgement on
QUERY = "query-token-89ab"        # may be sent as ?token=
DISABLED = "disabled-token-cdef"
CHANNEL = "0f2b7c1e-6d8a-4b1c-9e3f-5a7d2c4b6e80"
OTHER_CHANNEL = "7c0e5d2a-1b3f-4e6d-8a9c-0b1d2e3f4a5b"
MAX_CONTENT_LENGTH = 4096
EVENT = "/services/collector/event"
RAW = "/services/collector/raw"
ACK = "/services/collector/ack"
HEALTH = "/services/collector/health"


def stand_in_config(**settings: Any) -> HecConfig:
    """The tests' stand-in: one token of each kind and a small ``max_content_length``."""
    tokens = (
        HecToken(PLAIN, name="plain", indexes=("main", "audit")),
        HecToken(ACKED, name="acked", ack=True),
        HecToken(QUERY, name="query", query_auth=True),
        HecToken(DISABLED, name="disabled", disabled=True),
    )
    return HecConfig(**{"tokens": tokens, "max_content_length": MAX_CONTENT_LENGTH,
                        **settings})


def envelopes(*events: object, **metadata: object) -> bytes:
    """Envelopes for ``events``, concatenated with a newline as most clients send them."""
    return b"\n".join(orjson.dumps({**metadata, "event": event}) for event in events)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def code(self) -> object:
        return self.body.get("code")


class HecClient:
    """Real HTTP to the stand-in; each call is one request, its answer read whole."""

    def __init__(self, session: aiohttp.ClientSession, hec: RunningHec) -> None:
        self.session, self.hec = session, hec

    async def post(self, path: str = EVENT, body: bytes | str = b"", *,
                   token: str | None = PLAIN, channel: str | None = None,
                   headers: Mapping[str, str] | None = None,
                   params: Mapping[str, str] | None = None, gzipped: bool = False,
                   give_up_after: float | None = None) -> Reply:
        data = body.encode() if isinstance(body, str) else body
        sent = dict(self.hec.headers(token, channel) if token is not None else {})
        if channel is not None and token is None:
            sent["X-Splunk-Request-Channel"] = channel
        if gzipped:
            data = gzip.compress(data)
            sent["Content-Encoding"] = "gzip"
        sent.update(headers or {})
        limit = (aiohttp.ClientTimeout(total=give_up_after) if give_up_after is not None
                 else None)
        async with self.session.post(self.hec.url + path, data=data, headers=sent,
                                     params=params, timeout=limit) as response:
            return await _reply(response)

    async def send(self, *events: object, token: str = PLAIN, channel: str | None = None,
                   **metadata: object) -> Reply:
        """One batch of envelopes, one per event, to ``/services/collector/event``."""
        return await self.post(EVENT, envelopes(*events, **metadata), token=token,
                               channel=channel)

    async def ack(self, *ack_ids: int, token: str = ACKED, channel: str = CHANNEL) -> Reply:
        return await self.post(ACK, orjson.dumps({"acks": list(ack_ids)}), token=token,
                               channel=channel)

    async def get(self, path: str) -> Reply:
        async with self.session.get(self.hec.url + path) as response:
            return await _reply(response)

    async def admin(self, method: str, path: str, payload: object = None) -> Reply:
        data = orjson.dumps(payload) if payload is not None else None
        async with self.session.request(method, f"{self.hec.url}/_stand-in{path}",
                                        data=data) as response:
            return await _reply(response)


async def _reply(response: aiohttp.ClientResponse) -> Reply:
    body = await response.json(content_type=None)
    return Reply(response.status, body, dict(response.headers))


@pytest.fixture
def hec_config() -> HecConfig:
    """These tests' stand-in (the root ``hec`` fixture runs it): a token of each kind."""
    return stand_in_config()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as opened:
        yield opened


@pytest.fixture
def client(session: aiohttp.ClientSession, hec: RunningHec) -> HecClient:
    return HecClient(session, hec)
