"""GitLab's REST API v4 over aiohttp: pages followed to the end, rate limits, errors once.

The GraphQL modules (``session``, ``legacy``, ``consolidated``) manage streaming; REST is
where GraphQL has no equivalent (stored audit events, a group's subgroups and projects).

- Pages: whatever pagination the request asked for (keyset or offset), the next page is the
  ``Link`` header's ``rel="next"`` URL, followed until there is none. The URL must stay on
  GitLab's origin (scheme, host, port): the token is sent with it, so a next link elsewhere
  is refused rather than followed.
- 429: wait what ``Retry-After`` (seconds or an HTTP date) or ``RateLimit-Reset`` (epoch
  seconds) says, capped at ``max_wait_seconds``, at most ``rate_limit_waits`` times in a row;
  then ``RateLimited``. 502/503/504 and connection failures: a few retries with backoff.
- 401 ``GitLabAuthError``; 403 ``PermissionDenied`` naming the role needed; 404 ``NotFound``
  naming what was asked for; other 4xx ``GitLabRefused`` with GitLab's own message. A 3xx is
  never followed (the token would go with it): ``GitLabRefused`` naming where it pointed.

The decisions are pure (``decide``, ``next_link``, ``wait_seconds``); ``RestSession`` acts.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson

from auditstream.client.errors import (
    GitLabAuthError,
    GitLabError,
    GitLabRefused,
    GitLabUnavailable,
    NotFound,
    PermissionDenied,
    RateLimited,
)

log = logging.getLogger("auditstream.gitlab.rest")

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_RATE_LIMIT_WAITS = 5
DEFAULT_MAX_WAIT_SECONDS = 60.0
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_SECONDS = 0.5
# Safety net against a server whose next link never ends (GitLab's own lists always do).
MAX_PAGES = 100_000
_RETRYABLE = {502, 503, 504}


@dataclass(frozen=True, slots=True)
class Done:
    """A 2xx: the page is good."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Ask again after ``seconds`` (429, or a transient 5xx)."""

    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    """Stop: ``error`` says what GitLab refused and what would fix it."""

    error: GitLabError


Decision = Done | Wait | Fail


def decide(status: int, headers: Mapping[str, str], body: bytes, *, what: str, role: str,
           attempt: int, now: float, backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
           max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS) -> Decision:
    """What one answer to ``GET <what>`` means. ``attempt`` counts from 0."""
    if 200 <= status < 300:
        return Done()
    message = gitlab_message(body) or f"HTTP {status}"
    if status == 429:
        return Wait(wait_seconds(headers, now, backoff_seconds * 2 ** attempt,
                                 max_wait_seconds), f"rate limited ({message})")
    if status in _RETRYABLE:
        return Wait(min(backoff_seconds * 2 ** attempt, max_wait_seconds), message)
    if status == 401:
        return Fail(GitLabAuthError(f"GitLab refused the access token ({message}): check "
                                    "the token (it needs the read_api or api scope)"))
    if status == 403:
        return Fail(PermissionDenied([message], f"listing {what} needs {role}"))
    if status == 404:
        return Fail(NotFound([message], f"{what}: not found, or not visible to the "
                                        "token's user"))
    if 300 <= status < 400:
        where = headers.get("Location", "elsewhere")
        return Fail(GitLabRefused([f"HTTP {status} to {where}"],
                                  f"{what}: not followed (the token would go with it); "
                                  "give GitLab's URL as it answers"))
    if status >= 500:
        return Fail(GitLabUnavailable(f"GitLab answered {status} for {what}: {message}"))
    return Fail(GitLabRefused([message], what))


def wait_seconds(headers: Mapping[str, str], now: float, fallback: float,
                 cap: float) -> float:
    """How long a 429 asks us to wait: Retry-After (seconds or HTTP date), else
    RateLimit-Reset (epoch seconds, GitLab's), else ``fallback``; never more than ``cap``."""
    retry_after = headers.get("Retry-After", "").strip()
    seconds: float | None = None
    if retry_after.isdigit():
        seconds = float(retry_after)
    elif retry_after:
        try:
            seconds = email.utils.parsedate_to_datetime(retry_after).timestamp() - now
        except (TypeError, ValueError):
            seconds = None
    reset = headers.get("RateLimit-Reset", "").strip()
    if seconds is None and reset.isdigit():
        seconds = float(reset) - now
    if seconds is None:
        seconds = fallback
    return min(max(seconds, 0.0), cap)


