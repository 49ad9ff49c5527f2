"""The eviction lock: on PostgreSQL one holder at a time; on SQLite (one replica) always held."""

from __future__ import annotations

import asyncio

import pytest

from db.migrate import upgrade
from db.queries import MetadataStore
from db.session import create_engine, session_factory


@pytest.mark.postgres
async def test_two_concurrent_holders_exactly_one_gets_it(postgresql_url: str) -> None:
    await asyncio.to_thread(upgrade, postgresql_url)  # it runs its own event loop
    engines = [create_engine(postgresql_url, 2) for _ in range(2)]  # two replicas, two pools
    stores = [MetadataStore(session_factory(engine)) for engine in engines]
    both_inside = asyncio.Barrier(2)
    try:

        async def hold(meta: MetadataStore) -> bool:
            async with meta.eviction_lock() as held:
                await both_inside.wait()  # neither lets go before the other has tried
                return held

        results = await asyncio.wait_for(asyncio.gather(*(hold(m) for m in stores)), 10)
        assert sorted(results) == [False, True]
        # Transaction-level: the block's end released it for the next pass.
        async with stores[1].eviction_lock() as held:
            assert held
    finally:
        for engine in engines:
            await engine.dispose()


async def test_sqlite_always_holds_it(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, 2)
    meta = MetadataStore(session_factory(engine))
    try:
        async with meta.eviction_lock() as first, meta.eviction_lock() as second:
            assert first and second
    finally:
        await engine.dispose()
