"""The HEC sink: batches to a Splunk HTTP Event Collector compatible endpoint.

Every aiohttp and OS error is translated here, once, into ``SinkUnavailable`` (a ``Retry`` for
a batch); every answer that arrives, whatever its status, becomes the pipeline's decision
through ``relay.decision.decide``, the HEC answer table.
No request follows a redirect (``allow_redirects=False`` on each): a 3xx comes back as it is,
with its ``Location``, and pauses the sink.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from auditstream.common.secrets import Secret
from auditstream.relay.batch import Batch
from auditstream.relay.decision import (
    SETTING_URL,
    Decision,
    Pause,
    Retry,
    decide,
    redirect_reason,
)
from auditstream.relay.errors import SinkUnavailable
from auditstream.relay.sinks.base import Sink, SinkHealth

EVENT_PATH = "/services/collector/event"
HEALTH_PATH = "/services/collector/health"
ACK_PATH = "/services/collector/ack"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_GZIP_LEVEL = 1  # most of gzip's saving on JSON at a fraction of level 6's CPU
# Splunk answers an empty POST with "No data" (code 5) once the token is good: a way to check
# the token at start-up without indexing anything.
_NO_DATA = 5


@dataclass(frozen=True, slots=True)
class HecAnswer:
    """What the collector said to one request, for ``relay.decision.decide``."""

    status: int
    body: bytes
    retry_after: str | None = None
    location: str | None = None  # a redirect's target: never followed, named in the reason


@dataclass(frozen=True, slots=True)
class HecEndpoints:
    event: str
    health: str
    ack: str


def hec_endpoints(url: str) -> HecEndpoints:
    """A collector's base URL gets the standard paths; a URL with a path is used as given."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    event = origin + (path or EVENT_PATH)
    if parts.query:
        event += "?" + parts.query
    collector = path.rsplit("/services/collector", 1)[0] if "/services/collector" in path else ""
    return HecEndpoints(event=event, health=origin + collector + HEALTH_PATH,
                        ack=origin + collector + ACK_PATH)


class HecSink(Sink):
    """Posts concatenated envelopes with ``Authorization: Splunk <token>`` and a channel."""

    def __init__(self, name: str, url: str, token: Secret, *, gzip: bool = True,
                 gzip_level: int = DEFAULT_GZIP_LEVEL, use_acks: bool = False,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 ssl_context: ssl.SSLContext | bool = True) -> None:
        self.name = name
        self.uses_acks = use_acks
        self.endpoints = hec_endpoints(url)
        self.channel = str(uuid.uuid4())  # one per sink and process, always sent
        self._token = token
        self._gzip = gzip
        self._gzip_level = gzip_level
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Splunk {self._token.reveal()}",
                "X-Splunk-Request-Channel": self.channel,
                "Content-Type": "application/json"}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=8, ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def send(self, batch: Batch) -> Decision:
        try:
            answer = await self._send(batch)
        except SinkUnavailable as exc:
            return Retry(str(exc))
        return decide(answer.status, answer.body, answer.retry_after, len(batch),
                      answer.location)

    async def _send(self, batch: Batch) -> HecAnswer:
        body = batch.body()
        headers = self._headers()
        if self._gzip:
            # zlib releases the GIL: compressing in a thread overlaps with the event loop.
            body = await asyncio.to_thread(_gzip, body, self._gzip_level)
            headers["Content-Encoding"] = "gzip"
        return await self._post(self.endpoints.event, body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> HecAnswer:
        try:
            async with self._client().post(url, data=body, headers=headers,
                                           allow_redirects=False) as response:
                return HecAnswer(response.status, await response.read(),
                                  response.headers.get("Retry-After"),
                                  response.headers.get("Location"))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SinkUnavailable(f"{self.name}: {_describe(exc)}") from exc

    async def health(self) -> SinkHealth:
        """Reachable, healthy, and our token is accepted (an empty POST answers code 5)."""
        try:
            async with self._client().get(self.endpoints.health,
                                          allow_redirects=False) as response:
                health = await response.read()
                if _redirected(response.status):
                    return SinkHealth(False, "health: " + redirect_reason(
                        response.status, response.headers.get("Location")), setting=SETTING_URL)
                if response.status != 200:
                    return SinkHealth(False, f"health: HTTP {response.status} {_text(health)}",
                                      setting=_health_setting(response.status))
            answer = await self._post(self.endpoints.event, b"", self._headers())
        except (aiohttp.ClientError, OSError, TimeoutError, SinkUnavailable) as exc:
            return SinkHealth(False, f"unreachable: {_describe(exc)}")
        if _redirected(answer.status):
            return SinkHealth(False, redirect_reason(answer.status, answer.location),
                              setting=SETTING_URL)
        code = _code(answer.body)
        if (answer.status == 400 and code == _NO_DATA) or 200 <= answer.status < 300:
            return SinkHealth(True, "reachable and takes our token")
        # The answer to an empty batch means what it would mean to a real one.
        decision = decide(answer.status, answer.body, answer.retry_after, 1)
        setting = "" if isinstance(decision, Retry) else (
            decision.setting if isinstance(decision, Pause) else SETTING_URL)
        return SinkHealth(False, f"HTTP {answer.status} {_text(answer.body)}", setting=setting)

    async def query_acks(self, ack_ids: Sequence[int]) -> dict[int, bool]:
        """One request for every pending id; ids missing from the answer count as false."""
        body = orjson.dumps({"acks": list(ack_ids)})
        answer = await self._post(self.endpoints.ack, body, self._headers())
        if _redirected(answer.status):
            raise SinkUnavailable(f"{self.name}: ack query: "
                                  f"{redirect_reason(answer.status, answer.location)}")
        if answer.status != 200:
            raise SinkUnavailable(f"{self.name}: ack query: HTTP {answer.status} "
                                  f"{_text(answer.body)}")
        try:
            acks = orjson.loads(answer.body).get("acks", {})
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise SinkUnavailable(f"{self.name}: ack query: unreadable answer") from exc
        if not isinstance(acks, dict):  # a list or a string here would stop the ack stage
            raise SinkUnavailable(f"{self.name}: ack query: unreadable answer")
        return {ack_id: acks.get(str(ack_id)) is True for ack_id in ack_ids}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _redirected(status: int) -> bool:
    return 300 <= status < 400


def _health_setting(status: int) -> str:
    """A health endpoint that is busy or unhealthy may recover; any other answer says the URL
    does not lead to a HEC collector."""
    return "" if status == 429 or status >= 500 else SETTING_URL


def _gzip(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _code(body: bytes) -> int | None:
    try:
        code = orjson.loads(body).get("code")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _text(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace")
