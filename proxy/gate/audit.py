"""The audit writer: every decision recorded, off the hot path, nothing lost.

Requests put records on a bounded queue and go on; a background task writes them in batches.
A full queue makes the request wait (back-pressure) rather than drop a record. A failed write
keeps its batch and retries with backoff. Stopping drains the queue first (DESIGN.md
invariant 5: a graceful shutdown flushes the audit queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from db.audit_queries import NewAuditEvent

__all__ = ["AuditWriter"]

log = logging.getLogger(__name__)

_RETRY_MAX = 30.0


Sink = Callable[[Sequence[NewAuditEvent]], Awaitable[None]]


class AuditWriter:
    def __init__(self, sink: Sink, *, queue_size: int, batch_size: int, flush_interval: float) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[NewAuditEvent] = asyncio.Queue(queue_size)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._batch: list[NewAuditEvent] = []
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="audit-writer")

    async def close(self, drain_seconds: float) -> None:
        """Stop, writing everything queued; what cannot be written in time is logged whole."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with asyncio.timeout(drain_seconds):
                await self.drain()
        except TimeoutError:
            log.error("the audit log could not be written within %.0fs of stopping", drain_seconds)
        for entry in [*self._batch, *self._take(self._queue.qsize())]:
            # Last resort: the log line carries the whole record, so it can be re-imported.
            log.error("audit record not written to the database: %s", entry)
        self._batch = []

    async def record(self, entry: NewAuditEvent) -> None:
        await self._queue.put(entry)  # waits when full: back-pressure, never loss

    async def run(self) -> None:
        """Write batches until cancelled (`close` then writes what is left)."""
        loop = asyncio.get_running_loop()
        while True:
            self._batch.append(await self._queue.get())
            # Gather until the batch is full or the interval is over, whichever comes first:
            # under load batches leave at once, when quiet a record waits at most the interval.
            deadline = loop.time() + self._flush_interval
            while len(self._batch) < self._batch_size and (left := deadline - loop.time()) > 0:
                self._batch += self._take(self._batch_size - len(self._batch))
                if len(self._batch) < self._batch_size:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancellation that races with the get, and the writer would never stop.
                    try:
                        async with asyncio.timeout(left):
                            entry = await self._queue.get()
                    except TimeoutError:
                        break
                    self._batch.append(entry)
            await self._write()

    async def drain(self) -> None:
        """Write the batch in hand and everything queued (also used on shutdown)."""
        while self._batch or not self._queue.empty():
            self._batch += self._take(self._batch_size - len(self._batch))
            await self._write()

    def _take(self, limit: int) -> list[NewAuditEvent]:
        batch: list[NewAuditEvent] = []
        while len(batch) < limit and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _write(self) -> None:
        # The batch stays in self._batch until written: a cancellation mid-write loses nothing.
        delay = 0.1
        while True:
            try:
                await self._sink(self._batch)
                self.written += len(self._batch)
                self._batch = []
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing %d audit records failed; retrying in %.1fs", len(self._batch), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._batch)
