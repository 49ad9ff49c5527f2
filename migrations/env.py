"""Alembic environment: runs pullgate's revisions on its own async engine.

The database URL comes from, in order: ``config.attributes["url"]`` (set by
:mod:`db.migrate`), ``alembic -x url=...``, the ``PULLGATE_DATABASE__URL`` environment
variable (the override pullgate's settings read), else pullgate's default SQLite file.

The engine is :func:`db.session.create_engine`'s, so migrations see the same SQLite pragmas
and transaction handling as the service.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url

from db import auth_models, scan_models, secret_models, vulndb_models  # noqa: F401  (register their tables on the metadata)
from db.migrate import DEFAULT_URL
from db.models import Base
from db.session import create_engine

target_metadata = Base.metadata


def database_url() -> str:
    config = context.config
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    return str(url or os.environ.get("PULLGATE_DATABASE__URL") or DEFAULT_URL)


def run_migrations_offline(url: str) -> None:
    """Print the SQL (``alembic upgrade --sql``) for review or for a DBA to run."""
    sqlite = make_url(url).get_backend_name() == "sqlite"
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=sqlite)
    with context.begin_transaction():
        if not sqlite:
            context.execute("SET lock_timeout = '5s'")
            context.execute("SET statement_timeout = '60s'")
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite:
        # A migration waits for its ACCESS EXCLUSIVE lock behind every running transaction,
        # and every query that arrives meanwhile queues behind the migration: a short
        # lock_timeout turns "the registry stalls" into "the migration fails, retry later".
        # statement_timeout bounds a rewrite that is slower than expected; a revision that
        # knowingly needs longer raises it with SET LOCAL. Plain SET (not SET LOCAL) so both
        # survive this commit and any autocommit_block() a revision opens.
        connection.exec_driver_sql("SET lock_timeout = '5s'")
        connection.exec_driver_sql("SET statement_timeout = '60s'")
        connection.commit()
    context.configure(
        connection=connection,
        # SQLite alters tables by copying them; batch mode writes those copies.
        render_as_batch=sqlite,
        # Alembic assumes SQLite DDL autocommits, which is true of the sqlite3 module's own
        # transaction handling but not of db.session's: all revisions run in one
        # BEGIN IMMEDIATE transaction, so a failed upgrade leaves the file as it was and a
        # second pullgate starting at the same time waits instead of migrating twice.
        transactional_ddl=True if sqlite else None,
        # One transaction for the whole run, not one per revision, on both backends: a run
        # killed anywhere (kill -9, a node going away) leaves the database exactly as it was,
        # never between two revisions (tests/integration/durability/test_migration_kill.py).
        transaction_per_migration=False,
        target_metadata=target_metadata,
        # What `alembic check` (and db.migrate.check) compares besides tables and columns.
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            _check_foreign_keys(connection)


async def run_migrations_online(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    if engine.dialect.name == "sqlite":
        # A batch operation drops the original table after copying it, and with foreign
        # keys on that DROP would cascade into every referencing table. The pragma cannot
        # change inside a transaction, so it is set as each connection opens (after
        # db.session's own listener turned it on); _check_foreign_keys verifies the result.
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=OFF")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        # Raised inside the transaction, so the whole upgrade rolls back.
        raise RuntimeError(f"migration left rows that violate foreign keys: {violations[:10]}")


def main() -> None:
    if context.config.config_file_name is not None:
        # Only when run as the `alembic` command: db.migrate leaves pullgate's logging alone.
        fileConfig(context.config.config_file_name)
    url = database_url()
    if context.is_offline_mode():
        run_migrations_offline(url)
    else:
        asyncio.run(run_migrations_online(url))


main()
