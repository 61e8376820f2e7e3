"""What continuous reconcile has done, per destination, in a small JSON file that survives
restarts: ``{"<destination>": {"done_until": <epoch seconds>}}``.

Written whole to a temporary file, fsynced, then renamed over the old one: a crash leaves the
old state or the new, never half of one. A lost or unreadable file only means the next pass
looks back further (the journal's dedup makes that safe, never a double).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson

log = logging.getLogger("auditstream.reconcile")


class StateFile:
    """The state file; ``done_until(name)`` and ``record(name, until)``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, float]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("reconcile state %s unreadable (%s): starting afresh", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {name: float(entry["done_until"]) for name, entry in data.items()
                if isinstance(entry, dict) and isinstance(entry.get("done_until"), int | float)}

    def done_until(self, destination: str) -> float | None:
        return self.load().get(destination)

    def record(self, destination: str, until: float) -> None:
        state = self.load()
        state[destination] = max(until, state.get(destination, until))
        text = orjson.dumps({name: {"done_until": when} for name, when in sorted(state.items())})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
