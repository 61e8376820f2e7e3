"""Which destination gets which event, and what is sent: GitLab's streaming, as pure values.

``receives`` is GitLab's routing: a group destination gets the events of its group's whole
tree, an instance destination every event; an inactive destination nothing; event type and
namespace filters narrow that. ``plan`` turns events into the deliveries to make, one per
event and receiving destination, and applies the realism knobs: in-flight duplicates, fresh
UUIDs for stream-only events, drops, reordering and job-level retries.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

import orjson

from auditstream.server.gitlab.destinations import (
    EVENT_TYPE_HEADER,
    TOKEN_HEADER,
    Destination,
    Scope,
)
from auditstream.server.gitlab.directory import Directory
from auditstream.server.gitlab.errors import StandInRequestError
from auditstream.server.gitlab.events import AuditEvent

# What GitLab's HTTP client sends with a string body unless a custom header says otherwise.
DEFAULT_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_JOB_RETRIES = 3  # GitLab retries a streaming job up to 3 times (18.0+)
# GitLab's batched delivery (behind feature flags today): a batch that gets no 2xx is sent again
# after these waits, the last one repeated, up to MAX_BATCH_TRIES tries in all.
REDELIVERY_WAITS_SECONDS = (120.0, 300.0, 900.0, 1800.0, 3600.0)
MAX_BATCH_TRIES = 10
MAX_BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Knobs:
    """How far streaming departs from the happy path. Rates are probabilities (0 to 1) drawn
    per delivery (``duplicate_rate``, ``drop_rate``) or per event (``fresh_uuid_rate``,
    ``job_retry_rate``) from a generator seeded with ``seed``; 0 and 1 are exact.

    - ``duplicate_rate``: the same delivery is sent twice (in-flight redelivery, same id)
    - ``fresh_uuid_rate``: a stream-only event is sent again with a new random UUID as id
    - ``drop_rate``: a delivery is never sent (recorded as dropped)
    - ``reorder``: each batch's deliveries go out in a shuffled order
    - ``job_retry_rate``: the event's job runs again ``job_retries`` more times, to every
      destination (stream-only events get a fresh UUID each time, stored ones keep their id)
    - ``batch_size``: 0 is GitLab's delivery today (one POST per event); more turns on its
      newer batched delivery: up to that many events of one destination as one JSON array,
      without ``X-Gitlab-Audit-Event-Type``, sent again after a non-2xx, a timeout or a
      connection error (2 m, 5 m, 15 m, 30 m, 1 h, 1 h, ...: 10 tries), each wait multiplied
      by ``redelivery_scale`` (0.001: 2 m becomes 0.12 s)
    - ``circuit_breaker``: GitLab's breaker (``server.gitlab.circuit``): 5 failures in 5
      minutes skip the destination for 15 minutes, silently; ``circuit_time_scale`` shrinks
      those times (0.001: 0.3 s and 0.9 s)
    """

    duplicate_rate: float = 0.0
    fresh_uuid_rate: float = 0.0
    drop_rate: float = 0.0
    reorder: bool = False
    job_retry_rate: float = 0.0
    job_retries: int = 1
    seed: int | None = None
    batch_size: int = 0
    redelivery_scale: float = 0.001
    circuit_breaker: bool = False
    circuit_time_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "fresh_uuid_rate", "drop_rate", "job_retry_rate"):
            rate = getattr(self, name)
            if isinstance(rate, bool) or not isinstance(rate, int | float) \
                    or not 0.0 <= rate <= 1.0 or math.isnan(rate):
                raise StandInRequestError(f"{name}: must be a number from 0 to 1, got {rate!r}")
        for flag in ("reorder", "circuit_breaker"):
            if not isinstance(getattr(self, flag), bool):
                raise StandInRequestError(f"{flag}: must be true or false, "
                                          f"got {getattr(self, flag)!r}")
        scale = self.circuit_time_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) \
                or not 0 < scale <= 1000 or math.isnan(scale):
            raise StandInRequestError(f"circuit_time_scale: must be a number above 0 (1 is "
                                      f"GitLab's own times), got {scale!r}")
        if isinstance(self.job_retries, bool) or not isinstance(self.job_retries, int) \
                or not 1 <= self.job_retries <= MAX_JOB_RETRIES:
            raise StandInRequestError(f"job_retries: must be 1 to {MAX_JOB_RETRIES}, "
                                      f"got {self.job_retries!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) \
                or not 0 <= self.batch_size <= MAX_BATCH_SIZE:
            raise StandInRequestError(f"batch_size: must be 0 (one POST per event) to "
                                      f"{MAX_BATCH_SIZE}, got {self.batch_size!r}")
        if isinstance(self.redelivery_scale, bool) \
                or not isinstance(self.redelivery_scale, int | float) \
                or not 0.0 <= self.redelivery_scale <= 1.0:
            raise StandInRequestError(f"redelivery_scale: must be a number from 0 to 1, "
                                      f"got {self.redelivery_scale!r}")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise StandInRequestError(f"seed: must be an integer, got {self.seed!r}")

    @classmethod
    def from_json(cls, document: object) -> Knobs:
        """Knobs from a JSON object; unknown keys and wrong values name the key."""
        if not isinstance(document, dict):
            raise StandInRequestError("knobs: must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(document) - known
        if unknown:
            raise StandInRequestError(f"knobs: unknown key(s) {', '.join(sorted(unknown))}; "
                                      f"known: {', '.join(sorted(known))}")
        return cls(**document)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Reason(StrEnum):
    """Why a delivery was made."""

    EVENT = "event"                # the event's own delivery
    DUPLICATE = "duplicate"        # the same delivery again (duplicate_rate)
    FRESH_UUID = "fresh_uuid"      # a stream-only event again with a new id (fresh_uuid_rate)
    JOB_RETRY = "job_retry"        # the job ran again (job_retry_rate)
    REDELIVERY = "redelivery"      # a batch sent again after no 2xx (batch_size)


@dataclass(frozen=True, slots=True)
class Planned:
    """One delivery to make: the POST's URL, headers and body, and why it is made."""

    destination: Destination
    event: AuditEvent
    headers: tuple[tuple[str, str], ...]
    body: bytes
    reason: Reason
    job_attempt: int
    dropped: bool = False


