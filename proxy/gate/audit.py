"""The audit writer: every decision recorded, in batches, nothing lost that a client was told.

Two durabilities (`gate.audit_durability`):

- ``ack`` (the default): a request waits until its record is committed before the client
  hears the decision, so a crash (kill -9, OOM, power loss on PostgreSQL) can lose only
  records of answers nobody received. Group commit keeps the cost down: the writer starts a
  batch as soon as it is idle, and every record queued while that batch commits goes out
  together in the next one — batches grow with concurrency, and a record waits at most for
  the batch ahead of it and its own. A record that cannot be written within
  `gate.audit_ack_timeout` fails its request with 503 (fail closed); it stays queued and is
  written once the database is back.
- ``async``: requests queue their record and go on; batches leave when full or after
  `audit_flush_interval`. Faster, but a crash loses what was queued.

Either way a full queue makes requests wait (back-pressure) rather than drop a record, a
failed write keeps its batch and retries with backoff, and stopping drains the queue first
(DESIGN.md invariant 5: a graceful shutdown flushes the audit queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from db.audit_queries import NewAuditEvent
from proxy.oci.errors import ErrorCode, RegistryError

__all__ = ["AuditWriter", "Durability"]

log = logging.getLogger(__name__)

_RETRY_MAX = 30.0

Durability = Literal["ack", "async"]
Sink = Callable[[Sequence[NewAuditEvent]], Awaitable[None]]
_Queued = tuple[NewAuditEvent, "asyncio.Future[None] | None"]


class AuditWriter:
    def __init__(
        self,
        sink: Sink,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval: float,
        durability: Durability = "ack",
        ack_timeout: float = 10.0,
    ) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue(queue_size)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._ack = durability == "ack"
        self._ack_timeout = ack_timeout
        self._batch: list[_Queued] = []
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.batches = 0

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
        if self.batches:
            log.info("audit log: %d records written in %d batches", self.written, self.batches)
        for entry, done in [*self._batch, *self._take(self._queue.qsize())]:
            # Last resort: the log line carries the whole record, so it can be re-imported.
            log.error("audit record not written to the database: %s", entry)
            if done is not None and not done.done():
                done.set_exception(_unavailable())
        self._batch = []

    async def record(self, entry: NewAuditEvent) -> None:
        """Queue the record; with ``ack``, return only once it is committed.

        Raises `RegistryError` (UNAVAILABLE) when, with ``ack``, it could not be committed
        within the timeout: the caller must not answer as if it had been.
        """
        if not self._ack:
            await self._queue.put((entry, None))  # waits when full: back-pressure, never loss
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Once the request gave up waiting, nobody reads the outcome: mark it read.
        done.add_done_callback(lambda future: future.cancelled() or future.exception())
        queued = False
        try:
            async with asyncio.timeout(self._ack_timeout):
                await self._queue.put((entry, done))
                queued = True
                # shield: a request cancelled while waiting leaves its record to be written.
                await asyncio.shield(done)
        except TimeoutError:
            if not queued:  # the queue stayed full: keep the record in the log at least
                log.error("audit record not written to the database: %s", entry)
            log.error("audit record not committed within %.1fs; refusing the request", self._ack_timeout)
            raise _unavailable() from None

    async def run(self) -> None:
        """Write batches until cancelled (`close` then writes what is left)."""
        while True:
            self._batch.append(await self._queue.get())
            if self._ack:
                await self._join()
            else:
                await self._gather()
            await self._write()

    async def _join(self) -> None:
        """Group commit: the batch is what queued while the last one was being written.

        No waiting for company beyond one turn of the event loop (for the requests woken by
        the last commit): measured, a wait as long as the last commit made batches larger
        but throughput lower, on SQLite and on PostgreSQL alike.
        """
        await asyncio.sleep(0)
        self._batch += self._take(self._batch_size - len(self._batch))

    async def _gather(self) -> None:
        # Until the batch is full or the interval is over, whichever comes first: under load
        # batches leave at once, when quiet a record waits at most the interval.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_interval
        while len(self._batch) < self._batch_size and (left := deadline - loop.time()) > 0:
            self._batch += self._take(self._batch_size - len(self._batch))
            if len(self._batch) < self._batch_size:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that races with the get, and the writer would never stop.
                try:
                    async with asyncio.timeout(left):
                        queued = await self._queue.get()
                except TimeoutError:
                    break
                self._batch.append(queued)

    async def drain(self) -> None:
        """Write the batch in hand and everything queued (also used on shutdown)."""
        while self._batch or not self._queue.empty():
            self._batch += self._take(self._batch_size - len(self._batch))
            await self._write()

    def _take(self, limit: int) -> list[_Queued]:
        batch: list[_Queued] = []
        while len(batch) < limit and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _write(self) -> None:
        # The batch stays in self._batch until written: a cancellation mid-write loses nothing.
        delay = 0.1
        while True:
            try:
                await self._sink([entry for entry, _ in self._batch])
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing %d audit records failed; retrying in %.1fs", len(self._batch), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
        self.written += len(self._batch)
        self.batches += 1
        for _, done in self._batch:
            if done is not None and not done.done():
                done.set_result(None)
        self._batch = []

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._batch)


def _unavailable() -> RegistryError:
    return RegistryError(
        ErrorCode.UNAVAILABLE,
        "pullgate could not write its audit log, and answers no pull it cannot audit; retry later",
        headers={"Retry-After": "10"},
    )
