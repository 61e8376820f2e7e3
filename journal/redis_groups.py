"""How relays on several machines share a sink: one Redis Streams consumer group per sink.

Each journal object is one consumer (``host:pid:random``) in the group of every sink it reads.

- ``register_sink``: ``XGROUP CREATE events <sink> 0 MKSTREAM`` (the group starts at the first
  event, as a new SQLite cursor does), and this consumer starts afresh on the sink.
- ``claim``, first of what applies:
  1. this consumer's own pending entries, once after ``register_sink`` (``XREADGROUP`` from
     id 0): a pipeline restarted in the same process gets back what it never confirmed;
  2. an ``XAUTOCLAIM`` sweep, every ``claim_idle/2`` seconds: entries pending for longer
     than ``claim_idle`` (their relay crashed or lost Redis) become ours;
  3. new entries: ``XREADGROUP ... >``, in one ``MULTI`` with a read of the last seq, so
     ``wait_for_append`` can block exactly until something newer is appended.
- ``ack(upto)``: ``XACK`` the entries of our claims, oldest claim first, up to the claim whose
  last event is ``upto``. Entries leave the group's pending list only here, after delivery.
- A live consumer renews what it holds (``XCLAIM ... JUSTID`` to itself, which resets the
  idle time) every ``claim_idle/3`` seconds, so a slow or paused sink never makes another
  relay take its events over; only a dead one loses them. A consumer that closes cleanly
  marks what it still holds as long idle (``XCLAIM ... IDLE``): another relay takes it at its
  next sweep instead of after ``claim_idle``.
- A sink's cursor: every entry up to the group's last-delivered id and below its first pending
  entry is acknowledged, so ``cursor = min(last delivered, first pending - 1)``.

Within one claim events are in journal order; two relays deliver their claims concurrently,
so across relays a sink sees events in roughly, not exactly, journal order.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from auditstream.journal.model import SinkPosition, StoredEvent
from auditstream.journal.redis_layout import Keys, decode_entry, seq_of

log = logging.getLogger("auditstream.journal")

_IDS_PER_CALL = 500
# A consumer with nothing pending and idle this many claim_idle periods is forgotten.
_FORGET_CONSUMER_AFTER_IDLE_PERIODS = 10

Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(slots=True)
class _Claims:
    """What this consumer holds of one sink, in claim order."""

    order: deque[tuple[int, list[bytes]]] = field(default_factory=deque)
    held: set[bytes] = field(default_factory=set)
    history_from: bytes | None = b"0"  # own pending entries still to hand out; None: done
    sweep_from: bytes = b"0-0"
    next_sweep: float = 0.0


class SinkGroups:
    """This process's consumer in every sink's group."""

    def __init__(self, client: Redis, keys: Keys, claim_idle_seconds: float) -> None:
        self._client = client
        self._keys = keys
        self._claim_idle_ms = max(1, int(claim_idle_seconds * 1000))
        self._sweep_seconds = claim_idle_seconds / 2
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._claims: dict[str, _Claims] = {}
        self.last_seq_seen = 0  # the newest seq that a claim found appended

    async def register(self, sink: str) -> None:
        try:
            await self._client.xgroup_create(self._keys.events, sink, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._claims[sink] = _Claims()

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        if sink not in self._claims:
            await self.register(sink)
        claims = self._claims[sink]
        for source in (self._own_pending, self._abandoned, self._new):
            entries = [e for e in await source(sink, claims, limit) if e[0] not in claims.held]
            if entries:
                events = [decode_entry(entry, fields) for entry, fields in entries]
                ids = [entry for entry, _ in entries]
                claims.order.append((events[-1].seq, ids))
                claims.held.update(ids)
                return events
        return []

    async def ack(self, sink: str, upto: int) -> None:
        claims = self._claims.get(sink)
        count, ids = 0, []
        for last, claimed in claims.order if claims else ():
            count += 1
            ids.extend(claimed)
            if last == upto:
                break
        else:
            log.warning("ack of sink %s up to %d matches no claim of this relay; ignored",
                        sink, upto)
            return
        assert claims is not None
        for start in range(0, len(ids), _IDS_PER_CALL):
            await self._client.xack(self._keys.events, sink, *ids[start:start + _IDS_PER_CALL])
        for _ in range(count):
            claims.order.popleft()
        claims.held.difference_update(ids)

    async def renew(self) -> None:
        """Reset the idle time of everything this consumer holds: it is alive."""
        for sink, claims in list(self._claims.items()):
            held = list(claims.held)
            for start in range(0, len(held), _IDS_PER_CALL):
                chunk: Any = held[start:start + _IDS_PER_CALL]  # redis-py types it too narrowly
                await self._client.xclaim(self._keys.events, sink, self.consumer, 0, chunk,
                                          justid=True)

    async def release(self) -> None:
        """Make everything this consumer holds claimable by another relay right away."""
        idle_ms = self._claim_idle_ms * _FORGET_CONSUMER_AFTER_IDLE_PERIODS
        for sink, claims in list(self._claims.items()):
            held: Any = list(claims.held)  # redis-py types the ids too narrowly
            for start in range(0, len(held), _IDS_PER_CALL):
                await self._client.xclaim(self._keys.events, sink, self.consumer, 0,
                                          held[start:start + _IDS_PER_CALL], idle=idle_ms,
                                          justid=True)
            claims.held.clear()
            claims.order.clear()

    async def positions(self) -> list[SinkPosition]:
        """Every sink's position, its figures read in one ``MULTI`` so that they agree.

        Read in two calls (the group's pending count, then its pending summary), another
        relay acknowledging in between left the summary empty and the read failed on it
        (issue 15); the summary alone says both how many are pending and the first of them.
        """
        names = [_text(group["name"]) for group in await self._groups()]
        if not names:
            return []
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hget(self._keys.meta, "last_seq")
            pipe.xinfo_groups(self._keys.events)
            for name in names:
                pipe.xpending(self._keys.events, name)
            last_seq, groups, *summaries = await pipe.execute(raise_on_error=False)
        if isinstance(groups, ResponseError):
            if _no_such_key(groups):  # the stream was removed meanwhile
                return []
            raise groups
        pending_of = {name: summary for name, summary in zip(names, summaries, strict=True)
                      if not isinstance(summary, ResponseError)}  # a group dropped meanwhile
        last = int(last_seq or 0)
        positions = [_position(_text(group["name"]), seq_of(group["last-delivered-id"]),
                               pending_of.get(_text(group["name"])), last)
                     for group in groups]
        return sorted(positions, key=lambda p: p.sink)

    async def _groups(self) -> list[dict[str, Any]]:
        try:
            groups: list[dict[str, Any]] = await self._client.xinfo_groups(self._keys.events)
        except ResponseError as exc:
            if _no_such_key(exc):
                return []
            raise
        return groups

    # -- where claims come from ----------------------------------------------------------------

    async def _own_pending(self, sink: str, claims: _Claims, limit: int) -> list[Entry]:
        if claims.history_from is None:
            return []
        reply = await self._client.xreadgroup(sink, self.consumer,
                                              {self._keys.events: claims.history_from},
                                              count=limit)
        entries = _stream_entries(reply)
        if not entries:
            claims.history_from = None
            return []
        claims.history_from = entries[-1][0]
        return await self._drop_deleted(sink, entries)

    async def _abandoned(self, sink: str, claims: _Claims, limit: int) -> list[Entry]:
        now = time.monotonic()
        if now < claims.next_sweep:
            return []
        reply = await self._client.xautoclaim(self._keys.events, sink, self.consumer,
                                              self._claim_idle_ms, claims.sweep_from,
                                              count=limit)
        claims.sweep_from = reply[0]
        if claims.sweep_from in (b"0-0", "0-0"):
            claims.next_sweep = now + self._sweep_seconds
            await self._forget_idle_consumers(sink)
        entries = [(e, f) for e, f in reply[1] if e is not None and f]
        if entries:
            log.warning("took over %d events of sink %s that another relay held for over "
                        "%.0f s (it stopped or lost Redis)", len(entries), sink,
                        self._claim_idle_ms / 1000, extra={"sink": sink})
        return sorted(entries, key=lambda e: seq_of(e[0]))

    async def _new(self, sink: str, claims: _Claims, limit: int) -> list[Entry]:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xreadgroup(sink, self.consumer, {self._keys.events: ">"}, count=limit)
            pipe.hget(self._keys.meta, "last_seq")
            reply, last_seq = await pipe.execute()
        self.last_seq_seen = max(self.last_seq_seen, int(last_seq or 0))
        return _stream_entries(reply)

    async def _drop_deleted(self, sink: str, entries: list[Entry]) -> list[Entry]:
        # Pending entries whose body is gone (trimmed by hand): nothing left to deliver.
        gone = [entry for entry, fields in entries if not fields]
        if gone:
            await self._client.xack(self._keys.events, sink, *gone)
        return [(entry, fields) for entry, fields in entries if fields]

    async def _forget_idle_consumers(self, sink: str) -> None:
        forget_after_ms = self._claim_idle_ms * _FORGET_CONSUMER_AFTER_IDLE_PERIODS
        for consumer in await self._client.xinfo_consumers(self._keys.events, sink):
            name = _text(consumer["name"])
            if (name != self.consumer and int(consumer["pending"]) == 0
                    and int(consumer["idle"]) > forget_after_ms):
                await self._client.xgroup_delconsumer(self._keys.events, sink, name)


async def entries_in(client: Redis, key: str, start: str, end: str, count: int, *,
                     reverse: bool = False) -> list[Entry]:
    """``XRANGE`` (or ``XREVRANGE``, from ``start`` down to ``end``) with a typed answer."""
    if reverse:
        reply: Any = await client.xrevrange(key, start, end, count=count)
    else:
        reply = await client.xrange(key, start, end, count=count)
    return list(reply or [])


def _stream_entries(reply: Any) -> list[Entry]:
    """The entries of an XREADGROUP reply on one stream (list or dict shaped)."""
    if not reply:
        return []
    streams: Sequence[Any] = list(reply.values()) if isinstance(reply, dict) else [
        entries for _name, entries in reply]
    return [(entry, fields) for entries in streams for entry, fields in entries]


def _position(sink: str, last_delivered: int, summary: dict[str, Any] | None,
              last_seq: int) -> SinkPosition:
    """Every entry up to the last delivered one and below the first pending one is acked."""
    if summary is None:  # a group created between the two reads: claim nothing for it
        return SinkPosition(sink=sink, cursor=0, backlog=last_seq, pending=None)
    pending = int(summary["pending"] or 0)
    cursor = last_delivered
    if pending and summary["min"] is not None:
        cursor = min(cursor, seq_of(summary["min"]) - 1)
    return SinkPosition(sink=sink, cursor=cursor, backlog=max(0, last_seq - cursor),
                        pending=pending)


def _no_such_key(exc: ResponseError) -> bool:
    return "no such key" in str(exc).lower()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
