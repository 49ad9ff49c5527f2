"""The soak's pull load: N connections pulling manifests and blobs through the gate, in its own
process so that its CPU and its GIL are not the orchestrator's.

``python -m bench.soak.load PLAN.json RESULT.json``: reads the plan (targets, mix, duration),
runs ``connections`` workers that each keep one connection busy, prints a progress line
every few seconds and writes the totals to RESULT.json. Every blob body is hashed and
compared with its digest, every manifest answer's status is checked against what the
policy says it must be: a wrong byte or an unexpected status counts as an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["LoadTotals", "main"]

_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
# Latency buckets in milliseconds: a fixed histogram keeps memory flat however long it runs.
_BUCKETS_MS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000)
_PROGRESS_EVERY = 5.0


@dataclass
class LoadTotals:
    requests: Counter[str] = field(default_factory=Counter)  # "kind status" -> count
    errors: Counter[str] = field(default_factory=Counter)  # what went wrong -> count
    histogram: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS_MS) + 1))
    manifest_answers: int = 0  # manifest responses carrying a decision (200 or 403)
    bytes_checked: int = 0

    def observe(self, kind: str, status: int, elapsed: float) -> None:
        self.requests[f"{kind} {status}"] += 1
        ms = elapsed * 1000
        index = next((i for i, bound in enumerate(_BUCKETS_MS) if ms <= bound), len(_BUCKETS_MS))
        self.histogram[index] += 1

    def percentile(self, q: float) -> float | None:
        """The bucket bound under which a share ``q`` of requests finished (an upper bound)."""
        total = sum(self.histogram)
        if total == 0:
            return None
        seen = 0
        for index, count in enumerate(self.histogram):
            seen += count
            if seen >= q * total:
                return float(_BUCKETS_MS[index]) if index < len(_BUCKETS_MS) else float("inf")
        return float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "server_errors": sum(n for k, n in self.requests.items() if k.split()[1].startswith("5")),
            "errors": dict(self.errors),
            "manifest_answers": self.manifest_answers,
            "bytes_checked": self.bytes_checked,
            "latency_buckets_ms": list(_BUCKETS_MS),
            "latency_histogram": self.histogram,
            "p50_ms_at_most": self.percentile(0.50),
            "p99_ms_at_most": self.percentile(0.99),
        }


class Load:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.base = plan["base_url"]
        # repo, tag, digest, blobs, expect_any: the statuses the policy allows for it
        self.images: list[dict[str, Any]] = plan["images"]
        self.mix: dict[str, float] = plan["mix"]
        self.deadline = time.monotonic() + plan["seconds"]
        self.totals = LoadTotals()
        self.headers = {"Authorization": plan["authorization"]} if plan.get("authorization") else {}

    async def run(self, connections: int) -> None:
        connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
        timeout = aiohttp.ClientTimeout(total=120, sock_read=60)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=self.headers
        ) as session:
            progress = asyncio.create_task(self._progress())
            try:
                await asyncio.gather(*(self._worker(session, n) for n in range(connections)))
            finally:
                progress.cancel()

    async def _worker(self, session: aiohttp.ClientSession, n: int) -> None:
        rng = random.Random(n)
        kinds, weights = zip(*self.mix.items(), strict=True)
        while time.monotonic() < self.deadline:
            kind = rng.choices(kinds, weights)[0]
            image = rng.choice(self.images)
            try:
                await self._one(session, kind, image, rng)
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.totals.errors[f"{kind}: {type(exc).__name__}"] += 1
                await asyncio.sleep(0.05)  # do not spin on a refused connection

    async def _one(
        self, session: aiohttp.ClientSession, kind: str, image: dict[str, Any], rng: random.Random
    ) -> None:
        if kind == "blob":
            await self._blob(session, image, rng.choice(image["blobs"]))
            return
        reference = image["tag"] if kind == "manifest_tag" else image["digest"]
        method = "HEAD" if kind == "manifest_head" else "GET"
        url = f"{self.base}/v2/{image['repo']}/manifests/{reference}"
        started = time.perf_counter()
        async with session.request(method, url, headers={"Accept": _ACCEPT}) as response:
            await response.read()
            self.totals.observe(kind, response.status, time.perf_counter() - started)
            if response.status in (200, 403):
                self.totals.manifest_answers += 1
            if response.status not in image["expect_any"]:
                self.totals.errors[f"{kind}: {image['repo']} answered {response.status}"] += 1

    async def _blob(self, session: aiohttp.ClientSession, image: dict[str, Any], digest: str) -> None:
        url = f"{self.base}/v2/{image['repo']}/blobs/{digest}"
        started = time.perf_counter()
        hasher = hashlib.sha256()
        async with session.get(url) as response:
            async for chunk in response.content.iter_chunked(256 * 1024):
                hasher.update(chunk)
                if response.status == 200:
                    self.totals.bytes_checked += len(chunk)
            self.totals.observe("blob", response.status, time.perf_counter() - started)
        if response.status not in image["expect_any"]:
            self.totals.errors[f"blob: {image['repo']} answered {response.status}"] += 1
        elif response.status == 200 and "sha256:" + hasher.hexdigest() != digest:
            self.totals.errors["blob: wrong bytes"] += 1

    async def _progress(self) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(_PROGRESS_EVERY)
            line = {
                "t": round(time.monotonic() - started, 1),
                "requests": sum(self.totals.requests.values()),
                "errors": sum(self.totals.errors.values()),
            }
            print(json.dumps(line), flush=True)


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text())
    load = Load(plan)
    asyncio.run(load.run(plan["connections"]))
    Path(argv[1]).write_text(json.dumps(load.totals.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
