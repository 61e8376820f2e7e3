"""The backlog gauge: what the journal holds beyond each sink's cursor, at every scrape.

The backlog grows while a sink is down, with nothing on the relay's side moving, so it must be
read from the journal, not kept from the relay's own events (it once moved only with the
cursor: 0 through a whole outage, an alert that could never fire). prometheus-client collects
synchronously, in the event loop that also answers GitLab, so a scrape must not wait for the
journal: ``BacklogWatch.run`` reads every sink's position once a second and soon after each
cursor move (``nudge``), and the collector reports the last reading.

A failed read keeps the last value, and is logged at most once a minute; it never reaches the
pipelines (once a statistics read failing after a cursor save ended the pipeline, issue 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from auditstream.journal import Journal, JournalError

log = logging.getLogger("auditstream.relay")

DEFAULT_BACKLOG_REFRESH_SECONDS = 1.0
# Cursor moves come many times a second at full speed: one read per this long is enough.
_MIN_SECONDS_BETWEEN_READS = 0.1
_FAILURE_LOG_INTERVAL_SECONDS = 60.0


class BacklogWatch:
    """Reads the sinks' positions off the hot path; ``collect`` reports the last reading."""

    def __init__(self, journal: Journal, sinks: Iterable[str], registry: CollectorRegistry,
                 refresh_seconds: float = DEFAULT_BACKLOG_REFRESH_SECONDS) -> None:
        self._journal = journal
        self._sinks = frozenset(sinks)
        self._refresh_seconds = refresh_seconds
        self._backlog: dict[str, int] = {}
        self._nudged = asyncio.Event()
        self._failing = False
        self._failure_logged_at: float | None = None
        registry.register(self)

    def nudge(self) -> None:
        """A cursor moved: read again soon."""
        self._nudged.set()

    async def run(self) -> None:
        """Read until cancelled; never raises."""
        while True:
            self._nudged.clear()
            await self.refresh()
            await asyncio.sleep(_MIN_SECONDS_BETWEEN_READS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(),
                                       self._refresh_seconds - _MIN_SECONDS_BETWEEN_READS)

    async def refresh(self) -> None:
        """One read of every sink's position; a failure keeps the last known values."""
        try:
            positions = await self._journal.positions()
        except JournalError as exc:
            self._failed(f"cannot read the sinks' backlog (the last value is shown): {exc}")
            return
        except Exception:  # a bug in a statistics read must not end anything: say so, go on
            self._failed("reading the sinks' backlog failed (the last value is shown)",
                         exc_info=True)
            return
        if self._failing:
            log.info("the sinks' backlog can be read again")
            self._failing = False
        self._backlog.update({p.sink: p.backlog for p in positions if p.sink in self._sinks})

    def _failed(self, message: str, *, exc_info: bool = False) -> None:
        self._failing = True
        now = time.monotonic()
        last = self._failure_logged_at
        if last is None or now - last >= _FAILURE_LOG_INTERVAL_SECONDS:
            log.warning(message, exc_info=exc_info)
            self._failure_logged_at = now

    # -- the collector (prometheus-client calls these, in the event loop's thread) ------------

    def describe(self) -> list[Metric]:
        return []  # collected fresh at each scrape

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("auditstream_relay_backlog_events",
                                  "Events in the journal beyond the sink's cursor (read from "
                                  "the journal at most a second before the scrape)",
                                  labels=["sink"])
        for sink, backlog in sorted(self._backlog.items()):
            gauge.add_metric([sink], backlog)
        yield gauge
