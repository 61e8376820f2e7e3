"""Continuous reconcile's progress from before it was kept in the journal.

Up to issue 20, each process kept ``{"<destination>": {"done_until": <epoch seconds>}}`` in
``reconcile-state.json`` beside the journal's file. The progress now lives in the journal
(``Journal.reconcile_progress``), where receivers on several machines sharing a Redis journal
share it too, instead of each repeating the others' passes. A file left by an older version
is taken into the journal once, at start-up, then removed. A lost or unreadable file only
means the next pass looks back further (the journal's dedup makes that safe, never a double).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson

from auditstream.journal import Journal, JournalError

log = logging.getLogger("auditstream.reconcile")

LEGACY_STATE_FILE = "reconcile-state.json"  # beside the journal's file


def read_state_file(path: Path) -> dict[str, float]:
    """Each destination's ``done_until`` in an old state file; empty when it is missing or
    unreadable."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        log.warning("reconcile state %s unreadable (%s): starting afresh", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {name: float(entry["done_until"]) for name, entry in data.items()
            if isinstance(entry, dict) and isinstance(entry.get("done_until"), int | float)}


async def take_in_state_file(path: Path, journal: Journal) -> None:
    """Record an old state file's progress in the journal, then remove the file. If that
    fails, the file stays (and is read again at the next start); passes look back further
    meanwhile, which dedup makes safe."""
    if not await asyncio.to_thread(path.exists):
        return
    progress = await asyncio.to_thread(read_state_file, path)
    try:
        for destination, until in progress.items():
            await journal.record_reconcile_progress(destination, until)
        await asyncio.to_thread(path.unlink, missing_ok=True)
    except (JournalError, OSError) as exc:
        log.warning("reconcile state %s not moved into the journal (%s): kept for the next "
                    "start", path, exc)
        return
    log.info("reconcile progress of %d destinations moved from %s into the journal",
             len(progress), path)
