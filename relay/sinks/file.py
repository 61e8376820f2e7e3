"""The file sink: JSON lines (one HEC envelope a line), flushed and fsynced before the cursor
moves. The archive of record, and the default when no HEC sink is configured."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from auditstream.common.files import open_private
from auditstream.relay.batch import Batch
from auditstream.relay.decision import Decision, Delivered, Retry
from auditstream.relay.errors import SinkWriteFailed
from auditstream.relay.sinks.base import Sink, SinkHealth


class FileSink(Sink):
    """Appends each batch to ``path``; a batch is confirmed only once it is on disk."""

    # One batch at a time: the archive keeps journal order, and a failed write truncates
    # back to where it began, which would cut another batch written meanwhile.
    max_in_flight = 1

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self._fd: int | None = None
        # The pipeline of dead letters to retry shares the sink: one write at a time still.
        self._writing = asyncio.Lock()

    def _open(self) -> int:
        if self._fd is None:
            # Audit evidence: readable by the owner only, never written through a symlink.
            self._fd = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        return self._fd

    def _write(self, data: bytes) -> None:
        try:
            fd = self._open()
        except OSError as exc:
            raise SinkWriteFailed(f"cannot open {self.path}: {exc.strerror or exc}") from exc
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            # Cut off what part of the batch got written (a full disk mid-batch), so a
            # retry appends whole lines and the archive never holds half an envelope.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            self._close_fd()
            raise SinkWriteFailed(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    async def send(self, batch: Batch) -> Decision:
        """Delivered once on disk; a failed open or write (full disk, permissions) is retried
        with backoff: a file never refuses an event for what it is."""
        try:
            async with self._writing:
                await asyncio.to_thread(self._write, batch.body() + b"\n")
        except SinkWriteFailed as exc:
            return Retry(str(exc))
        return Delivered()

    async def health(self) -> SinkHealth:
        try:
            await asyncio.to_thread(self._open)
        except OSError as exc:
            return SinkHealth(False, f"cannot open {self.path}: {exc.strerror or exc}",
                              setting="path")
        return SinkHealth(True, f"writable ({self.path})")

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    async def close(self) -> None:
        self._close_fd()
