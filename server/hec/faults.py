"""Scripted faults and their schedule: what goes wrong, on which endpoints, and for how long. Pure.

A fault applies to "the next K requests" it could apply to (``next``), to every such request
for T seconds (``for_seconds``), or, with neither, until it is cleared; with both, it ends at
whichever comes first. The clock is passed in, so the schedule is tested without sleeping.

When several faults could shape the same answer, the one scheduled first wins and only it is
used up; ``slow`` is taken separately, so a slow answer can also be a busy one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from auditstream.server.hec.codes import (
    ENVELOPE_CODES,
    INVALID_DATA_FORMAT,
    UNHEALTHY_CODES,
    UNHEALTHY_QUEUES_FULL,
)
from auditstream.server.hec.errors import FaultSpecError

T = TypeVar("T")


class Endpoint(StrEnum):
    EVENT = "event"
    RAW = "raw"
    ACK = "ack"
    HEALTH = "health"


class FaultKind(StrEnum):
    BUSY = "busy"                            # 503 code 9, optional Retry-After
    INTERNAL_ERROR = "internal_error"        # 500 code 8
    TOO_MANY_REQUESTS = "too_many_requests"  # 429, optional Retry-After (as a proxy answers)
    TOO_LARGE = "too_large"                  # 413 whatever the size
    SLOW = "slow"                            # answer after ``delay`` seconds
    HANG = "hang"                            # never answer; the client has to give up
    RESET = "reset"                          # close the connection without an answer
    UNHEALTHY = "unhealthy"                  # /health answers 503 with ``code`` 18-20
    ACK_LATE = "ack_late"                    # the request's ackId turns true ``delay`` s late
    ACK_NEVER = "ack_never"                  # the request's ackId never turns true
    BAD_EVENT = "bad_event"                  # the envelope at ``position`` fails with ``code``


DATA_ENDPOINTS = frozenset({Endpoint.EVENT, Endpoint.RAW})
# Faults that replace the whole answer of a request.
ANSWER_KINDS = frozenset({FaultKind.BUSY, FaultKind.INTERNAL_ERROR, FaultKind.TOO_MANY_REQUESTS,
                          FaultKind.TOO_LARGE, FaultKind.HANG, FaultKind.RESET})
ACK_KINDS = frozenset({FaultKind.ACK_LATE, FaultKind.ACK_NEVER})
# Kinds that only make sense on some endpoints; any other kind may be put on any endpoint
# (on the data endpoints unless told otherwise).
_FIXED_ENDPOINTS: dict[FaultKind, frozenset[Endpoint]] = {
    FaultKind.UNHEALTHY: frozenset({Endpoint.HEALTH}),
    FaultKind.ACK_LATE: DATA_ENDPOINTS,
    FaultKind.ACK_NEVER: DATA_ENDPOINTS,
    FaultKind.BAD_EVENT: frozenset({Endpoint.EVENT}),
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One kind of misbehaviour and its parameters (each used by the kinds named)."""

    kind: FaultKind
    endpoints: frozenset[Endpoint]
    retry_after: int | None = None  # busy, too_many_requests: the Retry-After header
    delay: float = 0.0              # slow: before answering; ack_late: after acceptance
    accept: bool = False            # hang, reset: take the events first, then lose the answer
    code: int | None = None         # unhealthy: 18-20; bad_event: 6, 7, 12, 13 or 15
    position: int = 0               # bad_event: zero-based position of the bad envelope


def make_fault(kind: FaultKind | str, *, endpoints: Iterable[str] | None = None,
               retry_after: int | None = None, delay: float | None = None,
               accept: bool = False, code: int | None = None,
               position: int | None = None) -> Fault:
    """A validated ``Fault``, with each kind's defaults; ``FaultSpecError`` names a bad field."""
    kind = _kind(kind)
    chosen = _endpoints(kind, endpoints)
    if retry_after is not None and (isinstance(retry_after, bool) or retry_after < 0):
        raise FaultSpecError(f"retry_after: must be a whole number of seconds >= 0, "
                             f"got {retry_after!r}")
    if kind in (FaultKind.SLOW, FaultKind.ACK_LATE) and (delay is None or delay < 0):
        raise FaultSpecError(f"{kind}: needs a delay in seconds >= 0")
    if kind is FaultKind.UNHEALTHY:
        code = UNHEALTHY_QUEUES_FULL if code is None else code
        if code not in UNHEALTHY_CODES:
            raise FaultSpecError(f"code: an unhealthy answer has code 18, 19 or 20, got {code}")
    if kind is FaultKind.BAD_EVENT:
        code = INVALID_DATA_FORMAT if code is None else code
        if code not in ENVELOPE_CODES:
            raise FaultSpecError(f"code: a bad envelope fails with one of "
                                 f"{sorted(ENVELOPE_CODES)}, got {code}")
        if position is None or position < 0:
            raise FaultSpecError("bad_event: needs a position >= 0 (zero-based)")
    return Fault(kind=kind, endpoints=chosen, retry_after=retry_after, delay=delay or 0.0,
                 accept=accept, code=code, position=position or 0)


