"""Fill leases: which replica fetches a missing blob when several miss it at once.

In-process single-flight (`proxy.cache.singleflight`) makes one fetch per blob per process.
Replicas sharing one database and one store would still each fetch it; a lease makes one of
them the filler and lets the others wait for the blob to appear in the shared store.

On PostgreSQL a lease is a session-level advisory lock keyed by the digest, held on one
dedicated connection per replica (`MetadataStore.lock_connection`). It is released when the
fill ends, and by PostgreSQL itself when the holder dies and its connection closes: a waiter
then takes it over and fetches. SQLite means one replica, so a lease is always granted.

Correctness beats dedup: whenever the lease cannot be decided (database trouble, a wait that
runs too long) the replica fetches anyway. Two fetches of one blob are harmless; committing
content that is already present is not an error (`Upload.commit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import MetadataStore
from proxy.oci.digest import Digest

__all__ = ["Claim", "FillLease", "FillLeases"]

log = logging.getLogger(__name__)

# How long a replica waits for another replica's fill before fetching itself: a few times
# the default upstream read timeout (30 s), so a holder that is alive but slow is rarely
# duplicated, while a client of the waiting replica never hangs indefinitely.
WAIT_TIMEOUT = 120.0
# Lease queries are tiny; one that takes longer means the database is in trouble.
_QUERY_TIMEOUT = 5.0
_FIRST_POLL = 0.05
_MAX_POLL = 1.0

Stat = Callable[[Digest], Awaitable[int | None]]


@dataclass
class FillLease:
    """A lease this replica holds; `release()` once the blob is committed (or the fill failed)."""

    digest: Digest
    _leases: FillLeases
    _connection: AsyncConnection

    async def release(self) -> None:
        await self._leases.release(self)


@dataclass
class Claim:
    """The outcome of `FillLeases.claim`: fetch (holding `lease`, if any), or serve `stored_size`."""

    lease: FillLease | None = None
    stored_size: int | None = None  # set: another replica committed the blob meanwhile


class FillLeases:
    def __init__(self, meta: MetadataStore, *, wait_timeout: float = WAIT_TIMEOUT) -> None:
        self._meta = meta
        self._wait_timeout = wait_timeout
        self._stack: AsyncExitStack | None = None
        self._connection: AsyncConnection | None = None
        self._sqlite = False
        # One asyncpg connection runs one query at a time; fills share it.
        self._lock = asyncio.Lock()
        self.waits = 0  # fills that waited for another replica (for tests and debugging)

    async def claim(self, digest: Digest, stat: Stat) -> Claim:
        """Take the lease for `digest`, or wait until another replica has stored the blob.

        Returns a `Claim` with the lease (the caller fetches, then releases it), with no
        lease (fetch anyway: SQLite, database trouble, or the wait timed out), or with the
        size of the blob another replica committed (the caller serves it from the store).
        """
        deadline = time.monotonic() + self._wait_timeout
        delay = _FIRST_POLL
        while True:
            taken, lease = await self._try(digest)
            if taken:
                # The holder commits before it releases: the blob may have just arrived.
                size = await stat(digest) if lease is not None else None
                if size is not None and lease is not None:
                    await lease.release()
                    return Claim(stored_size=size)
                return Claim(lease=lease)
            if delay == _FIRST_POLL:
                self.waits += 1
                log.debug("waiting for another replica's fill of %s", digest)
            size = await stat(digest)
            if size is not None:
                return Claim(stored_size=size)
            if time.monotonic() >= deadline:
                log.warning("gave up waiting for another replica's fill of %s: fetching it too", digest)
                return Claim()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_POLL)

    async def _try(self, digest: Digest) -> tuple[bool, FillLease | None]:
        """(granted, lease): granted without a lease on SQLite or when the database fails."""
        async with self._lock:
            try:
                connection = await asyncio.wait_for(self._connect(), _QUERY_TIMEOUT)
                if connection is None:
                    return True, None
                taken = await asyncio.wait_for(
                    self._meta.try_named_lock(connection, str(digest)), _QUERY_TIMEOUT
                )
            except Exception:
                log.warning("fill lease for %s undecided: fetching without it", digest, exc_info=True)
                await self._drop()
                return True, None
            return taken, FillLease(digest, self, connection) if taken else None

    async def release(self, lease: FillLease) -> None:
        async with self._lock:
            if lease._connection is not self._connection:
                return  # that connection is gone, and its locks with it
            try:
                await asyncio.wait_for(
                    self._meta.release_named_lock(lease._connection, str(lease.digest)), _QUERY_TIMEOUT
                )
            except BaseException as exc:
                # Unsure whether the unlock ran (or cancelled mid-query): closing the
                # connection is the one sure way to release, at the cost of other leases.
                await self._drop()
                if not isinstance(exc, Exception):
                    raise
                log.warning("releasing the fill lease for %s failed", lease.digest, exc_info=True)

    async def _connect(self) -> AsyncConnection | None:
        if self._connection is None and not self._sqlite:
            stack = AsyncExitStack()
            connection = await stack.enter_async_context(self._meta.lock_connection())
            if connection is None:
                self._sqlite = True
                await stack.aclose()
            else:
                self._stack, self._connection = stack, connection
        return self._connection

    async def _drop(self) -> None:
        stack, self._stack, self._connection = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
