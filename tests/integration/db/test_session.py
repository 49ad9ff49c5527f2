"""The engine factory: SQLite pragmas on every connection, pings, read-only transactions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import upgrade
from db.models import Repository
from db.session import create_engine, ping, read_only, session_factory

PRAGMAS = {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 10000}


async def test_sqlite_pragmas_are_set_on_every_connection(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, pool_size=3)
    try:
        # Three connections open at once, so three distinct DB-API connections report.
        assert await asyncio.gather(*(_pragmas(engine) for _ in range(3))) == [PRAGMAS] * 3
    finally:
        await engine.dispose()


async def test_sqlite_creates_the_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", pool_size=1)
    try:
        await ping(engine)
    finally:
        await engine.dispose()
    assert path.is_file()


async def test_ping_answers(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        await ping(engine)
    finally:
        await engine.dispose()


async def test_ping_raises_when_the_server_is_unreachable() -> None:
    engine = create_engine("postgresql+asyncpg://pullgate@127.0.0.1:1/pullgate", pool_size=1)
    try:
        with pytest.raises(OSError):
            await ping(engine)
    finally:
        await engine.dispose()


def test_other_drivers_are_refused() -> None:
    with pytest.raises(ValueError, match="sqlite\\+aiosqlite or postgresql\\+asyncpg"):
        create_engine("sqlite:///pullgate.db", pool_size=1)


async def test_objects_stay_readable_after_commit(engine: AsyncEngine) -> None:
    async with session_factory(engine).begin() as session:
        repository = _repository("library/alpine")
        session.add(repository)
    assert repository.name == "library/alpine"  # no reload, which would fail outside a session


async def test_sqlite_readers_do_not_wait_for_a_writer(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    engine = create_engine(sqlite_url, pool_size=2)
    sessions, readers = session_factory(engine), session_factory(read_only(engine))
    try:
        async with sessions.begin() as writer:
            writer.add(_repository("library/busybox"))
            await writer.flush()  # holds the write lock until the block ends
            async with readers() as reader:
                # A BEGIN IMMEDIATE here would wait out busy_timeout (10 s).
                names = await asyncio.wait_for(reader.scalars(select(Repository.name)), timeout=2)
                assert names.all() == []
    finally:
        await engine.dispose()


async def _pragmas(engine: AsyncEngine) -> dict[str, object]:
    async with engine.connect() as connection:
        values = {name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar() for name in PRAGMAS}
        await asyncio.sleep(0.05)  # keep this connection checked out while the others open
        return values


def _repository(name: str) -> Repository:
    return Repository(upstream="docker.io", name=name, created_at=datetime.now(UTC))
