"""The pipeline's decisions, and what a HEC answer means: one pure function from status and HEC
body to a decision.

The HEC sink turns each answer into a decision with ``decide`` (other sinks make the same
decisions their own way); the pipeline only acts on them (``relay.delivery``). The table follows
what Splunk answers and how Vector, Fluent Bit and the OpenTelemetry Collector react, and
improves on them where their users lose data: resend only after ``invalid-event-number``, pause
(never drop) on configuration errors, and never count a redirect as delivered: a 3xx pauses the
sink with its ``Location`` (a followed 301/302 turns the POST into a body-less GET whose 200
looked like delivery; a followed 307/308 re-posts every envelope to whatever origin it names).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import orjson

from auditstream.common.locations import describe_location

# Retry timing (Vector: 1 s doubling to a 30 s cap, unlimited attempts).
DEFAULT_BACKOFF_BASE_SECONDS = 1.0
DEFAULT_BACKOFF_CAP_SECONDS = 30.0
# A paused sink (bad token, wrong index or URL) is tried again slowly, never hot-looped.
DEFAULT_PAUSE_RETRY_SECONDS = 60.0
# Splunk's answer codes that mean "our configuration is wrong", whatever the HTTP status.
_CONFIGURATION_CODES = {1: "token disabled", 2: "token is required", 3: "invalid authorization",
                        4: "invalid token", 5: "no data", 7: "incorrect index",
                        10: "data channel is missing", 11: "invalid data channel",
                        14: "ACK is disabled", 16: "query string authorization is not enabled"}
# The setting a person fixes for each refusal (config key; the command line's flag).
SETTING_TOKEN = "token (token_env or token_file; --hec-token-env)"  # noqa: S105 (a name)
SETTING_INDEX = "index (index, index_routes; --hec-index)"
SETTING_URL = "url (--hec-url)"
SETTING_ACK = "ack (the HEC token has indexer acknowledgement off)"
_SETTING_OF_CODE = {1: SETTING_TOKEN, 2: SETTING_TOKEN, 3: SETTING_TOKEN, 4: SETTING_TOKEN,
                    7: SETTING_INDEX, 14: SETTING_ACK, 16: SETTING_URL}


@dataclass(frozen=True, slots=True)
class Delivered:
    """All of the batch is accepted (or, with acknowledgement on, awaiting ``ack_id``)."""

    ack_id: int | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Send again after a backoff; envelopes before ``accepted`` were taken already."""

    reason: str
    retry_after: float | None = None
    accepted: int = 0


@dataclass(frozen=True, slots=True)
class Split:
    """Too large (413), or refused as a whole without saying which: send each half."""

    reason: str


@dataclass(frozen=True, slots=True)
class DeadLetterEvent:
    """Envelopes before ``position`` are accepted; the one at ``position`` never will be:
    store it as a dead letter (``journal.DeadLetter``, the record this decision makes)."""

    position: int
    reason: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Configuration is wrong (token, index, URL): keep everything, say so, retry slowly.
    ``setting`` names what to fix."""

    reason: str
    setting: str = SETTING_URL


Decision = Delivered | Retry | Split | DeadLetterEvent | Pause


def decide(status: int, body: bytes, retry_after: str | None, batch_size: int,
           location: str | None = None) -> Decision:
    """The decision for one HTTP answer to a batch of ``batch_size`` envelopes.

    ``location`` is the answer's ``Location`` header: only a redirect's reason uses it."""
    if 300 <= status < 400:
        return Pause(redirect_reason(status, location))
    answer = _hec_answer(body)
    code = answer.get("code")
    text = str(answer.get("text") or f"HTTP {status}")
    reason = f"HTTP {status}: {text}" + (f" (code {code})" if code is not None else "")
    invalid = _invalid_event_number(answer, batch_size)
    if 200 <= status < 300:
        ack = answer.get("ackId")
        return Delivered(ack if isinstance(ack, int) and not isinstance(ack, bool) else None)
    if isinstance(code, int) and code in _CONFIGURATION_CODES:
        return Pause(reason, _SETTING_OF_CODE.get(code, SETTING_URL))
    if status in (401, 403):
        return Pause(reason, SETTING_TOKEN)
    if status in (404, 405, 501):
        return Pause(reason, SETTING_URL)
    if status in (408, 429) or status >= 500:
        return Retry(reason, _seconds(retry_after), accepted=invalid or 0)
    if status == 413:
        if batch_size > 1:
            return Split(reason)
        return DeadLetterEvent(0, reason + ": event too large")
    if status == 400 and invalid is not None:
        return DeadLetterEvent(invalid, reason)
    if status == 400 and batch_size > 1:
        return Split(reason)  # refused as a whole: halve until the bad envelope stands alone
    if status == 400:
        return DeadLetterEvent(0, reason)
    return Pause(reason)


def redirect_reason(status: int, location: str | None) -> str:
    """Why a 3xx pauses the sink: the status and where it pointed (credentials removed)."""
    return (f"HTTP {status}: the sink redirects to {describe_location(location)}; "
            "redirects are never followed: set the sink's url to where the collector really is")


def backoff_delay(attempt: int, retry_after: float | None, *, base: float, cap: float,
                  rng: random.Random) -> float:
    """Capped exponential backoff with full jitter, never shorter than Retry-After."""
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    delay = rng.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after) if retry_after is not None else delay


def _hec_answer(body: bytes) -> dict[str, Any]:
    try:
        answer = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _invalid_event_number(answer: dict[str, Any], batch_size: int) -> int | None:
    value = answer.get("invalid-event-number")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < batch_size:
        return None  # absent, or a number we cannot trust: treat the batch as a whole
    return value


def _seconds(retry_after: str | None) -> float | None:
    if retry_after is None:
        return None
    try:
        seconds = float(retry_after.strip())
    except ValueError:
        return None  # an HTTP date: rare from HEC sinks; the backoff applies instead
    if math.isnan(seconds):
        return None  # every comparison with NaN is false: it would pass the clamp below
    return min(max(seconds, 0.0), 3600.0)
