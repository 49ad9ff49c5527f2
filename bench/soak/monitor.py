"""Samples of the pullgate process while the soak runs: RSS, open file descriptors, threads.

"Flat" is judged on the second half of the run against the first minutes after warm-up: a
leak grows steadily, so the median of the last quarter is compared with the median of the
second quarter (the first quarter holds the warm-up: caches filling, first scans).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Monitor", "Sample"]

FLAT_TOLERANCE = 0.10  # growth allowed between the second and the last quarter of the run


@dataclass(frozen=True)
class Sample:
    t: float
    rss_mib: float
    fds: int
    threads: int


def _status_value(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def sample(pid: int, t: float) -> Sample:
    return Sample(
        t=round(t, 1),
        rss_mib=round(_status_value(pid, "VmRSS") / 1024, 1),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=_status_value(pid, "Threads"),
    )


@dataclass
class Monitor:
    pid: int
    interval: float = 5.0
    samples: list[Sample] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            self.samples.append(sample(self.pid, time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def trend(self, attribute: str) -> dict[str, Any]:
        values = [getattr(s, attribute) for s in self.samples]
        if len(values) < 8:
            return {"enough_samples": False, "values": values}
        quarter = len(values) // 4
        second = statistics.median(values[quarter : 2 * quarter])
        last = statistics.median(values[-quarter:])
        growth = (last - second) / second if second else 0.0
        return {
            "enough_samples": True,
            "min": min(values),
            "max": max(values),
            "second_quarter_median": second,
            "last_quarter_median": last,
            "growth": round(growth, 4),
            "flat": growth <= FLAT_TOLERANCE,
        }
