"""Single-flight: one upstream fetch per missing object, however many clients ask.

Two shapes:
- `Coalescer` shares the *result* of one coroutine among concurrent callers (manifests,
  tag revalidations: small, wanted whole).
- `Fill` is one blob being fetched into a spool file. Its readers follow the file as it grows
  (`follow`), so every waiting client streams bytes as they arrive, not after the fetch ends.
  A reader never releases the last byte until the fill has verified and committed the
  content: a client must not receive a complete, valid-looking body for bytes that fail
  their digest (DESIGN.md invariant 1).

When storage fails mid-fill (disk full), the fill goes on in memory for the readers it has
(`spill`, `proxy.cache.fill_window`), and still releases the last byte only once verified.

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

from proxy.cache.fill_window import DEFAULT_CAP, LAG_TIMEOUT, FillWindow

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
    PASSED = "passed"  # verified and streamed to its followers, but not stored (storage failed)
    FAILED = "failed"


class FillFailedError(Exception):
    """The fill a reader was following failed; the reader's response must be aborted."""


class Fill:
    """One blob arriving from upstream into a spool file, followed by any number of readers.

    The fill holds the spool file open for its whole life, and every reader reads its own
    duplicate of that descriptor: what reached the file stays readable after the file was
    renamed into the store, and after it was removed because storage failed (`spill`).
    """

    def __init__(self, key: str, *, window_cap: int = DEFAULT_CAP, lag_timeout: float = LAG_TIMEOUT) -> None:
        self.key = key
        self._window_cap, self._lag_timeout = window_cap, lag_timeout
        self.state = FillState.STARTING
        self.size: int | None = None  # the full size, once known
        self.written = 0  # bytes readers may read: in the spool file, or in the window
        self.error: BaseException | None = None
        # Every byte is in and matches the digest: readers may take the last one, even while
        # the content is still being made durable and published (and even if that fails).
        self.verified = False
        self.window: FillWindow | None = None  # set once storage failed (see fill_window)
        self._fd: int | None = None
        self._changed = asyncio.Event()  # the fill moved on
        self._progressed = asyncio.Event()  # a reader moved on
        self._positions: dict[object, int] = {}  # reader -> offset it reads next
        self._cut: set[object] = set()  # readers that fell too far behind the window

    # -- the fetching side --------------------------------------------------------------
    def begin(self, spool_path: Path | None, size: int | None) -> None:
        """Bytes are about to arrive: into `spool_path`, or (None) only into the window."""
        self.size, self.state = size, FillState.STREAMING
        if spool_path is None:
            self.window = self._new_window(0)
        else:
            with contextlib.suppress(FileNotFoundError):
                self._fd = os.open(spool_path, os.O_RDONLY | os.O_CLOEXEC)
        self._notify()

    def advance(self, written: int) -> None:
        self.written = written
        self._notify()

    def spill(self, in_file: int, unwritten: bytes) -> None:
        """The spool file holds [0, in_file) and takes no more: later bytes go to the window."""
        self.window = self._new_window(in_file)
        self.written = in_file
        self.feed(unwritten)

    def feed(self, data: bytes) -> None:
        """Bytes for the window (after `spill`); call `room()` before each."""
        assert self.window is not None
        self.window.append(data)
        self.written += len(data)
        self._notify()

    async def room(self) -> None:
        """Wait until the window may take more, cutting off readers that stopped reading."""
        window = self.window
        assert window is not None
        window.trim(list(self._positions.values()))
        while window.full:
            progressed = self._progressed
            if not await window.wait_for_room(progressed):
                self._cut_slowest()
            window.trim(list(self._positions.values()))

    def verify(self, size: int) -> None:
        """All `size` bytes are readable and verified; the commit may still be under way."""
        self.written, self.size, self.verified = size, size, True
        self._notify()

    def commit(self, size: int) -> None:
        self.written, self.size, self.state = size, size, FillState.COMMITTED
        self.verified = True
        self._notify()

    def passed(self) -> None:
        """Every byte was verified and streamed, none stored: readers may finish."""
        self.size, self.state, self.verified = self.written, FillState.PASSED, True
        self._notify()

    def fail(self, error: BaseException) -> None:
        self.state, self.error = FillState.FAILED, error
        self._notify()

    def close(self) -> None:
        """The fill is over: readers that started keep their descriptors, later ones read the store."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _new_window(self, start: int) -> FillWindow:
        return FillWindow(start, cap=self._window_cap, lag_timeout=self._lag_timeout)

    @property
    def readers(self) -> int:
        return len(self._positions)

    def _notify(self) -> None:
        # Wake everyone waiting, then arm a fresh event for the next change.
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _cut_slowest(self) -> None:
        slowest = min(self._positions.values())
        for reader, position in list(self._positions.items()):
            if position == slowest:
                self._cut.add(reader)
                del self._positions[reader]
        self._notify()

    # -- the reading side ---------------------------------------------------------------
    def reserve(self) -> object:
        """A place for a reader that will follow from byte 0, taken when its request joins:
        bytes held only in memory are kept for it until it reads them or `release`s it."""
        reader = object()
        self._positions[reader] = 0
        return reader

    def release(self, reader: object) -> None:
        self._positions.pop(reader, None)
        self._cut.discard(reader)
        self._reader_moved()  # a fill waiting for room may have some now

    @property
    def done(self) -> bool:
        return self.state in (FillState.COMMITTED, FillState.PASSED, FillState.FAILED)

    async def started(self) -> None:
        """Wait until the upstream answered: the size is known, or the fill failed."""
        while self.state is FillState.STARTING:
            await self._changed.wait()
        if self.state is FillState.FAILED and not self.verified:
            raise self._failure()

    async def finished(self) -> None:
        """Wait until the content is verified (committed, or passed); raise if the fill failed."""
        while not self.done:
            await self._changed.wait()
        if self.state is FillState.FAILED:
            raise self._failure()

    def _failure(self) -> BaseException:
        return self.error if self.error is not None else FillFailedError(f"fill of {self.key} failed")

    async def follow(
        self, offset: int = 0, chunk_size: int = 256 * 1024, end: int | None = None, reader: object = None
    ) -> AsyncIterator[bytes]:
        """Bytes [offset, end) as they arrive; raises `FillFailedError` if the fill fails.

        `reader` is the place `reserve()` gave, if any. Raises `SpoolGoneError` (having
        yielded nothing) if the fill ended and let its spool file go before this reader
        began; the caller then reads the store instead.
        """
        reader = reader if reader is not None else object()
        try:
            await self.started()
            if reader in self._cut:
                raise FillFailedError(f"reader of {self.key} fell too far behind the upstream")
            fd = self._reader_fd()
            self._positions[reader] = offset
            try:
                async for chunk in self._tail(reader, fd, offset, chunk_size, end):
                    yield chunk
            finally:
                if fd is not None:
                    os.close(fd)
        finally:
            self.release(reader)

    def _reader_fd(self) -> int | None:
        if self._fd is not None:
            return os.dup(self._fd)
        if self.window is not None and self.window.start == 0:
            return None  # a fill that never had a spool file: everything is in the window
        if self.state is FillState.FAILED:
            raise FillFailedError(f"fill of {self.key} failed") from self.error
        raise SpoolGoneError(self.key)

    async def _tail(
        self, reader: object, fd: int | None, offset: int, chunk_size: int, end: int | None
    ) -> AsyncIterator[bytes]:
        position = offset
        while end is None or position < end:
            # Take the event before looking at the state: a change after the look sets it.
            changed = self._changed
            verified = self.verified
            # Once verified, what failed is only storing it: this reader has its bytes.
            if self.state is FillState.FAILED and not verified:
                raise FillFailedError(f"fill of {self.key} failed") from self.error
            if reader in self._cut:
                raise FillFailedError(f"reader of {self.key} fell too far behind the upstream")
            # Hold back the final byte until the content is verified.
            available = self.written if verified else self.written - 1
            if end is not None:
                available = min(available, end)
            if position < available:
                data = await self._read(fd, position, min(chunk_size, available - position))
                position += len(data)
                self._positions[reader] = position
                self._reader_moved()
                yield data
            elif verified:
                return
            else:
                await changed.wait()

    async def _read(self, fd: int | None, position: int, count: int) -> bytes:
        window = self.window
        if window is None or position < window.start:
            if window is not None:
                count = min(count, window.start - position)
            assert fd is not None
            data = await asyncio.get_running_loop().run_in_executor(None, os.pread, fd, count, position)
            if not data:
                raise FillFailedError(f"spool file of {self.key} is shorter than announced")
            return data
        held = window.read(position, count)
        if held is None:
            raise FillFailedError(f"reader of {self.key} fell too far behind the upstream")
        return held

    def _reader_moved(self) -> None:
        event, self._progressed = self._progressed, asyncio.Event()
        event.set()


class SpoolGoneError(Exception):
    """The fill ended (its content is in the store) before a late reader could begin."""


async def cancel_quietly(task: asyncio.Task[object]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
