"""What the relay benchmark runs on: machine, versions, which code; and the prefill's size."""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path

from auditstream.journal import JournalConfig, open_journal_readonly


def describe(code: str) -> dict[str, str]:
    cpu_model = next((line.split(":", 1)[1].strip() for line in
                      Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return {
        "machine": f"{os.cpu_count()} CPUs ({cpu_model}), {platform.platform()}",
        "memory": _mem_total(),
        "python": platform.python_version(), "aiohttp": version("aiohttp"),
        "orjson": version("orjson"), "sqlite": sqlite3.sqlite_version,
        "wrk": (wrk.stdout or wrk.stderr).split("\n")[0], "code": code,
    }


def journal_events(path: Path) -> int:
    """Events held by a journal no sink has read from (else -1: not a fresh prefill)."""
    async def count() -> int:
        journal = await open_journal_readonly(JournalConfig(path=path))
        try:
            stats = await journal.stats()
        finally:
            await journal.close()
        return -1 if stats.sinks else stats.events

    return asyncio.run(count())


def _mem_total() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return "unknown"
