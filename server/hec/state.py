"""The stand-in's shared state: one object on the app, reached through ``HEC_STATE``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from auditstream.server.hec.acks import AckLedger
from auditstream.server.hec.config import HecConfig
from auditstream.server.hec.faults import Endpoint, Fault, FaultKind, FaultSchedule
from auditstream.server.hec.records import Received


@dataclass(slots=True)
class HecState:
    """What the handlers share: config, what was received, faults, acks, and the clock.

    ``clock`` is monotonic and drives fault schedules and ack readiness; ``stopping`` is set
    when the server stops, which is when a hanging request finally gets its connection cut.
    """

    config: HecConfig
    received: Received = field(default_factory=Received)
    schedule: FaultSchedule = field(default_factory=FaultSchedule)
    acks: AckLedger = field(default_factory=AckLedger)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def create(cls, config: HecConfig) -> HecState:
        return cls(config=config, acks=AckLedger(config.max_pending_acks_per_channel))

    def take_fault(self, endpoint: Endpoint, kinds: frozenset[FaultKind]) -> Fault | None:
        return self.schedule.take(endpoint, kinds, self.clock())


HEC_STATE = web.AppKey("hec_state", HecState)
