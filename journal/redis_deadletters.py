"""The Redis journal's dead letters: the ``{p}:dead`` stream and the ``{p}:dead-retry`` hash
(``journal.redis_layout``). Redis' errors are translated by the caller, ``RedisJournal``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis

from auditstream.journal.deadletters import decode_event, encode_event_meta
from auditstream.journal.model import DeadLetter, StoredEvent
from auditstream.journal.redis_groups import Entry, entries_in
from auditstream.journal.redis_layout import Keys

_PAGE = 500


class DeadLetterStream:
    """Dead letters as stream entries; an entry's id is the dead letter's ``id``.

    A dead letter to retry is held by one consumer (``to_retry``) for ``hold_seconds``,
    renewed at each of its reads: relays sharing the sink send it once between them, and
    another takes it over if the one holding it dies."""

    def __init__(self, client: Redis, keys: Keys, consumer: str, hold_seconds: float) -> None:
        self._client = client
        self._keys = keys
        self._consumer = consumer
        self._hold_ms = max(1, int(hold_seconds * 1000))

    async def record(self, sink: str, event: StoredEvent, reason: str, now: float) -> None:
        await self._client.xadd(self._keys.dead, {
            "sink": sink, "seq": event.seq, "event_id": event.event_id, "reason": reason,
            "dead_at": repr(now), "body": event.body, "meta": encode_event_meta(event)})

    async def request_retry(self, ids: Sequence[str], now: float) -> int:
        marked = 0
        for entry in dict.fromkeys(ids):
            if not _is_entry_id(entry) or not await self._client.xrange(
                    self._keys.dead, entry, entry):
                continue
            await self._client.hsetnx(self._keys.dead_retry, entry, repr(now))
            marked += 1
        return marked

    async def remove(self, ids: Sequence[str]) -> int:
        entries = [entry for entry in dict.fromkeys(ids) if _is_entry_id(entry)]
        if not entries:
            return 0
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xdel(self._keys.dead, *entries)
            pipe.hdel(self._keys.dead_retry, *entries)
            pipe.delete(*(self._held(entry) for entry in entries))
            removed, _, _ = await pipe.execute()
        return int(removed)

    async def latest(self, sink: str | None, limit: int) -> list[DeadLetter]:
        found: list[DeadLetter] = []
        end = "+"
        retries = await self._retries()
        while len(found) < limit:
            page = await entries_in(self._client, self._keys.dead, end, "-", _PAGE,
                                    reverse=True)
            found.extend(_dead_letter(entry, f, retries) for entry, f in page
                         if sink is None or f[b"sink"].decode() == sink)
            if len(page) < _PAGE:
                break
            end = "(" + page[-1][0].decode()
        return list(reversed(found[:limit]))

    async def to_retry(self, sink: str, limit: int) -> list[DeadLetter]:
        found: list[DeadLetter] = []
        retries = await self._retries()
        for entry in sorted(retries, key=_entry_order):
            page = cast(list[Entry], await self._client.xrange(self._keys.dead, entry, entry))
            if page and page[0][1][b"sink"].decode() == sink and await self._hold(entry):
                found.append(_dead_letter(page[0][0], page[0][1], retries))
                if len(found) >= limit:
                    break
        return found

    async def _hold(self, entry: bytes) -> bool:
        """Hold ``entry`` for this consumer (or renew its hold); False: another holds it."""
        key = self._held(entry.decode())
        if await self._client.set(key, self._consumer, nx=True, px=self._hold_ms):
            return True
        if await self._client.get(key) == self._consumer.encode():
            await self._client.pexpire(key, self._hold_ms)
            return True
        return False

    def _held(self, entry: str) -> str:
        return f"{self._keys.dead_held_prefix}{entry}"

    async def _retries(self) -> dict[bytes, bytes]:
        return cast(dict[bytes, bytes], await self._client.hgetall(self._keys.dead_retry))


def _dead_letter(entry: bytes, fields: dict[bytes, bytes],
                 retries: dict[bytes, bytes]) -> DeadLetter:
    seq, event_id = int(fields[b"seq"]), fields[b"event_id"].decode()
    dead_at, body = float(fields[b"dead_at"]), fields[b"body"]
    requested = retries.get(entry)
    return DeadLetter(sink=fields[b"sink"].decode(), seq=seq, event_id=event_id,
                      reason=fields[b"reason"].decode(), dead_at=dead_at, body=body,
                      id=entry.decode(),
                      retry_requested_at=None if requested is None else float(requested),
                      event=decode_event(seq, fields.get(b"meta"), body, event_id, dead_at))


def _is_entry_id(text: str) -> bool:
    first, dash, second = text.partition("-")
    return bool(dash) and first.isdigit() and second.isdigit()


def _entry_order(entry: bytes) -> tuple[int, int]:
    first, _, second = entry.partition(b"-")
    return int(first), int(second or 0)
