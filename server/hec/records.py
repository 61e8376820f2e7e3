"""Everything the stand-in accepted and answered, kept for tests to inspect.

Each accepted envelope is kept with the request that brought it (number, token, channel,
headers, ackId); each request with how it was answered. ``count_by`` and ``duplicates`` say
how often each event arrived, which is what an at-least-once test asserts on.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditstream.server.hec.auth import AuthForm
from auditstream.server.hec.config import HecToken
from auditstream.server.hec.envelopes import Envelope, decode_envelope

DEFAULT_WAIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Arrival:
    """What every envelope of one request shares: the request, its token and how it was
    presented, its channel, its ackId and (masked) headers, when it came."""

    request_number: int
    endpoint: str
    token: HecToken
    auth: AuthForm
    channel: str | None
    ack_id: int | None
    headers: Mapping[str, str]
    received_at: float


@dataclass(frozen=True, slots=True)
class ReceivedEnvelope:
    """One accepted envelope (for ``/raw``: one line) and the request that brought it.

    ``headers`` are the request's, with the Authorization value masked; ``text`` is the
    envelope exactly as sent; ``ack_id`` is None without acknowledgement or when the request
    was only partly accepted (Splunk gives no ackId with a 400).

    Built only when a test inspects what was received (``Received`` keeps each request's
    envelopes as tuples of text), and small: the request's part is one shared ``Arrival``;
    ``envelope`` decodes the text when first asked and keeps it.
    """

    arrival: Arrival
    position: int
    index: str
    text: str
    raw_metadata: Mapping[str, Any] | None = None  # a /raw line's, from the query string
    _decoded: dict[str, Any] | None = field(default=None, init=False, repr=False,
                                            compare=False)

    @property
    def request_number(self) -> int:
        return self.arrival.request_number

    @property
    def endpoint(self) -> str:
        return self.arrival.endpoint

    @property
    def token(self) -> HecToken:
        return self.arrival.token

    @property
    def auth(self) -> AuthForm:
        return self.arrival.auth

    @property
    def channel(self) -> str | None:
        return self.arrival.channel

    @property
    def ack_id(self) -> int | None:
        return self.arrival.ack_id

    @property
    def headers(self) -> Mapping[str, str]:
        return self.arrival.headers

    @property
    def received_at(self) -> float:
        return self.arrival.received_at

    @property
    def envelope(self) -> Mapping[str, Any]:
        """The envelope as decoded (for ``/raw``: the query's metadata plus ``event``)."""
        decoded = self._decoded
        if decoded is None:
            decoded = decode_envelope(self.text, self.raw_metadata)
            # A cache, not a change of value: the same text always decodes the same way.
            object.__setattr__(self, "_decoded", decoded)
        return decoded

    @property
    def event(self) -> Any:
        return self.envelope["event"]

    @property
    def fields(self) -> Mapping[str, Any]:
        fields = self.envelope.get("fields")
        return fields if isinstance(fields, dict) else {}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request to a HEC endpoint and its outcome.

    ``status`` is None when no answer was sent (a ``hang`` or ``reset`` fault); ``faults``
    names the scripted faults that shaped it.
    """

    number: int
    endpoint: str
    method: str
    path: str
    status: int | None
    code: int | None
    token_name: str | None
    channel: str | None
    accepted: int
    invalid_event_number: int | None
    ack_id: int | None
    faults: tuple[str, ...]
    received_at: float


@dataclass(frozen=True, slots=True)
class _Accepted:
    """The envelopes one request brought, as the stand-in keeps them: each one's text, index
    and (for ``/raw``) metadata in tuples, which hold no objects of their own for the cyclic GC
    to walk (a tuple of strings is not even tracked), instead of an object per envelope.

    A stand-in fed millions of envelopes keeps them all; kept as decoded dicts (4-5 per
    envelope), Python's cyclic GC walking them at every full collection was 60% of its time
    under the relay benchmark, and an object per envelope still cost a microsecond to build
    and a walk at every young collection.
    """

    arrival: Arrival
    texts: tuple[str, ...]
    indexes: tuple[str, ...]
    raw_metadata: tuple[Mapping[str, Any] | None, ...]

    def envelopes(self) -> list[ReceivedEnvelope]:
        return [ReceivedEnvelope(self.arrival, position, index, text, metadata)
                for position, (text, index, metadata)
                in enumerate(zip(self.texts, self.indexes, self.raw_metadata, strict=True))]


def event_key(envelope: ReceivedEnvelope) -> Hashable:
    """What makes an event itself: its ``id`` (GitLab's), else the ``event_id`` indexed field,
    else its exact text."""
    event = envelope.event
    if isinstance(event, dict) and event.get("id") is not None:
        return str(event["id"])
    event_id = envelope.fields.get("event_id")
    if isinstance(event_id, str):
        return event_id
    return envelope.text


class Received:
    """The stand-in's memory of accepted envelopes and answered requests."""

    def __init__(self) -> None:
        self._accepted: list[_Accepted] = []
        self._count = 0  # envelopes in self._accepted
        # ReceivedEnvelopes of the first self._built entries of self._accepted, built when
        # first asked for and kept (with what they decoded) for the next question.
        self._envelopes: list[ReceivedEnvelope] = []
        self._built = 0
        self._requests: list[RequestRecord] = []
        self._numbers = 0
        self._changed = asyncio.Event()

    def next_request_number(self) -> int:
        """Requests are numbered from 1 in the order they arrive (never reset by ``clear``)."""
        self._numbers += 1
        return self._numbers

    def add_envelopes(self, arrival: Arrival, envelopes: Sequence[Envelope]) -> None:
        """Keep what one request brought (``arrival``): its accepted envelopes, in order."""
        if envelopes:
            self._accepted.append(_Accepted(
                arrival, tuple([envelope.text for envelope in envelopes]),
                tuple([envelope.index for envelope in envelopes]),
                tuple([envelope.raw_metadata for envelope in envelopes])))
            self._count += len(envelopes)
        self._notify()

    def add_request(self, record: RequestRecord) -> None:
        self._requests.append(record)
        self._notify()

    def clear(self) -> None:
        """Forget what was received so far (request numbers go on counting)."""
        self._accepted.clear()
        self._count = 0
        self._envelopes.clear()
        self._built = 0
        self._requests.clear()

    @property
    def envelope_count(self) -> int:
        """How many envelopes were accepted (without building them)."""
        return self._count

    @property
    def envelopes(self) -> tuple[ReceivedEnvelope, ...]:
        return tuple(self._all())

    @property
    def events(self) -> list[Any]:
        """The ``event`` of each accepted envelope, in order of arrival."""
        return [envelope.event for envelope in self._all()]

    @property
    def requests(self) -> tuple[RequestRecord, ...]:
        return tuple(self._requests)

    def for_request(self, number: int) -> list[ReceivedEnvelope]:
        return [e for e in self._all() if e.request_number == number]

    def status_counts(self) -> Counter[int]:
        """How many requests were answered with each HTTP status (unanswered ones left out)."""
        return Counter(r.status for r in self._requests if r.status is not None)

    def count_by(self, key: Callable[[ReceivedEnvelope], Hashable] = event_key,
                 ) -> Counter[Hashable]:
        """How many times each event (by ``key``) was accepted."""
        return Counter(key(envelope) for envelope in self._all())

    def duplicates(self, key: Callable[[ReceivedEnvelope], Hashable] = event_key,
                   ) -> dict[Hashable, int]:
        """The events accepted more than once, with how many times."""
        return {k: n for k, n in self.count_by(key).items() if n > 1}

    async def wait_for(self, count: int, *, within: float = DEFAULT_WAIT_SECONDS,
                       ) -> tuple[ReceivedEnvelope, ...]:
        """Wait (``within`` seconds at most) until at least ``count`` envelopes were
        accepted; the TimeoutError says how many came."""
        await self.wait_until(lambda: self._count >= count, within,
                              lambda: f"{count} envelopes (got {self._count})")
        return self.envelopes

    async def wait_for_requests(self, count: int, *, within: float = DEFAULT_WAIT_SECONDS,
                                ) -> tuple[RequestRecord, ...]:
        """Wait (``within`` seconds at most) until at least ``count`` requests were recorded."""
        await self.wait_until(lambda: len(self._requests) >= count, within,
                              lambda: f"{count} requests (got {len(self._requests)})")
        return self.requests

    async def wait_until(self, condition: Callable[[], bool],
                         within: float = DEFAULT_WAIT_SECONDS,
                         describe: Callable[[], str] = lambda: "the condition") -> None:
        """Wait until ``condition()`` holds, re-checked whenever something is recorded."""
        deadline = time.monotonic() + within
        while not condition():
            changed = self._changed
            remaining = deadline - time.monotonic()
            try:
                await asyncio.wait_for(changed.wait(), max(remaining, 0))
            except TimeoutError:
                if condition():
                    return
                raise TimeoutError(f"waited {within} s for {describe()}") from None

    def _all(self) -> list[ReceivedEnvelope]:
        while self._built < len(self._accepted):
            self._envelopes += self._accepted[self._built].envelopes()
            self._built += 1
        return self._envelopes

    def _notify(self) -> None:
        # Wake every waiter, then give later waiters a fresh event to wait on.
        self._changed.set()
        self._changed = asyncio.Event()