def _kind(kind: FaultKind | str) -> FaultKind:
    try:
        return FaultKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise FaultSpecError(f"kind: unknown fault {kind!r} (known: {known})") from None


def _endpoints(kind: FaultKind, endpoints: Iterable[str] | None) -> frozenset[Endpoint]:
    if endpoints is None:
        return _FIXED_ENDPOINTS.get(kind, DATA_ENDPOINTS)
    if isinstance(endpoints, str):
        raise FaultSpecError("endpoints: must be a list of names, not one string")
    try:
        chosen = frozenset(Endpoint(name) for name in endpoints)
    except ValueError:
        raise FaultSpecError(f"endpoints: known ones are "
                             f"{', '.join(e.value for e in Endpoint)}") from None
    allowed_set = _FIXED_ENDPOINTS.get(kind, frozenset(Endpoint))
    if not chosen or not chosen <= allowed_set:
        allowed = ", ".join(sorted(allowed_set))
        raise FaultSpecError(f"endpoints: {kind} applies to {allowed} only")
    return chosen


@dataclass(slots=True)
class ScheduledFault:
    """A fault in the schedule: how many requests it has left and when it ends."""

    id: int
    fault: Fault
    remaining: int | None  # requests left; None: not counted
    until: float | None    # clock time it ends; None: no end
    fired: int = 0

    def live(self, now: float) -> bool:
        return ((self.remaining is None or self.remaining > 0)
                and (self.until is None or now < self.until))


class FaultSchedule:
    """The scheduled faults, in the order they were added."""

    def __init__(self) -> None:
        self._entries: list[ScheduledFault] = []
        self._next_id = 1

    def add(self, fault: Fault, *, now: float, next: int | None = None,
            for_seconds: float | None = None) -> ScheduledFault:
        if next is not None and (isinstance(next, bool) or next < 1):
            raise FaultSpecError(f"next: must be a count of requests >= 1, got {next!r}")
        if for_seconds is not None and for_seconds <= 0:
            raise FaultSpecError(f"for_seconds: must be > 0, got {for_seconds!r}")
        until = None if for_seconds is None else now + for_seconds
        entry = ScheduledFault(self._next_id, fault, next, until)
        self._next_id += 1
        self._entries.append(entry)
        return entry

    def take(self, endpoint: Endpoint, kinds: frozenset[FaultKind], now: float) -> Fault | None:
        """The first live fault of ``kinds`` for ``endpoint``, used up once; or None."""
        self._entries = [entry for entry in self._entries if entry.live(now)]
        for entry in self._entries:
            if entry.fault.kind in kinds and endpoint in entry.fault.endpoints:
                entry.fired += 1
                if entry.remaining is not None:
                    entry.remaining -= 1
                return entry.fault
        return None

    def clear(self, fault_id: int | None = None) -> int:
        """Remove one fault (by id) or all of them; how many were removed."""
        before = len(self._entries)
        self._entries = [e for e in self._entries if fault_id is not None and e.id != fault_id]
        return before - len(self._entries)

    def active(self, now: float) -> list[ScheduledFault]:
        return [entry for entry in self._entries if entry.live(now)]


_SPEC_KEYS = frozenset({"kind", "next", "for_seconds", "endpoints", "retry_after", "delay",
                        "after", "accept", "code", "position"})


def fault_from_json(document: Any) -> tuple[Fault, int | None, float | None]:
    """A fault and its schedule (``next``, ``for_seconds``) from the admin endpoint's JSON."""
    if not isinstance(document, dict):
        raise FaultSpecError('expected a JSON object such as {"kind": "busy", "next": 3}')
    unknown = sorted(set(document) - _SPEC_KEYS)
    if unknown:
        known = ", ".join(sorted(_SPEC_KEYS))
        raise FaultSpecError(f"unknown field {unknown[0]!r} (known: {known})")
    fault = make_fault(
        _typed(document, "kind", str) or "",
        endpoints=_typed(document, "endpoints", list),
        retry_after=_typed(document, "retry_after", int),
        # ack_late's "after" reads better in JSON; it is the same delay.
        delay=_number(document, "delay", _number(document, "after", None)),
        accept=bool(_typed(document, "accept", bool)),
        code=_typed(document, "code", int),
        position=_typed(document, "position", int),
    )
    return fault, _typed(document, "next", int), _number(document, "for_seconds", None)


def _typed(document: Mapping[str, Any], key: str, kind: type[T]) -> T | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FaultSpecError(f"{key}: must be {kind.__name__}, got {value!r}")
    return value


def _number(document: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = document.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"{key}: must be a number of seconds, got {value!r}")
    return float(value)


def fault_to_json(entry: ScheduledFault, now: float) -> dict[str, object]:
    fault = entry.fault
    return {
        "id": entry.id, "kind": fault.kind.value, "endpoints": sorted(fault.endpoints),
        "retry_after": fault.retry_after, "delay": fault.delay, "accept": fault.accept,
        "code": fault.code, "position": fault.position, "fired": entry.fired,
        "remaining": entry.remaining,
        "seconds_left": None if entry.until is None else max(0.0, entry.until - now),
    }
