"""Scripting faults from a test: one method per kind, each scheduling one fault.

Every method takes ``next=K`` (the next K requests it applies to), ``for_seconds=T`` (every
such request for T seconds from now), or neither (until cleared), and returns the scheduled
fault, whose ``fired`` says how many requests it has shaped. By default a fault applies to
the data endpoints (event and raw); ``endpoints=("ack",)`` and the like move it.

A fault is used up by the requests it shapes: the answer faults and ``slow`` by every request
to their endpoints (before the token is even looked at, as an overloaded Splunk does);
``bad_event`` by event requests that get as far as parsing; ``ack_late`` and ``ack_never``
by requests that are given an ackId.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditstream.server.hec.faults import FaultKind, ScheduledFault, make_fault
from auditstream.server.hec.state import HecState


class Faults:
    """The fault schedule of one running stand-in."""

    def __init__(self, state: HecState) -> None:
        self._state = state

    def busy(self, *, retry_after: int | None = None, next: int | None = None,
             for_seconds: float | None = None, endpoints: Iterable[str] | None = None,
             accept: bool = False) -> ScheduledFault:
        """503 code 9 "Server is busy", with ``Retry-After`` when given."""
        return self._add(FaultKind.BUSY, next, for_seconds, endpoints=endpoints,
                         retry_after=retry_after, accept=accept)

    def internal_error(self, *, next: int | None = None, for_seconds: float | None = None,
                       endpoints: Iterable[str] | None = None,
                       accept: bool = False) -> ScheduledFault:
        """500 code 8 "Internal server error"."""
        return self._add(FaultKind.INTERNAL_ERROR, next, for_seconds, endpoints=endpoints,
                         accept=accept)

    def too_many_requests(self, *, retry_after: int | None = None, next: int | None = None,
                          for_seconds: float | None = None,
                          endpoints: Iterable[str] | None = None) -> ScheduledFault:
        """429, as a load balancer in front of Splunk answers, with ``Retry-After``."""
        return self._add(FaultKind.TOO_MANY_REQUESTS, next, for_seconds, endpoints=endpoints,
                         retry_after=retry_after)

    def too_large(self, *, next: int | None = None, for_seconds: float | None = None,
                  endpoints: Iterable[str] | None = None) -> ScheduledFault:
        """413 whatever the body's size."""
        return self._add(FaultKind.TOO_LARGE, next, for_seconds, endpoints=endpoints)

    def slow(self, delay: float, *, next: int | None = None, for_seconds: float | None = None,
             endpoints: Iterable[str] | None = None) -> ScheduledFault:
        """Answer as usual, ``delay`` seconds late."""
        return self._add(FaultKind.SLOW, next, for_seconds, endpoints=endpoints, delay=delay)

    def hang(self, *, accept: bool = False, next: int | None = None,
             for_seconds: float | None = None,
             endpoints: Iterable[str] | None = None) -> ScheduledFault:
        """Never answer; the client has to time out. ``accept=True``: take the events first."""
        return self._add(FaultKind.HANG, next, for_seconds, endpoints=endpoints, accept=accept)

    def reset(self, *, accept: bool = False, next: int | None = None,
              for_seconds: float | None = None,
              endpoints: Iterable[str] | None = None) -> ScheduledFault:
        """Cut the connection (TCP reset) instead of answering. ``accept=True``: take the
        events first, so the client cannot know they arrived."""
        return self._add(FaultKind.RESET, next, for_seconds, endpoints=endpoints, accept=accept)

    def unhealthy(self, code: int = 18, *, next: int | None = None,
                  for_seconds: float | None = None) -> ScheduledFault:
        """``/health`` answers 503 with code 18, 19 or 20."""
        return self._add(FaultKind.UNHEALTHY, next, for_seconds, code=code)

    def ack_late(self, after: float, *, next: int | None = None,
                 for_seconds: float | None = None) -> ScheduledFault:
        """The ackIds of accepted requests turn true only ``after`` seconds."""
        return self._add(FaultKind.ACK_LATE, next, for_seconds, delay=after)

    def ack_never(self, *, next: int | None = None,
                  for_seconds: float | None = None) -> ScheduledFault:
        """The ackIds of accepted requests never turn true (lost acknowledgements)."""
        return self._add(FaultKind.ACK_NEVER, next, for_seconds)

    def bad_event(self, position: int, *, code: int = 6, next: int | None = None,
                  for_seconds: float | None = None) -> ScheduledFault:
        """The envelope at ``position`` (zero-based) fails with ``code``; those before it
        are accepted (partial acceptance). A shorter batch is accepted whole."""
        return self._add(FaultKind.BAD_EVENT, next, for_seconds, code=code, position=position)

    def clear(self, fault: ScheduledFault | int | None = None) -> int:
        """Clear one fault (or its id), or all of them; how many were cleared."""
        fault_id = fault.id if isinstance(fault, ScheduledFault) else fault
        return self._state.schedule.clear(fault_id)

    @property
    def active(self) -> list[ScheduledFault]:
        return self._state.schedule.active(self._state.clock())

    def _add(self, kind: FaultKind, next: int | None, for_seconds: float | None, *,
             endpoints: Iterable[str] | None = None, retry_after: int | None = None,
             delay: float | None = None, accept: bool = False, code: int | None = None,
             position: int | None = None) -> ScheduledFault:
        fault = make_fault(kind, endpoints=endpoints, retry_after=retry_after, delay=delay,
                           accept=accept, code=code, position=position)
        return self._state.schedule.add(fault, now=self._state.clock(), next=next,
                                        for_seconds=for_seconds)
