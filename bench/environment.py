"""What the benchmark runs on: the machine, the versions, and which code of auditstream.

By default the servers run the working tree. ``--rev REV`` exports that git revision's packages
(``git archive``) and puts them first on the servers' PYTHONPATH, so a benchmark measures one
commit even while the working tree changes underneath it. A revision from before the one
``auditstream`` package (its parts imported as ``receiver``, ``client``, ...) runs through its own
``client.cli``; a later one is laid out as ``auditstream/<part>``, as its wheel installs it.
"""

from __future__ import annotations

import io
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from bench.procs import BenchError

REPO = Path(__file__).resolve().parent.parent
# The parts, each a top-level folder that installs as auditstream.<part>.
PARTS = ("receiver", "journal", "relay", "client", "server", "common", "config", "wiring", "cli",
         "reconcile")
# Before the one package: five top-level packages, and the CLI in client.cli.
BARE_PACKAGES = ("receiver", "journal", "client", "relay", "server")


@dataclass(frozen=True, slots=True)
class CodeUnderTest:
    """Where the servers import auditstream from, and how to say it in a report."""

    description: str
    pythonpath: Path | None  # None: the installed (editable) working tree
    cli: tuple[str, ...]     # the command that runs this code's ``auditstream``

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **(extra or {})}
        if self.pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(self.pythonpath), str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        return env


def code_under_test(rev: str | None, workdir: Path, folder: str = "code") -> CodeUnderTest:
    if rev is None:
        head = _git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = _git("status", "--porcelain", "--", *PARTS)
        changed = sorted({line[3:].split("/")[0] for line in dirty.splitlines()})
        note = f" + uncommitted changes in {', '.join(changed)}" if changed else ""
        return CodeUnderTest(f"working tree at {head}{note}", None, (installed_cli(),))
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not commit:
        raise BenchError(f"--rev {rev}: not a commit of {REPO}")
    one_package = bool(_git("ls-tree", "--name-only", commit, "cli/main.py"))
    parts = [part for part in (PARTS if one_package else BARE_PACKAGES)
             if _git("ls-tree", "--name-only", commit, part)]
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit,
                              "--", *parts], capture_output=True, check=False)
    if archive.returncode != 0:
        raise BenchError(f"git archive {commit}: {archive.stderr.decode().strip()}")
    target = workdir / folder
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target / "exported", filter="data")
    description = f"{rev} = {commit[:12]} (exported)"
    if not one_package:
        (target / "exported").rename(target / "bare")
        return CodeUnderTest(description, target / "bare",
                             (sys.executable, "-P", "-c", "from client.cli import main; main()"))
    for part in parts:  # as the wheel lays them out (pyproject's package-dir)
        shutil.move(target / "exported" / part, target / "auditstream" / part)
    # -P: the current folder (a checkout, with its own receiver/, client/ ...) is not on the path.
    return CodeUnderTest(description, target, (sys.executable, "-P", "-m", "auditstream.cli"))


def installed_cli() -> str:
    """The ``auditstream`` command of this environment."""
    beside = Path(sys.executable).with_name("auditstream")
    found = str(beside) if beside.exists() else shutil.which("auditstream")
    if found is None:
        raise BenchError("the auditstream CLI is not installed in this environment")
    return found


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