def receives(destination: Destination, event: AuditEvent, directory: Directory) -> bool:
    """Whether GitLab streams ``event`` to ``destination``."""
    if not destination.active:
        return False
    if destination.scope is Scope.GROUP:
        group = directory.group(destination.group_id) if destination.group_id else None
        namespace = event.entity.namespace
        if group is None or namespace is None or not directory.contains(group, namespace):
            return False
    if destination.event_type_filters and event.event_type not in \
            destination.event_type_filters:
        return False
    if destination.namespace_filters:
        namespace = event.entity.namespace
        return namespace is not None and any(
            directory.contains(f.namespace, namespace) for f in destination.namespace_filters)
    return True


def request_headers(destination: Destination, event: AuditEvent) -> tuple[tuple[str, str], ...]:
    """The token, the event type, every active custom header, and the content type GitLab's
    client defaults to unless a custom header sets one."""
    custom = [(h.key, h.value) for h in destination.headers if h.active]
    headers = [(TOKEN_HEADER, destination.token), *custom,
               (EVENT_TYPE_HEADER, event.event_type)]
    if not any(key.lower() == "content-type" for key, _ in custom):
        headers.append(("Content-Type", DEFAULT_CONTENT_TYPE))
    return tuple(headers)


def body_of(event: AuditEvent) -> bytes:
    return orjson.dumps(event.payload())


def plan(events: Iterable[AuditEvent], destinations: Sequence[Destination],
         directory: Directory, knobs: Knobs, rng: random.Random) -> list[Planned]:
    """Every delivery the events make, knobs applied, in the order they go out."""
    planned: list[Planned] = []
    for event in events:
        targets = [d for d in destinations if receives(d, event, directory)]
        if not targets:
            continue
        retried = rng.random() < knobs.job_retry_rate
        for attempt in range(1, 2 + (knobs.job_retries if retried else 0)):
            sent = event if attempt == 1 or event.stored else event.with_fresh_id()
            reason = Reason.EVENT if attempt == 1 else Reason.JOB_RETRY
            for destination in targets:
                planned.extend(_deliveries(destination, sent, reason, attempt, knobs, rng))
        if not event.stored and rng.random() < knobs.fresh_uuid_rate:
            again = event.with_fresh_id()
            planned.extend(_delivery(d, again, Reason.FRESH_UUID, 1) for d in targets)
    if knobs.reorder:
        rng.shuffle(planned)
    return planned


def _deliveries(destination: Destination, event: AuditEvent, reason: Reason, attempt: int,
                knobs: Knobs, rng: random.Random) -> list[Planned]:
    first = _delivery(destination, event, reason, attempt,
                      dropped=rng.random() < knobs.drop_rate)
    if rng.random() < knobs.duplicate_rate:
        return [first, replace(first, reason=Reason.DUPLICATE, dropped=False)]
    return [first]


def _delivery(destination: Destination, event: AuditEvent, reason: Reason, attempt: int,
              *, dropped: bool = False) -> Planned:
    return Planned(destination, event, request_headers(destination, event), body_of(event),
                   reason, attempt, dropped)


def batches(planned: Sequence[Planned], size: int) -> list[tuple[Planned, ...]]:
    """The deliveries to send, as batches of up to ``size`` events of one destination, in the
    order their first event was planned; dropped ones are left out (recorded one by one)."""
    open_batches: dict[str, list[Planned]] = {}
    order: list[list[Planned]] = []
    for delivery in planned:
        if delivery.dropped:
            continue
        current = open_batches.get(delivery.destination.gid)
        if current is None or len(current) >= size:
            current = []
            open_batches[delivery.destination.gid] = current
            order.append(current)
        current.append(delivery)
    return [tuple(batch) for batch in order]


def batch_request(batch: Sequence[Planned]) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """One batch's headers (no event type: the events' types differ) and its JSON array."""
    headers = tuple((key, value) for key, value in batch[0].headers
                    if key != EVENT_TYPE_HEADER)
    return headers, b"[" + b",".join(delivery.body for delivery in batch) + b"]"


def redelivery_wait(tries_so_far: int, scale: float) -> float | None:
    """How long to wait before a batch's next try, or None when it has had every try."""
    if tries_so_far >= MAX_BATCH_TRIES:
        return None
    waits = REDELIVERY_WAITS_SECONDS
    return waits[min(tries_so_far, len(waits)) - 1] * scale
