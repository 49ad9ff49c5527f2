"""Databases for tests: a SQLite file per test, or a fresh PostgreSQL database per test.

``database_url`` runs a test once per backend. The PostgreSQL run is marked ``postgres``;
where no server runs, deselect it with ``-m "not postgres"``. An unreachable server fails
the test instead of skipping it, so CI cannot pass without having tested PostgreSQL.

Each PostgreSQL test gets its own database (created from the server's ``test`` database,
dropped WITH (FORCE) afterwards), so tests stay isolated when they run in parallel. The
server is ``PULLGATE_TEST_POSTGRES_DSN`` (a URL naming the database to connect to for CREATE
DATABASE); by default 127.0.0.1:5432/test as the current OS user, else as ``postgres``.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from db.migrate import upgrade

__all__ = ["database_url", "migrated_database_url", "postgresql_url", "sqlite_url"]

ADMIN_URL_VARIABLE = "PULLGATE_TEST_POSTGRES_DSN"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'pullgate.db'}"


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    name = f"pullgate_test_{uuid.uuid4().hex}"
    admin = asyncio.run(_create_database(name))
    try:
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: an engine a failed test did not dispose must not keep the database alive.
        asyncio.run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend in turn."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    """``database_url`` with the schema upgraded to the newest revision."""
    upgrade(database_url)
    return database_url


def _admin_candidates() -> list[URL]:
    configured = os.environ.get(ADMIN_URL_VARIABLE)
    if configured:
        return [make_url(configured)]
    users = dict.fromkeys([getpass.getuser(), "postgres"])
    return [
        URL.create("postgresql", username=user, host="127.0.0.1", port=5432, database="test")
        for user in users
    ]


async def _create_database(name: str) -> URL:
    """Create the database as the first candidate role that exists; return that admin URL."""
    *others, last = _admin_candidates()
    for admin in others:
        try:
            await _execute(admin, f'CREATE DATABASE "{name}"')
        except asyncpg.InvalidAuthorizationSpecificationError:
            continue  # no role for this user; try the next
        return admin
    await _execute(last, f'CREATE DATABASE "{name}"')  # its error, if any, is the one to report
    return last


async def _execute(admin: URL, statement: str) -> None:
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
