"""Single-flight: one upstream fetch per missing object, however many clients ask.

Two shapes:
- `Coalescer` shares the *result* of one coroutine among concurrent callers (manifests,
  tag revalidations: small, wanted whole).
- `Fill` is one blob being fetched into a spool file. Its readers follow the file as it grows
  (`follow`), so every waiting client streams bytes as they arrive, not after the fetch ends.
  A reader never releases the last byte until the fill has verified and committed the
  content: a client must not receive a complete, valid-looking body for bytes that fail
  their digest (DESIGN.md invariant 1).

The fetch runs in its own task, so a client that disconnects does not abort the fill.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from enum import Enum
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["Coalescer", "Fill", "FillFailedError", "FillState", "SpoolGoneError"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Coalescer(Generic[K, T]):
    """Run one coroutine per key at a time; concurrent callers await the same result."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[T]] = {}

    async def run(self, key: K, factory: Callable[[], Awaitable[T]]) -> T:
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            self._running[key] = task
            task.add_done_callback(lambda _t: self._running.pop(key, None))
        # shield: a cancelled caller must not cancel the work others are waiting for.
        return await asyncio.shield(task)

    def __len__(self) -> int:
        return len(self._running)


class FillState(Enum):
    STARTING = "starting"  # asking the upstream
    STREAMING = "streaming"  # headers known, bytes arriving
    COMMITTED = "committed"  # verified and in the store
    FAILED = "failed"


class FillFailedError(Exception):
    """The fill a reader was following failed; the reader's response must be aborted."""


class Fill:
    """One blob arriving from upstream into a spool file, followed by any number of readers."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.state = FillState.STARTING
        self.size: int | None = None  # the full size, once known
        self.spool_path: Path | None = None
        self.written = 0  # bytes durable in the spool file, readable by followers
        self.error: BaseException | None = None
        self._changed = asyncio.Event()

    # -- the fetching side --------------------------------------------------------------
    def begin(self, spool_path: Path, size: int | None) -> None:
        self.spool_path, self.size, self.state = spool_path, size, FillState.STREAMING
        self._notify()

    def advance(self, written: int) -> None:
        self.written = written
        self._notify()

    def commit(self, size: int) -> None:
        self.written, self.size, self.state = size, size, FillState.COMMITTED
        self._notify()

    def fail(self, error: BaseException) -> None:
        self.state, self.error = FillState.FAILED, error
        self._notify()

    def _notify(self) -> None:
        # Wake everyone waiting, then arm a fresh event for the next change.
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    # -- the reading side ---------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.state in (FillState.COMMITTED, FillState.FAILED)

    async def started(self) -> None:
        """Wait until the upstream answered: the size is known, or the fill failed."""
        while self.state is FillState.STARTING:
            await self._changed.wait()
        if self.state is FillState.FAILED:
            raise self._failure()

    async def finished(self) -> None:
        """Wait until the content is committed; raise if the fill failed."""
        while not self.done:
            await self._changed.wait()
        if self.state is FillState.FAILED:
            raise self._failure()

    def _failure(self) -> BaseException:
        return self.error if self.error is not None else FillFailedError(f"fill of {self.key} failed")

    async def follow(
        self, offset: int = 0, chunk_size: int = 256 * 1024, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Bytes [offset, end) as they arrive; raises `FillFailedError` if the fill fails.

        Returns early (having yielded nothing more) if the spool file was already committed
        away before it could be opened; the caller then reads the store instead.
        """
        await self.started()
        fd = self._open_spool()
        if fd is None:
            if self.state is FillState.FAILED:
                raise FillFailedError(f"fill of {self.key} failed") from self.error
            raise SpoolGoneError(self.key)
        try:
            async for chunk in self._tail(fd, offset, chunk_size, end):
                yield chunk
        finally:
            os.close(fd)

    def _open_spool(self) -> int | None:
        assert self.spool_path is not None
        try:
            return os.open(self.spool_path, os.O_RDONLY)
        except FileNotFoundError:
            return None

    async def _tail(self, fd: int, offset: int, chunk_size: int, end: int | None) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        position = offset
        while end is None or position < end:
            # Take the event before looking at the state: a change after the look sets it.
            changed = self._changed
            if self.state is FillState.FAILED:
                raise FillFailedError(f"fill of {self.key} failed") from self.error
            committed = self.state is FillState.COMMITTED
            # Hold back the final byte until the content is verified and committed.
            available = self.written if committed else self.written - 1
            if end is not None:
                available = min(available, end)
            if position < available:
                count = min(chunk_size, available - position)
                data = await loop.run_in_executor(None, os.pread, fd, count, position)
                if not data:
                    raise FillFailedError(f"spool file of {self.key} is shorter than announced")
                position += len(data)
                yield data
            elif committed:
                return
            else:
                await changed.wait()


class SpoolGoneError(Exception):
    """The spool file was committed and renamed before a late reader could open it."""


async def cancel_quietly(task: asyncio.Task[object]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
