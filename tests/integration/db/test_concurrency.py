"""Many concurrent writers, each in its own session, all commit and none loses an update.

On SQLite this is what BEGIN IMMEDIATE is for: with the sqlite3 module's deferred
transactions, a writer that read before another committed fails with "database is locked"
at once, whatever busy_timeout says.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.models import Repository, StoredObject, TagRecord
from db.session import session_factory

WRITERS = 50
COUNTER = "sha256:" + "0" * 64
DIGEST = "sha256:" + "a" * 64


async def test_concurrent_writers_all_commit(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        now = datetime.now(UTC)
        session.add(StoredObject(digest=COUNTER, size=0, kind="blob", created_at=now, last_access=now))
    async with asyncio.TaskGroup() as writers:
        for number in range(WRITERS):
            writers.create_task(_write(sessions, number))
    async with sessions() as session:
        counter = await session.get_one(StoredObject, COUNTER)
        assert counter.size == WRITERS  # every read-modify-write counted: none lost
        assert await session.scalar(select(func.count()).select_from(Repository)) == WRITERS
        assert await session.scalar(select(func.count()).select_from(TagRecord)) == WRITERS


async def _write(sessions: async_sessionmaker[AsyncSession], number: int) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        # Read first, then write: the pattern deferred transactions fail on.
        query = select(StoredObject).where(StoredObject.digest == COUNTER).with_for_update()
        counter = (await session.scalars(query)).one()
        await asyncio.sleep(0)  # let the other writers into their transactions
        repository = Repository(upstream="docker.io", name=f"library/app{number}", created_at=now)
        session.add(repository)
        await session.flush()
        session.add(TagRecord(repository_id=repository.id, name="latest", digest=DIGEST, validated_at=now))
        counter.size += 1
        counter.last_access = now
