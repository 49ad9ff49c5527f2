"""Revision 0006: the upstream credentials table comes and goes without touching the rest."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect, text

from db.migrate import check, current_revision, downgrade, upgrade
from db.session import create_engine


def test_downgrade_to_0005_and_upgrade_again(migrated_database_url: str) -> None:
    url = migrated_database_url
    _run(
        url,
        "INSERT INTO upstream_credentials (upstream, username, key_id, sealed, created_at, updated_at)"
        " VALUES ('ghcr.io', 'robot', 'k1', :sealed, '2026-12-01', '2026-12-01')",
        sealed=b"\x01" + bytes(40),
    )
    _run(
        url,
        "INSERT INTO repositories (upstream, name, created_at) VALUES ('docker.io', 'library/kept', '2026-01-01')",
    )
    downgrade(url, "0005")
    assert current_revision(url) == "0005"
    assert "upstream_credentials" not in _tables(url)
    upgrade(url)
    check(url)
    assert (
        _rows(url, "SELECT upstream FROM upstream_credentials") == []
    )  # the stored credentials went with it
    assert _rows(url, "SELECT name FROM repositories") == [("library/kept",)]


def _tables(url: str) -> set[str]:
    async def tables() -> set[str]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(tables())


def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    return _run(url, query)


def _run(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())
