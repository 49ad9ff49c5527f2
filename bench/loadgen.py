"""Drive load with real clients: curl for blobs, wrk (GET) and ab (HEAD) for manifests.

Debian's wrk 4.1.0 cannot do HEAD: its parser waits for the body a HEAD answer's
Content-Length announces, so every request times out. ``ab -k -i`` (HTTP/1.0 keep-alive)
takes the HEAD runs; each table row compares servers under one and the same tool.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.support.proc import tool_env

__all__ = ["Download", "LoadResult", "ab_head", "curl_download", "curl_parallel", "wrk_get"]

_WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
_CURL_FORMAT = "%{http_code} %{size_download} %{time_total}\n"


class LoadError(RuntimeError):
    pass


async def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tool_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise LoadError(f"{argv[0]} timed out after {timeout:g}s") from None
    return subprocess.CompletedProcess(list(argv), proc.returncode or 0, out.decode(), err.decode())


# -- blobs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    status: int
    size: int
    seconds: float  # curl's own time_total: connect to last byte, process start excluded


def _parse_curl(text: str) -> Download:
    status, size, seconds = text.split()
    return Download(int(status), int(size), float(seconds))


async def curl_download(url: str, timeout: float = 120.0) -> Download:
    result = await _run(["curl", "-s", "-o", "/dev/null", "-w", _CURL_FORMAT, url], timeout)
    return _parse_curl(result.stdout)


async def curl_parallel(url: str, clients: int, timeout: float = 300.0) -> tuple[float, list[Download]]:
    """``clients`` curl processes at once; returns the wall time until the last one finished."""
    start = time.perf_counter()
    results = await asyncio.gather(*(curl_download(url, timeout) for _ in range(clients)))
    return time.perf_counter() - start, list(results)


# -- manifests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors plus answers other than 2xx/3xx

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": round(self.rps, 1)}


async def wrk_get(url: str, accept: str, connections: int, seconds: float, threads: int = 2) -> LoadResult:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-s",
        str(_WRK_SCRIPT),
        "-H",
        f"Accept: {accept}",
        url,
    ]
    result = await _run(argv, seconds + 30)
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise LoadError(
            f"wrk gave no report (exit {result.returncode}): {result.stdout[-500:]} {result.stderr[-500:]}"
        )
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return LoadResult(
        tool="wrk",
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=sum(data["errors"].values()),
    )


def _ab_number(pattern: str, text: str, default: float | None = None) -> float:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        if default is not None:
            return default
        raise LoadError(f"ab output lacks {pattern!r}:\n{text[-1500:]}")
    return float(match.group(1))


def _ab_percentile(csv_path: Path, percent: int) -> float:
    with csv_path.open() as file:
        for row in csv.reader(file):
            if row and row[0] == str(percent):
                return float(row[1])
    raise LoadError(f"ab wrote no {percent}th percentile")


async def ab_head(url: str, accept: str, connections: int, seconds: float) -> LoadResult:
    """HEAD load with ApacheBench: keep-alive, ``-r`` so socket errors are counted, not fatal."""
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        csv_path = Path(tmp) / "percentiles.csv"
        argv = ["ab", "-k", "-i", "-r", "-q", "-c", str(connections), "-t", f"{seconds:g}", "-n", "100000000"]
        argv += ["-s", "5", "-H", f"Accept: {accept}", "-e", str(csv_path), url]
        result = await _run(argv, seconds + 30)
        text = result.stdout
        if result.returncode != 0 or "Complete requests" not in text:
            raise LoadError(f"ab failed (exit {result.returncode}): {text[-800:]} {result.stderr[-800:]}")
        failed = _ab_number(r"^Failed requests:\s+(\d+)", text)
        non_2xx = _ab_number(r"^Non-2xx responses:\s+(\d+)", text, default=0.0)
        return LoadResult(
            tool="ab",
            requests=int(_ab_number(r"^Complete requests:\s+(\d+)", text)),
            seconds=_ab_number(r"^Time taken for tests:\s+([\d.]+)", text),
            p50_ms=_ab_percentile(csv_path, 50),
            p99_ms=_ab_percentile(csv_path, 99),
            errors=int(failed + non_2xx),
        )