def next_link(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, if any."""
    for part in (link_header or "").split(","):
        url, _, params = part.partition(";")
        url = url.strip()
        if not (url.startswith("<") and url.endswith(">")):
            continue
        rels = [p.strip() for p in params.split(";")]
        if any(r.replace(" ", "") in ('rel="next"', "rel=next") for r in rels):
            return url[1:-1]
    return None


def same_origin(url: str, base: str) -> bool:
    """Whether ``url`` is on ``base``'s scheme, host and port (default ports filled in)."""
    a, b = urlsplit(url), urlsplit(base)

    def port(parts: Any) -> int | None:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)

    return (a.scheme, a.hostname, port(a)) == (b.scheme, b.hostname, port(b))


def gitlab_message(body: bytes) -> str:
    """GitLab's ``{"message": ...}`` or ``{"error": ...}``, as a string."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(data, dict):
        value = data.get("message", data.get("error"))
        if value is not None:
            return value if isinstance(value, str) else orjson.dumps(value).decode()
    return ""


class RestSession:
    """``{gitlab_url}/api/v4`` with an access token (sent as ``PRIVATE-TOKEN``)."""

    def __init__(self, gitlab_url: str, token: str, *,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 rate_limit_waits: int = DEFAULT_RATE_LIMIT_WAITS,
                 max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
                 attempts: int = DEFAULT_ATTEMPTS,
                 backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.gitlab_url = gitlab_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._rate_limit_waits = rate_limit_waits
        self._max_wait = max_wait_seconds
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._http: aiohttp.ClientSession | None = None
        self.requests = 0  # answers received (for tests and the report)
        self.rate_limited = 0  # 429s waited out

    async def __aenter__(self) -> RestSession:
        self._http = aiohttp.ClientSession(timeout=self._timeout,
                                           headers={"PRIVATE-TOKEN": self._token})
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._http is not None:
            await self._http.close()

    def url(self, path: str, params: Mapping[str, str | int] | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.gitlab_url}/api/v4{path}{query}"

    async def pages(self, path: str, params: Mapping[str, str | int], *, what: str,
                    role: str) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a list, following ``Link: rel="next"`` to the end."""
        url: str | None = self.url(path, params)
        for _ in range(MAX_PAGES):
            if url is None:
                return
            headers, body = await self.get(url, what=what, role=role)
            try:
                items = orjson.loads(body) if body else []
            except orjson.JSONDecodeError:
                items = None
            if not isinstance(items, list):
                raise GitLabUnavailable(f"GitLab did not answer {what} with a JSON list "
                                        "(a proxy in the way?)")
            yield [item for item in items if isinstance(item, dict)]
            url = next_link(headers.get("Link"))
            if url is not None and not same_origin(url, self.gitlab_url):
                raise GitLabUnavailable(f"GitLab's next page of {what} points off its origin "
                                        f"({urlsplit(url).netloc}); not following it with "
                                        "the token")
        raise GitLabUnavailable(f"{what}: more than {MAX_PAGES} pages; giving up")

    async def get(self, url: str, *, what: str, role: str) -> tuple[Mapping[str, str], bytes]:
        """One GET, with the bounded waits; the answer's headers and body, or an error."""
        waits = failures = 0
        while True:
            status, headers, body = await self._fetch(url, what)
            decision = decide(status, headers, body, what=what, role=role,
                              attempt=waits + failures, now=time.time(),
                              backoff_seconds=self._backoff, max_wait_seconds=self._max_wait)
            if isinstance(decision, Done):
                return headers, body
            if isinstance(decision, Fail):
                raise decision.error
            if status == 429:
                waits += 1
                self.rate_limited += 1
                if waits > self._rate_limit_waits:
                    raise RateLimited(f"GitLab still rate-limits {what} after {waits - 1} "
                                      "waits; try again later")
            else:
                failures += 1
                if failures >= self._attempts:
                    raise GitLabUnavailable(f"GitLab answered {status} for {what} "
                                            f"{failures} times: {decision.reason}")
            log.warning("GitLab: %s for %s; waiting %.1f s", decision.reason, what,
                        decision.seconds)
            await self._sleep(decision.seconds)

    async def _fetch(self, url: str, what: str) -> tuple[int, Mapping[str, str], bytes]:
        assert self._http is not None, "use RestSession in 'async with'"
        for attempt in range(self._attempts):
            try:
                async with self._http.get(url, allow_redirects=False) as response:
                    body = await response.read()
                    self.requests += 1
                    return response.status, response.headers, body
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if attempt == self._attempts - 1:
                    raise GitLabUnavailable(f"cannot reach {self.gitlab_url} for {what}: "
                                            f"{exc or type(exc).__name__}") from exc
                delay = min(self._backoff * 2 ** attempt, self._max_wait)
                log.warning("GitLab did not answer (%s); retrying in %.1f s", exc, delay)
                await self._sleep(delay)
        raise GitLabUnavailable(f"{self.gitlab_url}: no answer")  # pragma: no cover
