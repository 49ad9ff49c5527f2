"""The async engine and sessions, tuned per backend.

SQLite (the default) is one file with one writer at a time. The sqlite3 module begins a
transaction lazily and DEFERRED, so a transaction that reads and then writes asks for the
write lock only at its first write; if another connection committed in between, SQLite
answers "database is locked" at once, without waiting for ``busy_timeout``. Here every
transaction begins ``BEGIN IMMEDIATE`` instead: it takes the write lock up front, waits for
it (busy_timeout), and cannot fail halfway. Readers that never write can use
:func:`read_only`, whose transactions begin DEFERRED and, in WAL mode, never wait.

PostgreSQL runs through asyncpg with a sized pool whose connections are pinged on checkout,
so a restarted server costs one failed ping, not one failed request. With a ``timeout``,
connecting, waiting for a pooled connection and every statement are bounded by it: a server
that stops answering (a partition, a stuck failover) fails requests instead of hanging them,
and the pool recovers by itself once it answers again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

__all__ = ["create_engine", "ping", "read_only", "session_factory"]

# busy_timeout comes first: switching the file to WAL needs a lock that a concurrently
# opening connection may hold. NORMAL is the documented safe level for WAL (a power loss
# may drop the last commits, never corrupt the file). SQLite leaves foreign keys off
# unless asked, and the schema's ON DELETE CASCADE depends on them.
_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)

_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

# An execution option read by the SQLite "begin" hook below.
_READ_ONLY = "pullgate_read_only"


def create_engine(url: str, pool_size: int, timeout: float | None = None) -> AsyncEngine:
    """Create the engine for a ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URL.

    ``timeout`` (PostgreSQL) bounds connecting, pool checkout and each statement; None (the
    migrations, the CLI) leaves statements unbounded.
    """
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return _sqlite_engine(parsed, pool_size)
    if parsed.drivername == "postgresql+asyncpg":
        if timeout is None:
            return create_async_engine(parsed, pool_size=pool_size, pool_pre_ping=True)
        return create_async_engine(
            parsed,
            pool_size=pool_size,
            pool_pre_ping=True,
            pool_timeout=timeout,
            connect_args={"timeout": timeout, "command_timeout": timeout},
        )
    raise ValueError(f"unsupported database driver {parsed.drivername!r}: use {' or '.join(_DRIVERS)}")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no implicit reload, which async forbids)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, for transactions that only read.

    On SQLite they begin DEFERRED, so they see the last commit without queueing for the
    write lock; a write in one may fail with "database is locked". On PostgreSQL they
    are READ ONLY transactions, so such a write fails there too.
    """
    return engine.execution_options(postgresql_readonly=True, **{_READ_ONLY: True})


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a trivial query (and, for SQLite, can be written)."""
    # Read-only, so that a readiness probe does not wait behind a long write on SQLite.
    async with read_only(engine).connect() as connection:
        await connection.execute(text("SELECT 1"))
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        _check_sqlite_files(Path(engine.url.database))


def _check_sqlite_files(database: Path) -> None:
    """SQLite keeps answering reads through open files after its files became read-only (a
    read-only remount, an immutable flag, changed permissions), and only its writes fail:
    every new decision then fails closed. Readiness says so instead of reporting "ok"."""
    wal = database.with_name(database.name + "-wal")
    for path in (database, wal, database.parent):
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise PermissionError(f"SQLite database file {path} is not readable and writable")


def _sqlite_engine(url: URL, pool_size: int) -> AsyncEngine:
    if not url.database or url.database == ":memory:":
        # One shared connection (StaticPool): there is no file and no pool to size.
        engine = create_async_engine(url)
    else:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=pool_size)
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 module (SQLAlchemy's documented recipe): it would
    # begin DEFERRED, and not at all before DDL; _on_sqlite_begin emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    mode = "DEFERRED" if connection.get_execution_options().get(_READ_ONLY) else "IMMEDIATE"
    connection.exec_driver_sql(f"BEGIN {mode}")
