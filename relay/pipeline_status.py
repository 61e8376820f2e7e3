"""What a sink's pipeline says about the sink: its state, why it is paused, its last check."""

from __future__ import annotations

import logging
import time

from auditstream.relay.metrics import RelayMetrics, SinkState
from auditstream.relay.sinks.base import SinkHealth

log = logging.getLogger("auditstream.relay")


class PipelineStatus:
    """The state of one sink's pipeline, kept in step with its metric."""

    def __init__(self, name: str, metrics: RelayMetrics) -> None:
        self._name = name
        self._metrics = metrics
        self.state = SinkState.STARTING
        self.pause_reason = ""  # why the sink is PAUSED; empty in any other state
        # What the last check of the sink found (``Relay.check_sinks``); None once a delivery
        # went through after it.
        self.check: SinkHealth | None = None
        self._delivered_at = float("-inf")  # monotonic
        self.set(SinkState.STARTING)

    def set(self, state: SinkState, pause_reason: str = "") -> None:
        self.state = state
        self.pause_reason = pause_reason if state is SinkState.PAUSED else ""
        self._metrics.set_state(self._name, state)

    def checked(self, health: SinkHealth, began: float) -> None:
        """A check of the sink begun at ``began`` (monotonic) found ``health``; a delivery
        since it began says more than a failed check, and is kept."""
        if health.ok or self._delivered_at < began:
            self.check = health

    @property
    def unusable(self) -> bool:
        """The last check found the sink unusable and nothing was delivered since."""
        return self.check is not None and not self.check.ok

    def delivered(self) -> None:
        """The sink took a batch: whatever its last check found, it is usable."""
        self._delivered_at = time.monotonic()
        if self.unusable:
            log.info("sink takes events: it was found unusable at its last check",
                     extra={"sink": self._name})
            self.check = None
        self._metrics.last_success.labels(self._name).set(time.time())
