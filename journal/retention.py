"""The journal's retention policy, applied now and then while a process runs.

What a pass removes (bodies every sink has and older than the retention; ids and receivers'
uptime records past the dedup window) is each backend's ``purge``; this loop only decides when.
"""

from __future__ import annotations

import asyncio
import logging
import time

from auditstream.journal.base import Journal
from auditstream.journal.config import JournalConfig
from auditstream.journal.errors import JournalError

log = logging.getLogger("auditstream.journal")


async def purge_periodically(journal: Journal, config: JournalConfig) -> None:
    """Apply retention now and then; a failed pass is logged and tried again next time."""
    while True:
        try:
            result = await journal.purge(time.time())
        except JournalError as exc:
            log.warning("journal retention pass failed: %s", exc)
        else:
            if result.bodies_removed or result.ids_forgotten or result.uptime_forgotten:
                log.info("journal retention: %d bodies removed, %d ids and %d receivers' "
                         "uptime records forgotten", result.bodies_removed,
                         result.ids_forgotten, result.uptime_forgotten)
        await asyncio.sleep(config.purge_interval_seconds)
