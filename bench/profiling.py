"""Where pullgate spends its time under a load: py-spy samples, summarised by function.

``py-spy record --native --threads --format raw`` attaches to the running pullgate, the load
runs, py-spy is stopped with SIGINT and writes collapsed stacks (one line per distinct
stack: ``frame;frame;... count``; flamegraph.pl, inferno or speedscope open them).

py-spy counts a thread blocked on a lock or in ``epoll_wait`` as active, so native frames
are sampled and stacks that end in a wait are set aside as idle: the shares reported are
of the samples where a thread was really working (Python or C: socket writes, file
reads, SQLite). Native sampling pauses the process for each sample, which also stretches
how long a lock is held (so the SQLite lock-wait seconds are inflated): profiles explain the
timed numbers, they are not timed numbers themselves. The kernel's per-thread CPU
times (/proc/PID/task) are read around the load as the ground truth of how much CPU the
event-loop thread and the other threads used.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProfileSummary", "profile_during", "summarise"]

_RATE = 100
_TOP = 15
_LINE_RE = re.compile(r":\d+\)$")
_ADDRESS_RE = re.compile(r"^0x[0-9a-f]+ ")
# A stack holding one of these frames is waiting or sleeping, not working.
_IDLE_FRAMES = (
    "PyThread_acquire_lock_timed",
    "epoll_pwait",
    "epoll_wait",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "_queue_SimpleQueue_get",
    "sem_clockwait",
    "sem_timedwait",
    "clock_nanosleep",
)
# SQLite's busy handler: a connection sleeping until another one releases the write lock.
_SQLITE_BUSY = "sqlite3InvokeBusyHandler"


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    samples: int
    idle_percent: float  # samples of threads waiting, left out of the shares below
    sqlite_busy_seconds: float  # thread-seconds spent sleeping for SQLite's write lock
    seconds: float
    cpu: dict[str, float]  # kernel CPU time: main (event loop) thread and other threads, in cores
    top_self: list[tuple[str, float]]  # leaf frames (C or Python), % of working samples
    top_python: list[tuple[str, float]]  # Python functions on the stack, % of working samples
    raw_path: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "samples": self.samples,
            "idle_percent": self.idle_percent,
            "sqlite_busy_thread_seconds": self.sqlite_busy_seconds,
            "seconds": round(self.seconds, 2),
            "cpu_cores": self.cpu,
            "top_self_percent": self.top_self,
            "top_python_inclusive_percent": self.top_python,
            "raw": self.raw_path,
        }


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (to/module.py)``; addresses -> ``?? (lib)``."""
    frame = _ADDRESS_RE.sub("?? ", _LINE_RE.sub(")", frame.strip()))
    if " (" in frame:
        func, path = frame.split(" (", 1)
        short = "/".join(path.rstrip(")").split("/")[-2:])
        return f"{func} ({short})"
    return frame


def _shares(counter: Counter[str], total: int) -> list[tuple[str, float]]:
    return [(name, round(100.0 * count / total, 1)) for name, count in counter.most_common(_TOP)]


def _stacks(raw_path: Path) -> list[tuple[list[str], int]]:
    """(frames without the thread label, sample count) per line of py-spy's raw output."""
    stacks = []
    for line in raw_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        if frames:
            stacks.append((frames, int(count_text)))
    return stacks


def summarise(name: str, raw_path: Path, seconds: float, cpu: dict[str, float]) -> ProfileSummary:
    own: Counter[str] = Counter()
    python: Counter[str] = Counter()
    working = idle = busy = 0
    for frames, count in _stacks(raw_path):
        if any(_SQLITE_BUSY in frame for frame in frames):
            busy += count
        if any(marker in frame for frame in frames for marker in _IDLE_FRAMES):
            idle += count
            continue
        working += count
        own[_frame_name(frames[-1])] += count
        for frame in {_frame_name(f) for f in frames if ".py" in f}:
            python[frame] += count
    total = max(working, 1)
    idle_percent = round(100.0 * idle / max(working + idle, 1), 1)
    return ProfileSummary(
        name,
        working + idle,
        idle_percent,
        round(busy / _RATE, 2),
        seconds,
        cpu,
        _shares(own, total),
        _shares(python, total),
        str(raw_path),
    )


def _thread_ticks(pid: int) -> dict[int, int]:
    """utime+stime per thread of ``pid``, in clock ticks."""
    ticks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        ticks[int(task.name)] = int(fields[11]) + int(fields[12])
    return ticks


def _cpu_cores(pid: int, before: dict[int, int], after: dict[int, int], seconds: float) -> dict[str, float]:
    hz = os.sysconf("SC_CLK_TCK")
    used = {tid: after[tid] - before.get(tid, 0) for tid in after}
    main = used.get(pid, 0) / hz / seconds
    others = sum(v for tid, v in used.items() if tid != pid) / hz / seconds
    return {"main_thread": round(main, 2), "other_threads": round(others, 2), "threads": len(after)}


async def profile_during(
    py_spy: str, pid: int, name: str, out_dir: Path, load: Callable[[], Awaitable[Any]]
) -> ProfileSummary:
    """Sample ``pid`` while ``load()`` runs; returns the summary (raw stacks kept in ``out_dir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_path = out_dir / f"profile-{name}.txt"
    argv = [py_spy, "record", "--pid", str(pid), "--rate", str(_RATE), "--native", "--threads"]
    argv += ["--format", "raw", "--output", str(raw_path)]
    spy = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await asyncio.sleep(1.0)  # attach before the load starts
        ticks, start = _thread_ticks(pid), time.perf_counter()
        await load()
        seconds = time.perf_counter() - start
        cpu = _cpu_cores(pid, ticks, _thread_ticks(pid), seconds)
    finally:
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=60)
    if not raw_path.exists():
        raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')[-800:]}")
    return summarise(name, raw_path, seconds, cpu)
