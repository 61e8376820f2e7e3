"""The shared journal: Redis, for several receivers and relays on several machines.

Layout and the append script: ``journal.redis_layout``. How relays share a sink (consumer
groups, claims, take-over of a dead relay's events): ``journal.redis_groups``.

**The interface on Redis.** ``append`` is one Lua script per call: for each event, its dedup
keys are checked, and if none exists it takes the next ``seq`` (a counter that is never
reset), goes into the stream as entry ``<seq>-0``, and only then are its keys set, with the
dedup window as their expiry. A script runs alone, so no other receiver can slip in between
check and store, and no id is ever known without its event. ``read`` is ``XRANGE`` after the
sink's cursor; ``claim``/``ack`` are ``XREADGROUP``/``XAUTOCLAIM``/``XACK`` on the sink's
group. Retention trims the stream (``XTRIM MINID``) below every group's cursor and the
retention age; ids are forgotten by Redis itself when their keys expire.

**What a 200 means** (the receiver answers once ``append`` returns), by Redis' settings:

- ``appendonly no``: the event is in the primary's memory only. A crash or restart of Redis
  loses every event since the last snapshot. Not for audit events.
- ``appendonly yes``, ``appendfsync everysec`` (Redis' default once AOF is on): the write is in
  the AOF file before the reply, fsynced within about a second. A crash of redis-server
  loses nothing; a crash of the machine or a power cut loses up to about 1 s (2 s when the
  disk is slow) of events already answered 200.
- ``appendfsync always``: fsynced before the reply (Redis fsyncs once per event-loop turn,
  a group commit across clients): as durable as the SQLite journal's ``synchronous=FULL``.
- Replication is asynchronous: a primary that dies before its replica has a write loses it
  on failover, whatever its AOF says. With ``wait_replicas = N``, ``append`` also sends
  ``WAIT N`` on the same connection and fails (the receiver answers 503) unless N replicas
  have the write within ``wait_timeout_seconds``. A replica acknowledges receipt, not fsync,
  and Redis' failover is not guaranteed to promote a replica that has it: WAIT makes a loss
  need more failures at once, it does not make Redis a consensus store. A 503 after the
  script ran does not undo it: the event is kept and relayed, and a retry is a duplicate.
- ``maxmemory-policy`` must be ``noeviction``: any other policy lets Redis drop dedup keys
  (``volatile-*``) or the stream itself (``allkeys-*``). We warn at start-up otherwise.

**Scaling.** Receivers and relays are stateless beside Redis: add machines and they share the
work. Every key of a journal shares one hash tag (one Cluster slot), which the atomic
script needs, so one journal is one Redis primary's work: Redis Cluster adds availability,
not write throughput, to one journal. The client is a plain connection to one server (the
url's); following a Cluster's redirects or a Sentinel's failover is not wired in yet: put a
proxy or a stable address in front. Needs Redis 7.0 or later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from auditstream.journal.base import Journal
from auditstream.journal.collisions import log_collision
from auditstream.journal.config import JournalConfig, RedisSettings
from auditstream.journal.errors import JournalClosed, JournalUnavailable
from auditstream.journal.model import (
    AppendOutcome,
    DeadLetter,
    IncomingEvent,
    JournalStats,
    PurgeResult,
    SinkPosition,
    StoredEvent,
)
from auditstream.journal.redis_appender import GroupAppender, ScriptResult
from auditstream.journal.redis_deadletters import DeadLetterStream
from auditstream.journal.redis_groups import SinkGroups, entries_in
from auditstream.journal.redis_layout import (
    APPEND_SCRIPT,
    Keys,
    append_arguments,
    decode_entry,
    entry_id,
    hour_of,
    seq_of,
)

log = logging.getLogger("auditstream.journal")

MIN_REDIS_VERSION = (7, 0)
# Redis answers in well under a millisecond; a socket silent this long means it is gone.
_SOCKET_TIMEOUT_SECONDS = 5.0
_CONNECT_TIMEOUT_SECONDS = 2.0
# Appends share script calls (group commit), so a few connections carry a busy receiver;
# a caller waits this long for a free one.
_MAX_CONNECTIONS = 32
_POOL_WAIT_SECONDS = 5.0
# A blocking read for wait_for_append stays well inside the socket timeout.
_MAX_BLOCK_SECONDS = 4.0
# Retention trims at most this many entries per XTRIM, so Redis is never busy for long.
_TRIM_SLICE = 10_000


_KNOWN_PER_CALL = 500  # EXISTS per pipeline round trip in known()
# The turn KEYS[1] is ARGV[1]'s for ARGV[2] ms, unless another holder has it now.
_TAKE_TURN = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# HSET KEYS[1] ARGV[1] ARGV[2] unless the field already holds a larger number.
_RECORD_MAX = """
local held = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')
if held == nil or held < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
"""


class RedisJournal(Journal):
    """A journal in Redis. Use ``open`` (read-write) or ``open_readonly``."""

    def __init__(self, config: JournalConfig, client: Redis, *, writable: bool) -> None:
        assert config.redis is not None
        self._config = config
        self._settings: RedisSettings = config.redis
        self._client = client
        self._writable = writable
        self._keys = Keys.for_prefix(self._settings.key_prefix)
        self._append = client.register_script(APPEND_SCRIPT)
        self._groups = SinkGroups(client, self._keys, self._settings.claim_idle_seconds)
        self._dead = DeadLetterStream(client, self._keys, self._groups.consumer,
                                      self._settings.claim_idle_seconds)
        self._appender = GroupAppender(self._append_call)
        self._renewing: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, config: JournalConfig) -> RedisJournal:
        """Connect and check the server (version, eviction policy)."""
        return await cls._connect(config, writable=True)

    @classmethod
    async def open_readonly(cls, config: JournalConfig) -> RedisJournal:
        """Connect for inspection; every write is refused."""
        return await cls._connect(config, writable=False)

    @classmethod
    async def _connect(cls, config: JournalConfig, *, writable: bool) -> RedisJournal:
        if config.redis is None:
            raise JournalUnavailable("the redis journal needs [journal] url")
        settings = config.redis
        client = Redis.from_pool(BlockingConnectionPool.from_url(
            settings.url, password=settings.password.reveal() if settings.password else None,
            max_connections=_MAX_CONNECTIONS,
            timeout=_POOL_WAIT_SECONDS, socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            # WAIT may take its whole timeout to answer.
            socket_timeout=max(_SOCKET_TIMEOUT_SECONDS, settings.wait_timeout_seconds + 2)))
        journal = cls(config, client, writable=writable)
        try:
            await journal._check_server()
        except BaseException:
            await client.aclose()
            raise
        return journal

    @property
    def where(self) -> str:
        """The server and key prefix, for messages (never the password)."""
        pool = self._client.connection_pool.connection_kwargs
        return (f"redis {pool.get('host', pool.get('path', '?'))}:{pool.get('port', '')}"
                f" {{{self._settings.key_prefix}}}")

    @property
    def consumer(self) -> str:
        """This process's consumer name in the sinks' groups."""
        return self._groups.consumer

    async def _check_server(self) -> None:
        with self._translated("connect"):
            info = await self._client.info("server")
            version = tuple(int(part) for part in str(info["redis_version"]).split(".")[:2])
            if version < MIN_REDIS_VERSION:
                raise JournalUnavailable(f"{self.where}: Redis {info['redis_version']} is too "
                                         "old; the journal needs 7.0 or later")
            if self._writable:
                await self._warn_about_eviction()

    async def _warn_about_eviction(self) -> None:
        try:
            policy = (await self._client.config_get("maxmemory-policy")).get(
                "maxmemory-policy")
        except RedisError:  # CONFIG is often disabled on managed Redis
            return
        if policy not in (None, "noeviction", b"noeviction"):
            log.warning("%s: maxmemory-policy is %s: Redis may evict dedup keys or events "
                        "when memory runs short; set it to noeviction", self.where,
                        policy.decode() if isinstance(policy, bytes) else policy)

    # -- writes --------------------------------------------------------------------------------

    async def append(self, events: Sequence[IncomingEvent]) -> list[AppendOutcome]:
        if not events:
            return []
        with self._translated("append", write=True):
            results = await self._appender.append(events)
        return [_outcome(event, result) for event, result in zip(events, results, strict=True)]

    @property
    def script_calls(self) -> int:
        """Append script calls made by this process (appends per call show group commit)."""
        return self._appender.calls

    async def _append_call(self, events: Sequence[IncomingEvent]) -> list[ScriptResult]:
        keys, args = append_arguments(self._keys, events, self._config.dedup_window_seconds)
        with self._translated("append"):
            if self._settings.wait_replicas <= 0:
                return list(await self._append(keys=keys, args=args))
            return await self._append_and_wait(keys, args)

    async def _append_and_wait(self, keys: list[str], args: list[Any]) -> list[ScriptResult]:
        # WAIT counts the writes of its own connection: script and WAIT share a pipeline.
        wanted = self._settings.wait_replicas
        async with self._client.pipeline(transaction=False) as pipe:
            await self._append(keys=keys, args=args, client=pipe)
            pipe.wait(wanted, int(self._settings.wait_timeout_seconds * 1000))
            seqs, replicas = await pipe.execute()
        if int(replicas) < wanted:
            raise JournalUnavailable(
                f"only {replicas} of {wanted} Redis replicas confirmed the write within "
                f"{self._settings.wait_timeout_seconds:g} s (it is stored on the primary)")
        return list(seqs)

    async def register_sink(self, sink: str) -> None:
        with self._translated("register a sink", write=True):
            await self._groups.register(sink)

    async def claim(self, sink: str, limit: int) -> list[StoredEvent]:
        with self._translated("claim events", write=True):
            events = await self._groups.claim(sink, limit)
        if events and self._renewing is None:
            self._renewing = asyncio.create_task(self._renew_claims(),
                                                 name="journal:renew-claims")
        return events

    async def ack(self, sink: str, upto: int) -> None:
        with self._translated("ack", write=True):
            await self._groups.ack(sink, upto)

    async def dead_letter(self, sink: str, event: StoredEvent, reason: str) -> None:
        with self._translated("record a dead letter", write=True):
            await self._dead.record(sink, event, reason, time.time())

    async def retry_dead_letters(self, ids: Sequence[str], now: float) -> int:
        with self._translated("ask for a retry of dead letters", write=True):
            return await self._dead.request_retry(ids, now)

    async def remove_dead_letters(self, ids: Sequence[str]) -> int:
        with self._translated("remove dead letters", write=True):
            return await self._dead.remove(ids)

    async def check_writable(self) -> None:
        with self._translated("write", write=True):
            await self._client.hset(self._keys.meta, "ready_probe", "1")

    async def _renew_claims(self) -> None:
        period = self._settings.claim_idle_seconds / 3
        while True:
            await asyncio.sleep(period)
            try:
                await self._groups.renew()
            except RedisError as exc:
                log.warning("%s: cannot renew this relay's claims (another relay takes them "
                            "over after %g s): %s", self.where,
                            self._settings.claim_idle_seconds, exc)

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, sink: str, limit: int, after: int | None = None) -> list[StoredEvent]:
        with self._translated("read"):
            if after is None:
                after = next((p.cursor for p in await self._positions() if p.sink == sink), 0)
            entries = await entries_in(self._client, self._keys.events, f"({entry_id(after)}",
                                       "+", limit)
        return [decode_entry(entry, fields) for entry, fields in entries]

    async def wait_for_append(self, at_most: float) -> None:
        # Blocks in Redis until an entry newer than the last seq a claim saw is appended
        # (by any receiver): a relay on another machine wakes at once.
        block_ms = max(1, int(min(at_most, _MAX_BLOCK_SECONDS) * 1000))
        try:
            with self._translated("wait for an append"):
                await self._client.xread({self._keys.events: entry_id(
                    self._groups.last_seq_seen)}, count=1, block=block_ms)
        except JournalUnavailable:
            await asyncio.sleep(at_most)

    async def record_uptime(self, process: str, started_at: float, seen_at: float,
                            stopped: bool = False) -> None:
        with self._translated("record uptime", write=True):
            await self._client.hset(self._keys.uptime, process,
                                    f"{started_at!r} {seen_at!r} {int(stopped)}")

    async def record_reconcile_progress(self, destination: str, until: float) -> None:
        # One step on the server: receivers on several machines record passes of the same
        # destination, and the progress must never move back.
        with self._translated("record reconcile progress", write=True):
            await self._client.eval(_RECORD_MAX, 1, self._keys.reconcile, destination,
                                    repr(until))

    async def take_reconcile_turn(self, destination: str, holder: str, seconds: float,
                                  now: float) -> bool:
        # Redis expires the turn on its own clock (``now`` is for the other backends).
        with self._translated("take a reconcile turn", write=True):
            taken = await self._client.eval(
                _TAKE_TURN, 1, self._keys.reconcile_turn_prefix + destination, holder,
                str(max(1, int(seconds * 1000))))
        return bool(taken)

    async def reconcile_progress(self, destination: str) -> float | None:
        with self._translated("read"):
            value = await self._client.hget(self._keys.reconcile, destination)
        return None if value is None else float(value)

    async def uptime(self, since: float, until: float) -> list[tuple[float, float, bool]]:
        with self._translated("read"):
            entries = await self._client.hgetall(self._keys.uptime)
        spans = []
        for value in entries.values():
            start, end, stopped = _uptime_span(value)
            if start <= until and end >= since:
                spans.append((start, end, stopped))
        return sorted(spans)

    async def known(self, instance: str, keys: Sequence[str]) -> set[str]:
        unique = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self._translated("read"):
            for start in range(0, len(unique), _KNOWN_PER_CALL):
                chunk = unique[start:start + _KNOWN_PER_CALL]
                async with self._client.pipeline(transaction=False) as pipe:
                    for key in chunk:
                        pipe.exists(self._keys.seen(instance, key))
                    answers = await pipe.execute()
                found.update(key for key, there in zip(chunk, answers, strict=True) if there)
        return found

    async def tail(self, limit: int) -> list[StoredEvent]:
        with self._translated("read"):
            entries = await entries_in(self._client, self._keys.events, "+", "-", limit,
                                       reverse=True)
        return [decode_entry(entry, fields) for entry, fields in reversed(entries)]

    async def dead_letters(self, sink: str | None, limit: int) -> list[DeadLetter]:
        with self._translated("read dead letters"):
            return await self._dead.latest(sink, limit)

    async def dead_letters_to_retry(self, sink: str, limit: int) -> list[DeadLetter]:
        with self._translated("read dead letters to retry"):
            return await self._dead.to_retry(sink, limit)

    async def stats(self) -> JournalStats:
        with self._translated("read stats"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xlen(self._keys.events)
                pipe.xrange(self._keys.events, "-", "+", count=1)
                pipe.xrevrange(self._keys.events, "+", "-", count=1)
                pipe.hget(self._keys.meta, "duplicates_refused")
                pipe.hgetall(self._keys.seen_per_hour)
                pipe.xlen(self._keys.dead)
                pipe.xlen(self._keys.collisions)
                count, first, last, duplicates, per_hour, dead, collisions = (
                    await pipe.execute())
            sinks = await self._groups.positions()
        return JournalStats(
            events=int(count), first_seq=seq_of(first[0][0]) if first else None,
            last_seq=seq_of(last[0][0]) if last else None,
            # Like SQLite's seen rows: written, less what retention passes have forgotten.
            remembered_ids=sum(int(n) for n in per_hour.values()),
            duplicates_refused=int(duplicates or 0), dead_letters=int(dead),
            sinks=tuple(sinks), collisions=int(collisions))

    async def positions(self) -> tuple[SinkPosition, ...]:
        with self._translated("read the sinks' positions"):
            return tuple(await self._groups.positions())

    async def _positions(self) -> list[SinkPosition]:
        return await self._groups.positions()

    # -- retention -----------------------------------------------------------------------------

    async def purge(self, now: float) -> PurgeResult:
        with self._translated("apply retention", write=True):
            bodies = await self._trim_bodies(now - self._config.retention_seconds)
            window_start = now - self._config.dedup_window_seconds
            forgotten = await self._forget_id_counts(window_start)
            uptime = await self._forget_uptime(window_start)
        return PurgeResult(bodies_removed=bodies, ids_forgotten=forgotten,
                           uptime_forgotten=uptime)

    async def _forget_uptime(self, seen_before: float) -> int:
        entries = await self._client.hgetall(self._keys.uptime)
        old = [process for process, value in entries.items()
               if _uptime_span(value)[1] < seen_before]
        return int(await self._client.hdel(self._keys.uptime, *old)) if old else 0

    async def _trim_bodies(self, older_than: float) -> int:
        positions = await self._positions()
        if not positions:  # no sink yet: keep everything for the relay to come
            return 0
        upto = await self._last_older_than(min(p.cursor for p in positions), older_than)
        removed = 0
        while upto is not None:
            first = await entries_in(self._client, self._keys.events, "-", "+", 1)
            if not first or seq_of(first[0][0]) > upto:
                break
            below = min(upto + 1, seq_of(first[0][0]) + _TRIM_SLICE)
            removed += int(await self._client.xtrim(self._keys.events, minid=entry_id(below),
                                                    approximate=False))
        return removed

    async def _last_older_than(self, upto: int, older_than: float) -> int | None:
        """The last seq <= ``upto`` received before ``older_than`` (receipt times rise with
        seq, give or take the clocks of several receivers: a binary search)."""
        low, high, found = 1, upto, None
        while low <= high:
            middle = (low + high) // 2
            entries = await entries_in(self._client, self._keys.events, entry_id(middle),
                                       "+", 1)
            if not entries or seq_of(entries[0][0]) > upto:
                high = middle - 1
                continue
            if decode_entry(*entries[0]).received_at < older_than:
                found = seq_of(entries[0][0])
                low = found + 1
            else:
                high = middle - 1
        return found

    async def _forget_id_counts(self, older_than: float) -> int:
        # The keys expire by themselves; this drops the per-hour counts stats reads.
        horizon = hour_of(older_than)
        per_hour = await self._client.hgetall(self._keys.seen_per_hour)
        old = [hour for hour in per_hour if int(hour) < horizon]
        if not old:
            return 0
        await self._client.hdel(self._keys.seen_per_hour, *old)
        return sum(int(per_hour[hour]) for hour in old)

    # -- lifecycle -----------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        await self._appender.close()
        self._closed = True
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
            try:
                await self._groups.release()
            except RedisError as exc:
                log.warning("%s: cannot hand this relay's claims back (another relay takes "
                            "them after %g s): %s", self.where,
                            self._settings.claim_idle_seconds, exc)
        await self._client.aclose()

    @contextlib.contextmanager
    def _translated(self, doing: str, *, write: bool = False) -> Iterator[None]:
        """Redis' errors become ``JournalUnavailable`` here, and only here."""
        if self._closed:
            raise JournalClosed("the journal is closed")
        if write and not self._writable:
            raise JournalUnavailable(f"{self.where} is open read-only")
        try:
            yield
        except RedisError as exc:
            raise JournalUnavailable(f"{self.where}: cannot {doing}: {exc}") from exc


def _outcome(event: IncomingEvent, result: ScriptResult) -> AppendOutcome:
    if isinstance(result, list):  # [seq, first destination]: stored, and a collision
        seq, first = result
        log_collision(event.instance, event.event_id,
                      first.decode() if isinstance(first, bytes) else str(first),
                      event.destination, int(seq))
        return AppendOutcome.COLLISION
    return AppendOutcome.ACCEPTED if result else AppendOutcome.DUPLICATE


def _uptime_span(value: bytes | str) -> tuple[float, float, bool]:
    """(started_at, seen_at, stopped) of an uptime record, as ``record_uptime`` writes it."""
    started, seen, stopped = (value.decode() if isinstance(value, bytes) else value).split(" ")
    return float(started), float(seen), stopped == "1"
