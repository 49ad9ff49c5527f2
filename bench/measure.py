"""Numbers: summaries of repeated measurements, machine noise, and a process's memory."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CpuAccount",
    "CpuTimes",
    "RssSampler",
    "Stats",
    "calibrate",
    "cpu_times",
    "load_average",
    "own_ticks",
    "reset_peak_rss",
    "rss_kib",
    "wait_for_quiet",
]


@dataclass(frozen=True)
class Stats:
    """min / quartiles / max of a series; ``median`` is what the targets compare."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            raise ValueError("no measurements")
        return cls(tuple(values))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def quartiles(self) -> tuple[float, float]:
        if self.n < 2:
            return self.values[0], self.values[0]
        q1, _, q3 = statistics.quantiles(self.values, n=4, method="inclusive")
        return q1, q3

    @property
    def iqr_percent(self) -> float:
        """Interquartile range relative to the median: the spread the table reports."""
        q1, q3 = self.quartiles()
        return 100.0 * (q3 - q1) / self.median if self.median else 0.0

    def as_dict(self) -> dict[str, Any]:
        q1, q3 = self.quartiles()
        return {
            "n": self.n,
            "min": self.min,
            "q1": q1,
            "median": self.median,
            "q3": q3,
            "max": self.max,
            "iqr_percent": round(self.iqr_percent, 2),
            "values": list(self.values),
        }


def _spin(iterations: int) -> int:
    """A fixed CPU-bound loop (pure Python: interpreter, caches, frequency, steal all show)."""
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def calibrate(runs: int, iterations: int = 1_500_000) -> Stats:
    """Milliseconds per run of the fixed loop; its spread is the machine's noise."""
    _spin(iterations // 10)  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        _spin(iterations)
        samples.append((time.perf_counter() - start) * 1000.0)
    return Stats.of(samples)


@dataclass(frozen=True)
class CpuTimes:
    """The machine-wide ``cpu`` line of /proc/stat, in clock ticks."""

    busy: int
    idle: int
    steal: int

    @property
    def total(self) -> int:
        return self.busy + self.idle + self.steal

    def since(self, earlier: CpuTimes) -> dict[str, float]:
        """Share of CPU time busy and stolen (by the hypervisor) between two readings."""
        total = max(1, self.total - earlier.total)
        return {
            "busy_percent": round(100.0 * (self.busy - earlier.busy) / total, 2),
            "steal_percent": round(100.0 * (self.steal - earlier.steal) / total, 2),
        }


def cpu_times() -> CpuTimes:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return CpuTimes(busy=user + nice + system + irq + softirq, idle=idle + iowait, steal=steal)


def _status_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def rss_kib(pid: int) -> int | None:
    return _status_kib(pid, "VmRSS")


@dataclass
class RssSampler:
    """Samples VmRSS of ``pid`` every ``interval`` s in a thread; VmHWM is read at the end."""

    pid: int
    interval: float = 0.02
    samples: list[int] = field(default_factory=list)
    hwm_kib: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.hwm_kib = _status_kib(self.pid, "VmHWM")

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_kib(self.pid)
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    @property
    def peak_sampled_kib(self) -> int:
        return max(self.samples, default=0)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's VmHWM of ``pid`` to its current RSS (``clear_refs`` 5); needs root."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _proc_ticks(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime) of a process, from /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), sum(int(v) for v in fields[11:15])


def own_ticks() -> int:
    """CPU ticks of this process and every descendant, live or already reaped."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _proc_ticks(int(entry.name))) is not None:
            table[int(entry.name)] = info
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0))[1]
        todo.extend(children.get(pid, []))
    return total


@dataclass(frozen=True)
class CpuAccount:
    """Machine CPU and this benchmark's own share at one moment; differences give foreign load."""

    machine: CpuTimes
    own: int

    @classmethod
    def now(cls) -> CpuAccount:
        return cls(cpu_times(), own_ticks())

    def foreign_percent(self, earlier: CpuAccount) -> float:
        """Busy time of processes outside this benchmark, in % of the machine (approximate:
        kernel work for loopback traffic is counted as busy but not always as ours)."""
        total = max(1, self.machine.total - earlier.machine.total)
        busy = self.machine.busy - earlier.machine.busy
        return round(max(0.0, 100.0 * (busy - (self.own - earlier.own)) / total), 1)


def wait_for_quiet(max_seconds: float, threshold_percent: float = 15.0, window: float = 2.0) -> float:
    """Wait (at most ``max_seconds``) for a ``window`` with machine-wide busy below the threshold.

    Other people's test runs on a small machine distort everything; returns the busy % of the
    last window seen.
    """
    deadline = time.monotonic() + max_seconds
    while True:
        before = cpu_times()
        time.sleep(window)
        busy = cpu_times().since(before)["busy_percent"]
        if busy < threshold_percent or time.monotonic() >= deadline:
            return busy
