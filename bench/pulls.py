"""Whole-image pulls: ``skopeo copy`` timed, and herds of ``bench.herd_client`` processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.content import BenchImage
from tests.support.proc import tool_env
from tests.support.push import skopeo_copy

__all__ = ["Herd", "HerdResult", "herd_pull", "skopeo_pull"]

_REPO_ROOT = Path(__file__).resolve().parent.parent
_CLIENT_TIMEOUT = 900.0


async def skopeo_pull(registry_host: str, image: BenchImage, out_dir: Path) -> float:
    """Seconds for ``skopeo copy docker://HOST/REPO:TAG dir:OUT`` (skopeo verifies digests)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    start = time.perf_counter()
    await skopeo_copy(f"docker://{registry_host}/{image.reference}", f"dir:{out_dir}", timeout=600)
    seconds = time.perf_counter() - start
    shutil.rmtree(out_dir, ignore_errors=True)
    return seconds


@dataclass(frozen=True)
class HerdResult:
    clients: int
    seconds: float  # from the common start to the last client's last byte
    correct: int  # clients whose every blob matched its digest and size
    bytes: int
    errors: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "seconds": self.seconds,
            "correct": self.correct,
            "bytes": self.bytes,
            "errors": list(self.errors[:10]),
        }


class Herd:
    """``clients`` pullers in a few processes, started once; ``pull()`` sets them all off at once.

    Use as ``async with Herd(url, image, n) as herd: cold = await herd.pull(); warm = ...``.
    """

    def __init__(self, base_url: str, image: BenchImage, clients: int) -> None:
        self.base_url, self.image, self.clients = base_url, image, clients
        self._procs: list[asyncio.subprocess.Process] = []

    def _shares(self) -> list[int]:
        """Clients per process: as many processes as the machine has cores, times two."""
        processes = min(self.clients, 2 * (os.cpu_count() or 1))
        return [
            self.clients // processes + (1 if i < self.clients % processes else 0) for i in range(processes)
        ]

    async def __aenter__(self) -> Herd:
        try:
            self._procs = list(await asyncio.gather(*(self._spawn(n) for n in self._shares())))
            await asyncio.gather(*(self._ready(proc) for proc in self._procs))
        except BaseException:
            await self._kill()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in self._procs:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
        try:
            await asyncio.wait_for(asyncio.gather(*(proc.wait() for proc in self._procs)), 30)
        finally:
            await self._kill()

    async def _spawn(self, clients: int) -> asyncio.subprocess.Process:
        argv = ["-m", "bench.herd_client", self.base_url, self.image.repo, self.image.tag, str(clients)]
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            cwd=_REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=tool_env(),
            limit=1024 * 1024,
        )

    @staticmethod
    async def _ready(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            err = await proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"herd client did not start: {line!r} {err[-1500:].decode(errors='replace')}")

    async def _kill(self) -> None:
        for proc in self._procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    @staticmethod
    async def _reports(proc: asyncio.subprocess.Process) -> list[dict[str, Any]]:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), _CLIENT_TIMEOUT)
        if not line:
            err = await proc.stderr.read() if proc.stderr else b""
            return [
                {"end": 0.0, "bytes": 0, "errors": [f"clients died: {err.decode(errors='replace')[-500:]}"]}
            ]
        reports: list[dict[str, Any]] = json.loads(line)
        return reports

    async def pull(self) -> HerdResult:
        start = time.monotonic()
        for proc in self._procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        await asyncio.gather(*(proc.stdin.drain() for proc in self._procs if proc.stdin is not None))
        per_process = await asyncio.gather(*(self._reports(proc) for proc in self._procs))
        reports = [report for batch in per_process for report in batch]
        errors = tuple(error for report in reports for error in report["errors"])
        return HerdResult(
            clients=self.clients,
            seconds=max(report["end"] for report in reports) - start,
            correct=sum(1 for report in reports if not report["errors"]),
            bytes=sum(report["bytes"] for report in reports),
            errors=errors,
        )


async def herd_pull(base_url: str, image: BenchImage, clients: int) -> HerdResult:
    """``clients`` processes pull ``image`` from ``base_url`` once, starting at the same moment."""
    async with Herd(base_url, image, clients) as herd:
        return await herd.pull()
