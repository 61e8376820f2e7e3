"""Indexer acknowledgement as Splunk keeps it: per channel, ackIds counted from 0. Pure.

An id is true once its events count as indexed (at once, unless a scripted fault makes it
late or never), and an id reported true is forgotten, so asking again says false. False
cannot tell "pending" from "lost": that ambiguity is what a relay must cope with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from auditstream.server.hec.codes import INVALID_DATA_FORMAT, NO_DATA
from auditstream.server.hec.errors import HecRefusal


@dataclass(slots=True)
class _Channel:
    next_id: int = 0
    # ackId -> the clock time it becomes true; None: it never will.
    pending: dict[int, float | None] = field(default_factory=dict)


class AckLedger:
    """The ackIds handed out, per channel, and when each becomes true."""

    def __init__(self, max_pending_per_channel: int | None = None) -> None:
        self._channels: dict[str, _Channel] = {}
        self._max_pending = max_pending_per_channel

    def can_issue(self, channel: str) -> bool:
        """False when the channel holds as many unqueried ids as Splunk allows (503 code 9)."""
        state = self._channels.get(channel)
        return (self._max_pending is None or state is None
                or len(state.pending) < self._max_pending)

    def issue(self, channel: str, ready_at: float | None) -> int:
        """A new ackId on ``channel``, true from ``ready_at`` on (never when None)."""
        state = self._channels.setdefault(channel, _Channel())
        ack_id = state.next_id
        state.next_id += 1
        state.pending[ack_id] = ready_at
        return ack_id

    def query(self, channel: str, ack_ids: Sequence[int], now: float) -> dict[str, bool]:
        """Splunk's answer to ``{"acks": ack_ids}``; ids reported true are forgotten."""
        state = self._channels.get(channel, _Channel())
        statuses: dict[str, bool] = {}
        for ack_id in ack_ids:
            ready_at = state.pending.get(ack_id)
            done = ready_at is not None and ready_at <= now
            if done:
                del state.pending[ack_id]
            statuses[str(ack_id)] = statuses.get(str(ack_id), False) or done
        return statuses

    def pending(self, channel: str) -> list[int]:
        """The ids of ``channel`` not yet reported true (inspection for tests)."""
        state = self._channels.get(channel)
        return sorted(state.pending) if state is not None else []

    def channels(self) -> list[str]:
        return sorted(self._channels)


def parse_ack_body(body: bytes) -> list[int]:
    """The ids of an ``/ack`` body ``{"acks": [0, 1, ...]}``, or Splunk's refusal."""
    if not body.strip():
        raise HecRefusal(NO_DATA)
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HecRefusal(INVALID_DATA_FORMAT) from None
    ids = document.get("acks") if isinstance(document, dict) else None
    if not isinstance(ids, list) or not all(_is_ack_id(i) for i in ids):
        raise HecRefusal(INVALID_DATA_FORMAT)
    return ids


def _is_ack_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
