"""An engine on a migrated database, on each backend in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.session import create_engine


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    # More connections than SQLite has writers, so that the tests see real contention.
    engine = create_engine(migrated_database_url, pool_size=10)
    try:
        yield engine
    finally:
        await engine.dispose()
