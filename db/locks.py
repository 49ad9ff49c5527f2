"""Locks that make replicas sharing one PostgreSQL database take turns: one evicts at a
time, one fetches a blob at a time. SQLite means one replica, and every lock is granted.

A mixin of `db.queries.MetadataStore` (it needs the store's session factory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

__all__ = ["EVICTION_LOCK_KEY", "ReplicaLocks"]

# The advisory-lock key every replica's evictor contends for (PostgreSQL only). Any bigint
# works as long as nothing else in the database uses it; this one spells "pgevict".
EVICTION_LOCK_KEY = 0x7067_6576_6963_74


class ReplicaLocks:
    _sessions: async_sessionmaker[AsyncSession]

    @asynccontextmanager
    async def eviction_lock(self) -> AsyncIterator[bool]:
        """Yield whether this caller may evict now; on PostgreSQL only one replica at a time may.

        Replicas sharing one database and one store would otherwise race over the same LRU
        list, each evicting towards the budget on its own and together freeing far more.
        The lock is transaction-level, so it is released when the block ends, and also
        if the replica dies (its connection closes). SQLite means one replica: always held.
        """
        async with self._sessions() as session:
            if session.get_bind().dialect.name != "postgresql":
                yield True
                return
            async with session.begin():
                query = text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=EVICTION_LOCK_KEY)
                yield bool((await session.execute(query)).scalar_one())

    @asynccontextmanager
    async def lock_connection(self) -> AsyncIterator[AsyncConnection | None]:
        """A dedicated PostgreSQL connection for session-level advisory locks; None on SQLite.

        It comes from its own unpooled engine, never from the shared pool: a session-level
        lock outlives transactions, so a pooled connection handed back still holding one
        would leak it to whichever request checks it out next, and locks held for a whole
        fill must not use up the pool that the fill itself needs. Closing the connection
        (or the process dying) releases every lock taken on it.
        """
        async with self._sessions() as session:
            bind = session.bind
        if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
            yield None
            return
        engine = create_async_engine(bind.url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                yield connection
        finally:
            await engine.dispose()

    @staticmethod
    async def try_named_lock(connection: AsyncConnection, name: str) -> bool:
        """Take the session-level advisory lock for `name` on `connection` if it is free.

        hashtextextended maps any name to a bigint key; a collision merely makes two names
        share one lock, which costs waiting, never correctness.
        """
        query = text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))").bindparams(name=name)
        taken = bool((await connection.execute(query)).scalar_one())
        await connection.commit()  # end the implicit transaction; the session lock stays
        return taken

    @staticmethod
    async def release_named_lock(connection: AsyncConnection, name: str) -> None:
        query = text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))").bindparams(name=name)
        await connection.execute(query)
        await connection.commit()
