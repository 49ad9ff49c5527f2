"""The bytes of a fill kept in memory once its spool file could not be written (disk full).

When storage fails mid-fill, the fill goes on streaming from the upstream to the clients
already following it, hashed as the bytes pass, and stores nothing. Followers that were
reading the spool file go on reading what reached it (they hold it open), then read on from
here. The window holds only what some follower has yet to read, and at most `cap` bytes:
when the slowest follower is that far behind, the fill waits for it (the upstream connection
is then throttled by TCP), and a follower that makes no progress for `lag_timeout` is cut
off, so that one stalled client cannot hold the others. A blob is never buffered whole.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["FillWindow"]

DEFAULT_CAP = 16 * 1024 * 1024
LAG_TIMEOUT = 30.0  # as long as the upstream read timeout: a follower stuck longer is dead


class FillWindow:
    def __init__(self, start: int, *, cap: int = DEFAULT_CAP, lag_timeout: float = LAG_TIMEOUT) -> None:
        self.start = start  # where the bytes in memory begin: the spool file held [0, start)
        self._base = start  # offset of the first byte still held
        self._chunks: deque[bytes] = deque()
        self._held = 0
        self._cap = cap
        self._lag_timeout = lag_timeout

    @property
    def held(self) -> int:
        return self._held

    @property
    def end(self) -> int:
        return self._base + self._held

    def append(self, data: bytes) -> None:
        if data:
            self._chunks.append(data)
            self._held += len(data)

    def read(self, position: int, count: int) -> bytes | None:
        """Up to `count` bytes at `position` (which must be below `end`); None once dropped."""
        if position < self._base:
            return None
        offset = self._base
        for chunk in self._chunks:
            if position < offset + len(chunk):
                start = position - offset
                return chunk[start : start + count]
            offset += len(chunk)
        raise ValueError(f"position {position} is past the window's end {self.end}")

    def trim(self, positions: list[int]) -> None:
        """Drop what every follower has read (everything, when nobody follows any more)."""
        lowest = min(positions, default=self.end)
        while self._chunks and self._base + len(self._chunks[0]) <= lowest:
            self._held -= len(self._chunks[0])
            self._base += len(self._chunks.popleft())

    @property
    def full(self) -> bool:
        return self._held >= self._cap

    async def wait_for_room(self, progressed: asyncio.Event) -> bool:
        """Wait for a follower to read on; False when none did within the lag timeout."""
        try:
            async with asyncio.timeout(self._lag_timeout):
                await progressed.wait()
        except TimeoutError:
            return False
        return True
