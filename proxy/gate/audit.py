"""The audit writer: every decision recorded, in batches, nothing lost that a client was told.

Two durabilities (`gate.audit_durability`):

- ``ack`` (the default): a request waits until its record is committed before the client
  hears the decision, so a crash (kill -9, OOM, power loss on PostgreSQL) can lose only
  records of answers nobody received. Group commit keeps the cost down: the writer starts a
  batch as soon as it is idle, and every record queued while that batch commits goes out
  together in the next one — batches grow with concurrency, and a record waits at most for
  the batch ahead of it and its own. A record that cannot be written within
  `gate.audit_ack_timeout` fails its request with 503 (fail closed); it stays queued and is
  written once the database is back. Only answers that serve wait that long: a refusal is
  safe to give unaudited for a moment, so it waits at most the timeout and is then answered
  anyway, its record still queued. While the writer knows the database is failing (its
  last write failed), nobody waits: a refusal is answered at once and a pull that would be
  served is refused (`AuditUnavailableError`), so an outage costs clients no timeouts.
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

__all__ = ["AuditUnavailableError", "AuditWriter", "Durability"]

log = logging.getLogger(__name__)

_RETRY_MAX = 30.0

Durability = Literal["ack", "async"]
Sink = Callable[[Sequence[NewAuditEvent]], Awaitable[None]]
_Queued = tuple[NewAuditEvent, "asyncio.Future[None] | None"]


class AuditUnavailableError(Exception):
    """With ``ack``, the record of an answer that would serve could not be committed.

    `failing` says whether the database is known to be failing (the request was refused at
    once) or the commit merely took longer than the timeout.
    """

    def __init__(self, failing: bool) -> None:
        self.failing = failing
        super().__init__("the audit record could not be committed")


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
        self.failing = False  # the last write failed: the database is away
        self._failed = asyncio.Event()  # set while `failing`: wakes the requests waiting on a commit

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
                done.set_exception(AuditUnavailableError(failing=True))
        self._batch = []

    async def record(self, entry: NewAuditEvent, *, serves: bool = True) -> None:
        """Queue the record; with ``ack``, return only once it is committed.

        With ``ack``, raises `AuditUnavailableError` when the record of an answer that
        `serves` could not be committed within the timeout (or the database is known to be
        failing): the caller must not serve as if it had been. A refusal's record is waited
        for too, but a refusal is answered whatever happens to it.
        """
        if not self._ack:
            await self._queue.put((entry, None))  # waits when full: back-pressure, never loss
            return
        if self.failing:
            await self._enqueue(entry, None)
            if serves:
                raise AuditUnavailableError(failing=True)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Once the request gave up waiting, nobody reads the outcome: mark it read.
        done.add_done_callback(lambda future: future.cancelled() or future.exception())
        try:
            async with asyncio.timeout(self._ack_timeout):
                if not await self._enqueue(entry, done):
                    raise TimeoutError
                await self._committed(done)
        except TimeoutError:
            if serves:
                log.error("audit record not committed within %.1fs; refusing the request", self._ack_timeout)
                raise AuditUnavailableError(failing=self.failing) from None
            log.warning(
                "audit record of a refusal not committed within %.1fs; answering it", self._ack_timeout
            )
        except AuditUnavailableError:  # the database failed, or the writer stopped without it
            if serves:
                raise

    async def _committed(self, done: asyncio.Future[None]) -> None:
        """Wait for the record's commit; raise `AuditUnavailableError` as soon as a write fails."""
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            # shield: a request cancelled while waiting leaves its record to be written.
            await asyncio.wait((asyncio.shield(done), failed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
        if done.done():
            done.result()  # raises if the writer stopped without writing it
        else:
            raise AuditUnavailableError(failing=True)

    async def _enqueue(self, entry: NewAuditEvent, done: asyncio.Future[None] | None) -> bool:
        """Queue a record, waiting up to the ack timeout for room; False (logged) when full."""
        try:
            async with asyncio.timeout(self._ack_timeout):
                await self._queue.put((entry, done))
            return True
        except TimeoutError:
            # The queue stayed full: keep the record in the log at least.
            log.error("audit record not written to the database: %s", entry)
            return False

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
                self.failing = False
                self._failed.clear()
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failing = True
                self._failed.set()
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
