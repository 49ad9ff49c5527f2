"""What changes while the soak's pulls run: admin writes, re-decisions, rescans, database updates.

- every second a temporary rule is created and the previous one deleted (admin writes that
  move the policy version, so every cached decision is made again);
- every 15 s the ``library/flip`` image is denied or allowed again (a decision that really
  changes under load);
- every 10 s one image is rescanned on request;
- every ``vulndb_every`` seconds a vulnerability-database update is imported with the real
  CLI, which makes the server re-match every stored inventory (the rescan worker).

Each kind of operation is counted with its failures; none of them may fail.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bench.soak.world import SoakWorld, import_vulndb

__all__ = ["Churn"]


class Churn:
    def __init__(self, world: SoakWorld, vulndb_every: float) -> None:
        self._world = world
        self._vulndb_every = vulndb_every
        self.done: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.failures: list[str] = []  # the first few, for the report
        self._rng = random.Random(11)

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(headers=self._world.auth) as session:
            loops = [
                self._every(1.0, "rule write", lambda: self._rule_cycle(session), stop),
                self._every(15.0, "flip", lambda: self._flip(session), stop),
                self._every(10.0, "rescan request", lambda: self._rescan(session), stop),
                self._every(self._vulndb_every, "vulndb update", self._vulndb, stop),
            ]
            await asyncio.gather(*loops)

    async def _every(
        self, seconds: float, what: str, action: Callable[[], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), seconds)
                return
            except TimeoutError:
                pass
            try:
                await action()
                self.done[what] += 1
            except Exception as exc:
                self.failed[what] += 1
                if len(self.failures) < 20:
                    self.failures.append(f"{what}: {exc}")

    async def _expect(self, response: aiohttp.ClientResponse, *statuses: int) -> None:
        if response.status not in statuses:
            raise RuntimeError(
                f"{response.method} {response.url.path}: {response.status} {await response.text()}"
            )

    async def _rule_cycle(self, session: aiohttp.ClientSession) -> None:
        n = self.done["rule write"]
        rule = {
            "id": f"soak-tmp-{n}",
            "match": {"repository": f"library/unused-{n}"},
            "action": "deny",
            "description": "soak churn",
        }
        async with session.post(f"{self._world.admin}/rules", json=rule) as response:
            await self._expect(response, 201)
        if n > 0:
            async with session.delete(f"{self._world.admin}/rules/soak-tmp-{n - 1}") as response:
                await self._expect(response, 200, 204)

    async def _flip(self, session: aiohttp.ClientSession) -> None:
        url = f"{self._world.admin}/rules/soak-flip-deny"
        if self.done["flip"] % 2 == 0:
            rule = {"id": "soak-flip-deny", "match": {"repository": "library/flip"}, "action": "deny"}
            async with session.post(f"{self._world.admin}/rules", json=rule) as response:
                await self._expect(response, 201)
        else:
            async with session.delete(url) as response:
                await self._expect(response, 200, 204)

    async def _rescan(self, session: aiohttp.ClientSession) -> None:
        allowed = [image for image in self._world.images if image.expect == (200,)]
        image = self._rng.choice(allowed)
        url = f"{self._world.admin}/scans/{image.image.digest}/rescan"
        async with session.post(url, json={"image": image.repo}) as response:
            await self._expect(response, 200, 202)

    async def _vulndb(self) -> None:
        batch = self.done["vulndb update"] + 1
        world: SoakWorld = self._world
        await asyncio.to_thread(import_vulndb, Path(world.work), world.config_path, batch, 100)
