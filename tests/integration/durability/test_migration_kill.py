"""kill -9 during a migration: every revision of one run shares one transaction, so a killed
run leaves the database exactly as it was, and the next `pullgate migrate` completes it.

The database starts at revision 0001 holding real metadata (repositories, manifests, tags,
stored objects); the run to head applies the other revisions. The migration is killed at
many points inside its transaction: on PostgreSQL once it holds 1, then more and more new
relations (the locks its DDL takes, so each kill lands further into the run), on SQLite
after growing delays once its write transaction is open; until a run outpaces its kill.
After every kill the revision, the schema and the data are what they were before it
started (or, for the last run, exactly head); then `pullgate migrate` finishes the job and
the schema is `alembic check`-clean. The runs are forked from this process, where the code
is already imported, so that a kill costs milliseconds rather than a Python start-up; the
last one is the real `pullgate migrate` command.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import inspect, make_url, text
from sqlalchemy.engine import Connection

from db.migrate import check, current_revision, head_revision, upgrade
from db.models import ManifestBlob, ManifestRecord, Repository, StoredObject, TagRecord
from db.session import create_engine, session_factory

START = "0001"
REPOSITORIES = 200
MAX_RUNS = 12
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_SEEDED = ("repositories", "manifests", "manifest_blobs", "tags", "stored_objects")
ROOT = Path(__file__).resolve().parents[3]


def test_sigkill_anywhere_in_a_migration_leaves_the_database_as_it_was(database_url: str) -> None:
    upgrade(database_url, START)
    asyncio.run(_seed(database_url))
    before = asyncio.run(_snapshot(database_url))
    killer = _pg_killer if make_url(database_url).get_backend_name() == "postgresql" else _sqlite_killer

    kills = 0
    for attempt in range(MAX_RUNS):
        completed = killer(database_url, attempt)
        revision = current_revision(database_url)
        if completed or revision == head_revision():
            break
        kills += 1
        assert revision == START, f"a killed run left revision {revision}"
        assert asyncio.run(_snapshot(database_url)) == before, f"kill {kills} changed schema or data"
    assert kills >= 3, "the kills landed inside the migration's transaction"

    result = subprocess.run(
        [sys.executable, "-m", "proxy", "migrate"],
        env={**os.environ, "PULLGATE_DATABASE__URL": database_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert current_revision(database_url) == head_revision()
    check(database_url)  # raises unless the schema is exactly what db.models describes
    after = asyncio.run(_snapshot(database_url))
    assert after["data"] == before["data"], "the migrated database kept every row"


# -- killing at points inside the migration's transaction ------------------------------------


def _pg_killer(url: str, attempt: int) -> bool:
    """Kill once the migration holds 1, 2, 4, 8... new relations; True if it finished first."""
    return asyncio.run(_pg_kill(url, threshold=2**attempt))


async def _pg_kill(url: str, threshold: int) -> bool:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    watcher = await asyncpg.connect(dsn)
    try:
        child = _fork_migration(url)
        while child.is_alive():
            held = await watcher.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
                " AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'"
            )
            if held >= threshold:
                return _kill(child)
            await asyncio.sleep(0.001)
        return _finished(child)
    finally:
        await watcher.close()


def _sqlite_killer(url: str, attempt: int) -> bool:
    """Kill `delay` after the migration's write transaction opened; True if it finished first."""
    delay = 0.0 if attempt == 0 else 0.002 * 2 ** (attempt - 1)
    path = make_url(url).database
    assert path is not None
    child = _fork_migration(url)
    while child.is_alive():
        if _writer_active(path):
            time.sleep(delay)
            return _kill(child)
        time.sleep(0.0005)
    return _finished(child)


def _writer_active(path: str) -> bool:
    """True while another connection holds the write lock (the migration's transaction)."""
    if not Path(path).exists():
        return False
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        probe.close()


def _fork_migration(url: str) -> multiprocessing.process.BaseProcess:
    child = multiprocessing.get_context("fork").Process(target=upgrade, args=(url,), daemon=True)
    child.start()
    return child


def _kill(child: multiprocessing.process.BaseProcess) -> bool:
    if child.pid is not None and child.is_alive():
        os.kill(child.pid, 9)
    child.join(30)
    return child.exitcode == 0  # it may have committed and exited just before the signal


def _finished(child: multiprocessing.process.BaseProcess) -> bool:
    child.join(30)
    assert child.exitcode == 0, f"an unkilled migration failed (exit {child.exitcode})"
    return True


# -- the database before and after ---------------------------------------------------------------


async def _seed(url: str) -> None:
    """Cached metadata as pullgate keeps it (these tables are 0001's), in one transaction."""
    engine = create_engine(url, pool_size=1)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        async with session_factory(engine).begin() as session:
            for n in range(REPOSITORIES):
                blob, digest = f"sha256:{n:064x}", f"sha256:{n + 10**6:064x}"
                repository = Repository(upstream="registry.example", name=f"team/app{n}", created_at=at)
                manifest = ManifestRecord(
                    digest=digest,
                    media_type=OCI_MANIFEST,
                    size=500,
                    fetched_at=at,
                    blobs=[ManifestBlob(position=0, blob_digest=blob, media_type=OCI_LAYER, size=1000 + n)],
                )
                session.add(repository)
                await session.flush()
                manifest.repository_id = repository.id
                session.add_all(
                    [
                        manifest,
                        TagRecord(repository_id=repository.id, name="1", digest=digest, validated_at=at),
                        StoredObject(digest=blob, size=1000 + n, kind="blob", created_at=at, last_access=at),
                        StoredObject(digest=digest, size=500, kind="manifest", created_at=at, last_access=at),
                    ]
                )
    finally:
        await engine.dispose()


async def _snapshot(url: str) -> dict[str, Any]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_describe)
    finally:
        await engine.dispose()


def _describe(connection: Connection) -> dict[str, Any]:
    schema = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(schema.get_table_names()):
        tables[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in schema.get_columns(table)],
            sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in schema.get_indexes(table)
            ),
            schema.get_pk_constraint(table)["constrained_columns"],
            sorted(str(fk["referred_table"]) for fk in schema.get_foreign_keys(table)),
        )
    data = {
        table: sorted(
            tuple(str(v) for v in row) for row in connection.execute(text(f"SELECT * FROM {table}"))
        )
        for table in _SEEDED
    }
    return {"tables": tables, "data": data}
