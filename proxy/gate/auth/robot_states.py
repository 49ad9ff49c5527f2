"""What this replica knows of every robot's standing: revoked, expiry, secret version.

Pull tokens are verified without the database (one HMAC), and cached Basic verifications
skip the slow hash; both still must stop working when a robot is revoked or its secret
rotated, on whichever replica that happened. So each check consults this snapshot of the
robots table, reloaded (one query, by whichever request first finds it stale; the others
wait for that one) at most every `interval` seconds: a revocation anywhere is honoured
here within that interval, at the cost of one small query per interval while pulls come
in. A robot missing from the snapshot (made since the last load) is read by id at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from db.robot_queries import RobotRow
from proxy.gate.auth.scopes import ScopeSet

__all__ = ["RobotState", "RobotStates"]


@dataclass(frozen=True, slots=True)
class RobotState:
    id: str
    name: str
    secret_version: int
    revoked_at: datetime | None
    expires_at: datetime | None
    scopes: ScopeSet  # what the robot may be granted (a token may grant less)

    @classmethod
    def of(cls, row: RobotRow) -> RobotState:
        scopes = ScopeSet.parse(row.scopes)
        return cls(row.id, row.name, row.secret_version, row.revoked_at, row.expires_at, scopes)


class RobotStates:
    def __init__(
        self,
        load_all: Callable[[], Awaitable[Sequence[RobotRow]]],
        load_one: Callable[[str], Awaitable[RobotRow | None]],
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_all = load_all
        self._load_one = load_one
        self._interval = interval
        self._clock = clock
        self._states: dict[str, RobotState] = {}
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self, robot_id: str) -> RobotState | None:
        if self._clock() - self._loaded_at >= self._interval:
            await self._reload()
        state = self._states.get(robot_id)
        if state is None:
            row = await self._load_one(robot_id)
            if row is None:
                return None
            state = self._states[robot_id] = RobotState.of(row)
        return state

    def changed(self, row: RobotRow) -> None:
        """This replica changed a robot: know it now, not at the next reload."""
        self._states[row.id] = RobotState.of(row)

    async def _reload(self) -> None:
        async with self._lock:
            if self._clock() - self._loaded_at < self._interval:
                return  # another request reloaded while this one waited
            rows = await self._load_all()
            self._states = {row.id: RobotState.of(row) for row in rows}
            self._loaded_at = self._clock()
