"""What the benchmark runs on: the machine, the versions, and which code of auditstream.

By default the servers run the working tree. ``--rev REV`` exports that git revision's packages
(``git archive``) and puts them first on the servers' PYTHONPATH, so a benchmark measures one
commit even while the working tree changes underneath it.
"""

from __future__ import annotations

import io
import os
import platform
import sqlite3
import subprocess
import tarfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from bench.procs import BenchError

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("receiver", "journal", "client", "relay", "server")


@dataclass(frozen=True, slots=True)
class CodeUnderTest:
    """Where the servers import auditstream from, and how to say it in a report."""

    description: str
    pythonpath: Path | None  # None: the installed (editable) working tree

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **(extra or {})}
        if self.pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(self.pythonpath), str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        return env


def code_under_test(rev: str | None, workdir: Path, folder: str = "code") -> CodeUnderTest:
    if rev is None:
        head = _git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = _git("status", "--porcelain", "--", *PACKAGES)
        changed = sorted({line[3:].split("/")[0] for line in dirty.splitlines()})
        note = f" + uncommitted changes in {', '.join(changed)}" if changed else ""
        return CodeUnderTest(f"working tree at {head}{note}", None)
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not commit:
        raise BenchError(f"--rev {rev}: not a commit of {REPO}")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit,
                              "--", *PACKAGES], capture_output=True, check=False)
    if archive.returncode != 0:
        raise BenchError(f"git archive {commit}: {archive.stderr.decode().strip()}")
    target = workdir / folder
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return CodeUnderTest(f"{rev} = {commit[:12]} (exported)", target)


def describe(code: CodeUnderTest, load: str, pinning: str) -> dict[str, str]:
    cpu_model = next((line.split(":", 1)[1].strip() for line in
                      Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return {
        "machine": f"{os.cpu_count()} CPUs ({cpu_model}), {platform.platform()}",
        "python": platform.python_version(), "aiohttp": version("aiohttp"),
        "sqlite": sqlite3.sqlite_version, "wrk": (wrk.stdout or wrk.stderr).split("\n")[0],
        "code": code.description, "load": load, "pinning": pinning,
    }


def _git(*args: str) -> str:
    completed = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                               check=False)
    return completed.stdout.strip() if completed.returncode == 0 else ""
