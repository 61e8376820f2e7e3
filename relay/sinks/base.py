"""The sink interface: send a batch, say whether you are healthy, confirm acknowledgements.

Each sink knows its own protocol and turns its answer into the pipeline's decision
(``relay.decision``): the pipeline acts on decisions only, never on a status or a body."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from auditstream.relay.batch import Batch
from auditstream.relay.decision import Decision


@dataclass(frozen=True, slots=True)
class SinkHealth:
    """What a check of the sink found (``reason``, said either way). Not ok: ``setting``
    names what a person must fix (a refused token, URL or index, an unwritable path), or is
    empty when the trouble may pass by itself (busy, unreachable) and retrying can help."""

    ok: bool
    reason: str = ""
    setting: str = ""


class Sink(abc.ABC):
    """One destination of the relay."""

    name: str
    uses_acks: bool = False
    # How many batches the sink takes at once; None: as many as the relay sends
    # (``max_requests_in_flight``).
    max_in_flight: int | None = None

    @abc.abstractmethod
    async def send(self, batch: Batch) -> Decision:
        """Deliver one batch and say what the pipeline must do next. Never raises for the
        sink's own trouble: a sink that did not answer (or could not be written) is a
        ``Retry``."""

    @abc.abstractmethod
    async def health(self) -> SinkHealth:
        """Is the sink reachable, and does it take our credentials? Asked at start-up, and
        again while the answer is no. Never raises: every failure is a not-ok answer."""

    async def query_acks(self, ack_ids: Sequence[int]) -> dict[int, bool]:
        """Which of ``ack_ids`` are indexed (only for sinks with ``uses_acks``)."""
        return dict.fromkeys(ack_ids, True)

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and files."""
