"""The Redis journal's keys, entry encoding and Lua scripts: pure values, no I/O.

Every key carries the hash tag ``{prefix}``, so a Redis Cluster puts them all in one slot and a
script may touch any of them (a script's keys must share a slot). One journal is therefore one
shard's work; see ``journal.redis_journal`` for what that means for scaling.

    {p}:events          stream; entry id "<seq>-0", fields "meta" (JSON) and "body" (bytes);
                        meta is [instance, id, destination, received_at, type, created_at,
                        entity_type, entity_path] plus origin when not "stream" (entries
                        written before origin existed have 8 items: streamed)
    {p}:meta            hash: last_seq (the seq counter, never reset), duplicates_refused
    {p}:seen:<n>:<instance>:<key>
                        one string per dedup key, value the seq it belongs to, expiring after
                        the dedup window (<n> is len(instance): no two (instance, key) pairs
                        can spell the same key)
    {p}:seen-per-hour   hash: hour -> dedup keys written then (for stats; the keys expire
                        on their own)
    {p}:dead            stream of dead letters
    {p}:uptime          hash: receiving process -> "started_at seen_at" (for reconcile)
    consumer groups     on {p}:events, one per sink, named as the sink
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from auditstream.journal.model import STREAM, IncomingEvent, StoredEvent

HOUR = 3600.0

# KEYS: events, meta, seen-per-hour, then every event's dedup keys in order.
# ARGV: dedup window (ms), hour bucket, then per event: its number of keys, meta, body.
# Each event: if any of its keys exists it is a duplicate; else it gets the next seq, is
# added to the stream, and only then are its keys set (never a key without its event).
# The shebang makes Redis 7 refuse the whole script up front when out of memory, rather
# than fail it halfway; the script touches only keys it declares.
APPEND_SCRIPT = """#!lua
local out = {}
local k, a = 4, 3
local duplicates, fresh = 0, 0
while a <= #ARGV do
  local nkeys = tonumber(ARGV[a])
  local seen = false
  for j = k, k + nkeys - 1 do
    if redis.call('EXISTS', KEYS[j]) == 1 then seen = true break end
  end
  if seen then
    duplicates = duplicates + 1
    out[#out + 1] = 0
  else
    local seq = redis.call('HINCRBY', KEYS[2], 'last_seq', 1)
    redis.call('XADD', KEYS[1], seq .. '-0', 'meta', ARGV[a + 1], 'body', ARGV[a + 2])
    for j = k, k + nkeys - 1 do
      redis.call('SET', KEYS[j], seq, 'PX', ARGV[1])
    end
    fresh = fresh + nkeys
    out[#out + 1] = seq
  end
  k = k + nkeys
  a = a + 3
end
if duplicates > 0 then redis.call('HINCRBY', KEYS[2], 'duplicates_refused', duplicates) end
if fresh > 0 then redis.call('HINCRBY', KEYS[3], ARGV[2], fresh) end
return out
"""


@dataclass(frozen=True, slots=True)
class Keys:
    """The key names of one journal."""

    events: str
    meta: str
    seen_per_hour: str
    dead: str
    seen_prefix: str
    uptime: str

    @classmethod
    def for_prefix(cls, prefix: str) -> Keys:
        tag = "{" + prefix + "}"
        return cls(events=f"{tag}:events", meta=f"{tag}:meta",
                   seen_per_hour=f"{tag}:seen-per-hour", dead=f"{tag}:dead",
                   seen_prefix=f"{tag}:seen:", uptime=f"{tag}:uptime")

    def seen(self, instance: str, key: str) -> str:
        return f"{self.seen_prefix}{len(instance)}:{instance}:{key}"


def append_arguments(keys: Keys, events: Sequence[IncomingEvent],
                     dedup_window_seconds: float) -> tuple[list[str], list[bytes | str | int]]:
    """KEYS and ARGV of ``APPEND_SCRIPT`` for ``events``."""
    script_keys = [keys.events, keys.meta, keys.seen_per_hour]
    newest = max(event.received_at for event in events)
    args: list[bytes | str | int] = [max(1, int(dedup_window_seconds * 1000)),
                                     hour_of(newest)]
    for event in events:
        script_keys.extend(keys.seen(event.instance, key) for key in event.dedup_keys)
        args.extend((len(event.dedup_keys), encode_meta(event), event.body))
    return script_keys, args


def hour_of(timestamp: float) -> int:
    return int(timestamp // HOUR)


def entry_id(seq: int) -> str:
    return f"{seq}-0"


def seq_of(entry: bytes | str) -> int:
    text = entry.decode() if isinstance(entry, bytes) else entry
    return int(text.partition("-")[0])


def encode_meta(event: IncomingEvent) -> bytes:
    meta = [event.instance, event.event_id, event.destination, event.received_at,
            event.event_type, event.created_at, event.entity_type, event.entity_path]
    if event.origin != STREAM:
        meta.append(event.origin)
    return orjson.dumps(meta)


def decode_entry(entry: bytes | str, fields: dict[bytes, bytes]) -> StoredEvent:
    """A stream entry as a ``StoredEvent``; the body comes back exactly as it went in."""
    meta = orjson.loads(fields[b"meta"])
    (instance, event_id, destination, received_at, event_type, created_at, entity_type,
     entity_path) = meta[:8]
    return StoredEvent(seq=seq_of(entry), instance=instance, event_id=event_id,
                       destination=destination, received_at=received_at,
                       body=fields[b"body"], event_type=event_type, created_at=created_at,
                       entity_type=entity_type, entity_path=entity_path,
                       origin=meta[8] if len(meta) > 8 else STREAM)
