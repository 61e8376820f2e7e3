"""The framework ceiling: an aiohttp server whose POST handler answers 200 without reading.

It runs on the same aiohttp, in the same ``AppRunner`` style as the receiver (access log off,
signals handled by us), so the receiver's requests/s can be read as a fraction of what aiohttp
itself can do on this machine. Prints ``bare handler listening on http://HOST:PORT`` once ready
and stops cleanly on SIGTERM or SIGINT.

``--stage`` adds, one step at a time, what the receiver does on top, so a benchmark can show
where the time between the two goes (the cost ladder):

- ``none``: answer 200 at once, body unread (the baseline);
- ``read``: read the body first;
- ``parse``: and decode it with orjson, answering a small JSON object as the receiver does;
- ``handoff``: and wait, as the receiver waits for its journal, for a writer thread that
  takes all queued requests in one batch and resolves their futures (no disk);
- ``fsync``: and that thread also appends the batch's bodies to a file and fdatasyncs it once
  per batch: durable group commit without SQLite;
- ``handler``: the receiver's own application (token check, parsing, metrics, answers) on a
  journal that keeps nothing and answers at the loop's next turn: what the receiver costs
  without its storage. Needs the streaming token in ``AUDITSTREAM_BENCH_TOKEN``.

    python -m bench.bare_handler --listen 127.0.0.1:0 [--stage none]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiohttp import web

READY_LINE = "bare handler listening on"
STAGES = ("none", "read", "parse", "handoff", "fsync", "handler")
TOKEN_ENV = "AUDITSTREAM_BENCH_TOKEN"  # noqa: S105 (the name of a variable)


@dataclass(slots=True)
class BatchWriter:
    """The group-commit hand-off without a database: a thread resolves queued futures in batches.

    With ``path`` set it appends every batch's bodies to that file and fdatasyncs once per batch.
    """

    path: Path | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[tuple[asyncio.Future[None], bytes]] = field(default_factory=list)
    _closing: bool = False
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="bare-writer", daemon=True)
        self._thread.start()

    async def submit(self, body: bytes) -> None:
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        with self._cond:
            self._queue.append((future, body))
            self._cond.notify()
        await future

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        fd = -1 if self.path is None else os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return
                    batch, self._queue = self._queue, []
                if fd >= 0:
                    os.write(fd, b"".join(body for _, body in batch))
                    os.fdatasync(fd)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(_resolve, [future for future, _ in batch])
        finally:
            if fd >= 0:
                os.close(fd)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


WRITER = web.AppKey("writer", BatchWriter)
STAGE = web.AppKey("stage", str)


async def answer(request: web.Request) -> web.Response:
    """200, after doing as much of the receiver's work as the stage says."""
    stage = request.app[STAGE]
    if stage == "none":  # the body is left unread: aiohttp discards it before the next request
        return web.Response(status=200)
    body = await request.read()
    if stage == "read":
        return web.Response(status=200)
    event = orjson.loads(body)
    if stage != "parse":
        await request.app[WRITER].submit(body)
    return web.Response(body=orjson.dumps({"accepted": 1 if "id" in event else 0,
                                           "duplicates": 0}),
                        content_type="application/json")


def create_app(stage: str, spool: Path | None) -> web.Application:
    app = web.Application()
    app[STAGE] = stage
    app[WRITER] = BatchWriter(spool if stage == "fsync" else None)
    app.router.add_post("/{path:.*}", answer)
    return app


async def serve(host: str, port: int, stage: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    with tempfile.TemporaryDirectory(prefix="bare-handler-") as spool_dir:
        if stage == "handler":
            # Imported here only: the other stages must not carry the receiver's imports.
            from bench.handler_stage import receiver_without_storage
            app = receiver_without_storage(os.environ[TOKEN_ENV])
        else:
            app = create_app(stage, Path(spool_dir) / "spool")
        if stage in ("handoff", "fsync"):
            app[WRITER].start()
        runner = web.AppRunner(app, auto_decompress=False, access_log=None,
                               handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        if stage == "handler":  # as auditstream's serving does once it has started
            from auditstream.wiring.gctune import settle_after_startup
            settle_after_startup()
        bound = next(a for a in runner.addresses if isinstance(a, tuple))
        print(f"{READY_LINE} http://{bound[0]}:{bound[1]} (stage {stage})", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
            if stage != "handler":
                app[WRITER].close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bare_handler",
        description="An aiohttp server whose POST handler answers 200 without reading the body.")
    parser.add_argument("--listen", default="127.0.0.1:0",
                        help="HOST:PORT; port 0 picks a free one (default %(default)s)")
    parser.add_argument("--stage", choices=STAGES, default="none",
                        help="how much of the receiver's work to add (default %(default)s)")
    args = parser.parse_args()
    host, _, port = str(args.listen).rpartition(":")
    asyncio.run(serve(host, int(port), args.stage))


if __name__ == "__main__":
    main()
