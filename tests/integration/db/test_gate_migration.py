"""Revision 0002: the gate's tables come and go without touching the mirror's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from db.migrate import check, current_revision, downgrade, upgrade
from db.session import create_engine

GATE_TABLES = {"rules", "policy_state", "decisions", "quarantine", "audit_events", "api_tokens"}

T = TypeVar("T")


def test_downgrade_to_0001_and_upgrade_again(migrated_database_url: str) -> None:
    url = migrated_database_url
    _execute(
        url,
        "INSERT INTO repositories (upstream, name, created_at) VALUES ('docker.io', 'library/kept', '2026-01-01')",
    )
    downgrade(url, "0001")
    assert current_revision(url) == "0001"
    assert _tables(url).isdisjoint(GATE_TABLES)
    upgrade(url)
    assert _tables(url) >= GATE_TABLES
    check(url)
    assert _rows(url, "SELECT id, version, default_action FROM policy_state") == [(1, 1, "deny")]
    assert _rows(url, "SELECT name FROM repositories") == [("library/kept",)]


def _tables(url: str) -> set[str]:
    return _run(url, lambda connection: set(inspect(connection).get_table_names()))


def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    return _run(url, lambda connection: [tuple(row) for row in connection.exec_driver_sql(query)])


def _execute(url: str, statement: str) -> None:
    _run(url, lambda connection: connection.exec_driver_sql(statement))


def _run(url: str, work: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())
