"""Running the relay: one pipeline per configured sink, over one journal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time

from prometheus_client import CollectorRegistry

from auditstream.common.health import ReadinessProbe
from auditstream.journal import Journal
from auditstream.relay.backlog import BacklogWatch
from auditstream.relay.config import FileSinkConfig, HecSinkConfig, RelayConfig, SinkConfig
from auditstream.relay.metrics import RelayMetrics, SinkState
from auditstream.relay.pipeline import PipelineSettings, SinkPipeline
from auditstream.relay.sinks.base import Sink, SinkHealth
from auditstream.relay.sinks.file import FileSink
from auditstream.relay.sinks.hec import HecSink
from auditstream.relay.sources import RetrySource

log = logging.getLogger("auditstream.relay")

def build_sink(config: SinkConfig) -> Sink:
    if isinstance(config, FileSinkConfig):
        return FileSink(config.name, config.path)
    return HecSink(config.name, config.url, config.token, gzip=config.gzip,
                   gzip_level=config.gzip_level, use_acks=config.ack,
                   timeout_seconds=config.timeout_seconds, ssl_context=_tls(config))


def _tls(config: HecSinkConfig) -> ssl.SSLContext | bool:
    if not config.url.startswith("https:"):
        return True  # plain HTTP: nothing to verify
    if not config.tls_verify:
        log.warning("TLS verification is OFF for sink %s: anyone on the path can read and "
                    "alter what is sent (tls_verify = false)", config.name)
        return False
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Relay:
    """The pipelines of every sink; ``start`` checks each sink and runs them."""

    def __init__(self, config: RelayConfig, journal: Journal,
                 registry: CollectorRegistry | None = None,
                 sinks: list[Sink] | None = None, rng: random.Random | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = RelayMetrics.create(self.registry)
        self.sinks = sinks if sinks is not None else [build_sink(s) for s in config.sinks]
        self.backlog = BacklogWatch(journal, [sink.name for sink in self.sinks], self.registry)
        self.pipelines = [
            SinkPipeline(sink, journal, pipeline_settings(config, sink_config), self.metrics, rng,
                         cursor_moved=self.backlog.nudge)
            for sink, sink_config in zip(self.sinks, config.sinks, strict=True)]
        # Beside each pipeline, one for the dead letters an operator asked to retry: it shares
        # the sink and its settings, and keeps metrics of its own (the sink's state and
        # counters are the main pipeline's).
        retry_metrics = RelayMetrics.create(CollectorRegistry())
        self.retry_pipelines = [
            SinkPipeline(sink, RetrySource(journal, sink.name),
                         pipeline_settings(config, sink_config), retry_metrics, rng)
            for sink, sink_config in zip(self.sinks, config.sinks, strict=True)]
        self._tasks: list[asyncio.Task[None]] = []
        self._watching: asyncio.Task[None] | None = None
        self._rechecks: dict[str, asyncio.Task[None]] = {}
        self._running = False

    async def check_sinks(self) -> dict[str, SinkHealth]:
        """Ask every sink at once and say what each is found to be. Until a later check or a
        delivery succeeds, a sink found unusable is not ready in /readyz, with the reason, and
        is asked again every ``backoff_cap_seconds``. Events are kept either way. Runs before
        ``start`` or after it (in the background, while the receiver already listens)."""
        began = time.monotonic()
        results = await asyncio.gather(*(sink.health() for sink in self.sinks))
        for pipeline, health in zip(self.pipelines, results, strict=True):
            pipeline.checked(health, began)
            _log_check(pipeline.name, health)
        self._recheck_unusable()
        return {sink.name: health for sink, health in zip(self.sinks, results, strict=True)}

    def _recheck_unusable(self) -> None:
        if not self._running:
            return  # start() asks again for what is unusable by then
        for pipeline in self.pipelines:
            task = self._rechecks.get(pipeline.name)
            if pipeline.unusable and (task is None or task.done()):
                self._rechecks[pipeline.name] = asyncio.create_task(
                    self._recheck(pipeline), name=f"relay:recheck:{pipeline.name}")

    async def _recheck(self, pipeline: SinkPipeline) -> None:
        while pipeline.unusable:
            await asyncio.sleep(self.config.retry.backoff_cap_seconds)
            began = time.monotonic()
            try:
                health = await pipeline.sink.health()
            except Exception:  # a sink's bug: ask again later, as after any failed check
                log.warning("checking sink %s failed", pipeline.name, exc_info=True)
                continue
            if health.ok and pipeline.unusable:
                _log_check(pipeline.name, health)
            pipeline.checked(health, began)

    def start(self) -> None:
        self._running = True
        self._watching = asyncio.create_task(self.backlog.run(), name="relay:backlog")
        for pipeline in self.pipelines:
            self._tasks.append(asyncio.create_task(pipeline.run(), name=f"relay:{pipeline.name}"))
        for pipeline in self.retry_pipelines:
            self._tasks.append(asyncio.create_task(pipeline.run(),
                                                   name=f"relay:{pipeline.name}:retries"))
        self._recheck_unusable()

    async def stop(self, grace_seconds: float) -> None:
        """Finish the batches in hand (within the grace), save cursors, close the sinks."""
        self._running = False
        await asyncio.gather(*(p.stop(grace_seconds)
                               for p in [*self.pipelines, *self.retry_pipelines]))
        background = [*self._rechecks.values(), *([self._watching] if self._watching else [])]
        for task in [*self._tasks, *background]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sink in self.sinks:
            await sink.close()

    def failed(self) -> BaseException | None:
        """A pipeline that stopped on a bug, if any."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    def probes(self) -> list[ReadinessProbe]:
        return [_probe(pipeline) for pipeline in self.pipelines]


def _log_check(name: str, health: SinkHealth) -> None:
    if health.ok:
        log.info("sink %s is %s", name, health.reason)
    elif health.setting:
        log.error("sink %s is not usable: %s; fix its %s (events are kept until it is)", name,
                  health.reason, health.setting)
    else:
        log.warning("sink %s cannot take events now: %s; it will be retried, and events are "
                    "kept meanwhile", name, health.reason)


def _probe(pipeline: SinkPipeline) -> ReadinessProbe:
    async def probe() -> tuple[str, bool, str]:
        name = f"sink:{pipeline.name}"
        if pipeline.state is SinkState.PAUSED:
            return name, False, pipeline.pause_reason
        if pipeline.check is not None and not pipeline.check.ok:
            check = pipeline.check
            return name, False, (f"{check.reason}; fix its {check.setting}" if check.setting
                                 else f"{check.reason}; retried")
        return name, True, pipeline.state

    return probe


def pipeline_settings(config: RelayConfig, sink: SinkConfig) -> PipelineSettings:
    """How the pipeline of ``sink`` runs (a replay's too)."""
    return PipelineSettings(envelope=sink.envelope, batch=sink.batch, retry=config.retry,
                            ack=config.ack, poll_seconds=config.poll_seconds,
                            windows_in_flight=config.windows_in_flight,
                            max_requests_in_flight=config.max_requests_in_flight)
