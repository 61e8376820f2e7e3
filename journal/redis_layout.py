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
                        one string per dedup key, value "<seq>:<body digest>:<destination>"
                        of the event it belongs to (just "<seq>" in keys written before
                        collisions were told apart), expiring after the dedup window (<n> is
                        len(instance): no two (instance, key) pairs can spell the same key)
    {p}:collisions      stream: events stored although another destination had stored a
                        different event under their id (seq, first_destination, meta)
    {p}:seen-per-hour   hash: hour -> dedup keys written then (for stats; the keys expire
                        on their own)
    {p}:dead            stream of dead letters (sink, seq, event_id, reason, dead_at, body,
                        and the event's metadata as "meta" where recorded since it is kept)
    {p}:dead-retry      hash: dead letter entry id -> when an operator asked for its retry
    {p}:dead-held:<id>  string: the consumer sending that dead letter again, expiring after
                        claim_idle_seconds unless renewed (one relay at a time retries it)
    {p}:uptime          hash: receiving process -> "started_at seen_at stopped" (reconcile)
    consumer groups     on {p}:events, one per sink, named as the sink
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from auditstream.journal.collisions import body_digest, collision_key
from auditstream.journal.model import BACKFILL, STREAM, IncomingEvent, StoredEvent

HOUR = 3600.0

# KEYS: events, meta, seen-per-hour, collisions, then per event: its dedup keys in order (the
# id key first), then its collision key.
# ARGV: dedup window (ms), hour bucket, then per event: its number of dedup keys, meta, body,
# destination, body digest (hex; empty for a backfilled event).
# Each event: if its id key exists, it is the same event again (journal.collisions: same
# destination, or same digest; or a key without a digest, from before digests) or a
# collision, unless its collision key exists already; with a new id, it is a duplicate when
# any other key exists. What is not a duplicate gets the next seq, goes into the stream, and
# only then are its keys set (never a key without its event): a collision only its collision
# key, recorded in the collisions stream. A key's value: "<seq>:<digest>:<destination>".
# Returns per event: its seq, 0 for a duplicate, {seq, first destination} for a collision.
# A backfilled event (GitLab's own stored event: its id is the audit_events table's key) is
# never a collision: a known id is a duplicate, and a new one is set as "<seq>" alone, a key
# with nothing to compare, so a streamed copy from any destination is a duplicate of it.
# The shebang makes Redis 7 refuse the whole script up front when out of memory, rather
# than fail it halfway; the script touches only keys it declares.
APPEND_SCRIPT = """#!lua
local out = {}
local k, a = 5, 3
local duplicates, fresh = 0, 0
while a <= #ARGV do
  local nkeys = tonumber(ARGV[a])
  local destination, digest = ARGV[a + 3], ARGV[a + 4]
  local duplicate, first_destination = false, nil
  local from, to = k, k + nkeys - 1
  local first = redis.call('GET', KEYS[k])
  if first then
    local colon = string.find(first, ':', 1, true)
    if colon == nil or digest == '' then
      duplicate = true
    else
      local known = string.sub(first, colon + 34)
      if known == destination or string.sub(first, colon + 1, colon + 32) == digest then
        duplicate = true
      elseif redis.call('EXISTS', KEYS[k + nkeys]) == 1 then
        duplicate = true
      else
        first_destination, from, to = known, k + nkeys, k + nkeys
      end
    end
  else
    for j = k + 1, k + nkeys - 1 do
      if redis.call('EXISTS', KEYS[j]) == 1 then duplicate = true break end
    end
  end
  if duplicate then
    duplicates = duplicates + 1
    out[#out + 1] = 0
  else
    local seq = redis.call('HINCRBY', KEYS[2], 'last_seq', 1)
    redis.call('XADD', KEYS[1], seq .. '-0', 'meta', ARGV[a + 1], 'body', ARGV[a + 2])
    local value = seq .. ':' .. digest .. ':' .. destination
    if digest == '' then value = tostring(seq) end
    for j = from, to do
      redis.call('SET', KEYS[j], value, 'PX', ARGV[1])
    end
    fresh = fresh + to - from + 1
    if first_destination then
      redis.call('XADD', KEYS[4], '*', 'seq', seq, 'first_destination', first_destination,
                 'meta', ARGV[a + 1])
      out[#out + 1] = {seq, first_destination}
    else
      out[#out + 1] = seq
    end
  end
  k = k + nkeys + 1
  a = a + 5
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
    dead_retry: str
    dead_held_prefix: str
    seen_prefix: str
    collisions: str
    uptime: str
    reconcile: str
    reconcile_turn_prefix: str

    @classmethod
    def for_prefix(cls, prefix: str) -> Keys:
        tag = "{" + prefix + "}"
        return cls(events=f"{tag}:events", meta=f"{tag}:meta",
                   seen_per_hour=f"{tag}:seen-per-hour", dead=f"{tag}:dead",
                   dead_retry=f"{tag}:dead-retry", dead_held_prefix=f"{tag}:dead-held:",
                   seen_prefix=f"{tag}:seen:", collisions=f"{tag}:collisions",
                   uptime=f"{tag}:uptime", reconcile=f"{tag}:reconcile",
                   reconcile_turn_prefix=f"{tag}:reconcile-turn:")

    def seen(self, instance: str, key: str) -> str:
        return f"{self.seen_prefix}{len(instance)}:{instance}:{key}"


def append_arguments(keys: Keys, events: Sequence[IncomingEvent],
                     dedup_window_seconds: float) -> tuple[list[str], list[bytes | str | int]]:
    """KEYS and ARGV of ``APPEND_SCRIPT`` for ``events``."""
    script_keys = [keys.events, keys.meta, keys.seen_per_hour, keys.collisions]
    newest = max(event.received_at for event in events)
    args: list[bytes | str | int] = [max(1, int(dedup_window_seconds * 1000)),
                                     hour_of(newest)]
    for event in events:
        instance = event.instance
        digest = body_digest(event.body)
        script_keys.extend(keys.seen(instance, key) for key in event.dedup_keys)
        script_keys.append(keys.seen(instance, collision_key(event.dedup_keys[0], digest)))
        args.extend((len(event.dedup_keys), encode_meta(event), event.body, event.destination,
                     "" if event.origin == BACKFILL else digest.hex()))
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
