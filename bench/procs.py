"""The processes under test: started on free ports, watched through /proc, stopped cleanly."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark cannot go on (a process failed, a check failed); the message says which."""


@dataclass(slots=True)
class Server:
    """A server process under test and the URL it printed once it was listening."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> int:
        """SIGTERM, then wait for a clean exit; the exit status (0 is clean)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise BenchError(f"{self.name} did not stop within {STOP_TIMEOUT_SECONDS:.0f} s "
                                 "of SIGTERM") from None
        return self.process.returncode


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """``command`` run by ``taskset -c cpus`` (which execs it: the pid stays the command's)."""
    return command if cpus is None else ["taskset", "-c", cpus, *command]


def start_server(name: str, command: list[str], ready_marker: str, stderr_path: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> Server:
    """Start ``command`` and wait for the stdout line containing ``ready_marker`` and a URL."""
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env,
                                   cwd=cwd)
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    line = b""
    while ready_marker.encode() not in line:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise BenchError(f"{name} did not get ready: exit status {process.returncode}; "
                             f"see {stderr_path}: {_tail(stderr_path)}")
        readable, _, _ = select.select([process.stdout], [], [], 0.2)
        if readable:
            line = process.stdout.readline()
    url = next(word for word in line.decode().split() if word.startswith("http://"))
    return Server(name=name, process=process, url=url, stderr_path=stderr_path)


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_bytes()[-size:].decode("utf-8", "replace").strip()
    except OSError:
        return "(no stderr)"


@dataclass(frozen=True, slots=True)
class CpuSample:
    """CPU seconds used so far by a process: its main thread and all its other threads."""

    wall: float
    main_thread: float
    other_threads: float

    @property
    def total(self) -> float:
        return self.main_thread + self.other_threads


def cpu_sample(pid: int) -> CpuSample:
    """Read /proc/PID/task/*/stat: user + system time of every thread."""
    wall = time.monotonic()
    main = other = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds = _thread_cpu_seconds(task / "stat")
        except (OSError, ValueError):
            continue  # the thread ended between listing and reading
        if task.name == str(pid):
            main = seconds
        else:
            other += seconds
    return CpuSample(wall=wall, main_thread=main, other_threads=other)


def _thread_cpu_seconds(stat_path: Path) -> float:
    # The command name may hold spaces and parentheses: fields count from the last ')'.
    fields = stat_path.read_text().rpartition(")")[2].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


def cores_used(before: CpuSample, after: CpuSample) -> tuple[float, float]:
    """(main thread, other threads) CPU use between two samples, in cores (1.0 = one core)."""
    wall = max(after.wall - before.wall, 1e-9)
    return ((after.main_thread - before.main_thread) / wall,
            (after.other_threads - before.other_threads) / wall)


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmHWM in /proc/{pid}/status")


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative jiffies of some CPUs from /proc/stat: all, idle (+iowait), and steal."""

    total: int
    idle: int
    steal: int


def cpu_times(cpus: set[int] | None) -> CpuTimes:
    """The sum over ``cpus`` (None: every CPU) of /proc/stat's counters."""
    total = idle = steal = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        numbers = [int(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
        total += sum(numbers)
        idle += numbers[3] + numbers[4]
        steal += numbers[7]
    return CpuTimes(total=total, idle=idle, steal=steal)


def idle_and_steal(before: CpuTimes, after: CpuTimes) -> tuple[float, float]:
    """Fractions of the CPUs' time that were idle, and stolen by the hypervisor."""
    total = max(after.total - before.total, 1)
    return (after.idle - before.idle) / total, (after.steal - before.steal) / total


@dataclass(frozen=True, slots=True)
class DiskTimes:
    """Cumulative counters of one block device (``/sys/dev/block/MAJ:MIN/stat``): writes and
    cache flushes completed, and the milliseconds they took."""

    writes: int
    write_ms: int
    flushes: int
    flush_ms: int


def disk_times(path: Path) -> DiskTimes | None:
    """The counters of the block device that holds ``path``; None where there is no block
    device to read (tmpfs, overlay) or the kernel does not count flushes."""
    device = os.stat(path).st_dev
    stat = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}/stat")
    try:
        fields = [int(value) for value in stat.read_text().split()]
    except (OSError, ValueError):
        return None
    if len(fields) < 17:  # flush counters came with Linux 5.5
        return None
    return DiskTimes(writes=fields[4], write_ms=fields[7], flushes=fields[15],
                     flush_ms=fields[16])


def disk_latency_ms(before: DiskTimes | None,
                    after: DiskTimes | None) -> tuple[float | None, float | None]:
    """Average milliseconds per write and per cache flush between two readings (None: none
    completed, or no readings).

    The receiver answers only after its fsync, and with every connection waiting on the same
    batch its core idles meanwhile: these say how long the disk kept it waiting.
    """
    if before is None or after is None:
        return None, None
    writes, flushes = after.writes - before.writes, after.flushes - before.flushes
    return ((after.write_ms - before.write_ms) / writes if writes > 0 else None,
            (after.flush_ms - before.flush_ms) / flushes if flushes > 0 else None)


def parse_cpu_list(text: str) -> set[int]:
    """taskset's list syntax: ``0``, ``0,2``, ``0-3``."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus
