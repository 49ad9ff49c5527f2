"""Revision 0008: admin tokens made before it keep working after it; robots come and go."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from db.credential_hash import ScryptParams, SecretHasher
from db.migrate import check, current_revision, downgrade, upgrade
from db.session import create_engine, session_factory
from db.token_queries import TokenStore

T = TypeVar("T")
LEGACY = "pgt_" + "L" * 43  # the form tokens had before 0008


def test_a_legacy_token_survives_the_upgrade_and_the_downgrade_keeps_it(migrated_database_url: str) -> None:
    url = migrated_database_url
    downgrade(url, "0007")
    legacy_hash = hashlib.sha256(LEGACY.encode()).hexdigest()
    _run(
        url,
        lambda c: c.exec_driver_sql(
            "INSERT INTO api_tokens (id, name, role, token_hash, created_at) "
            f"VALUES ('legacy-id', 'old-ci', 'admin', '{legacy_hash}', '2026-01-01 00:00:00')"
        ),
    )
    upgrade(url)
    check(url)
    found, made = asyncio.run(_use_tokens(url))
    assert found is not None and (found.id, found.name, found.legacy) == ("legacy-id", "old-ci", True)
    assert made is not None and not made.legacy

    downgrade(url, "0007")
    assert current_revision(url) == "0007"
    assert {"robots", "pull_token_keys"}.isdisjoint(_run(url, lambda c: set(inspect(c).get_table_names())))
    # Tokens made since 0008 have no SHA-256 the older code could check: they are gone.
    rows = _run(url, lambda c: [tuple(r) for r in c.exec_driver_sql("SELECT id, token_hash FROM api_tokens")])
    assert rows == [("legacy-id", legacy_hash)]
    upgrade(url)
    check(url)


async def _use_tokens(url: str) -> tuple[object, object]:
    engine = create_engine(url, pool_size=1)
    try:
        store = TokenStore(session_factory(engine), SecretHasher(ScryptParams(log2_n=10)))
        found = await store.authenticate(LEGACY)
        _, plaintext = await store.create_token("new-ci", "admin")
        return found, await store.authenticate(plaintext)
    finally:
        await engine.dispose()


def _run(url: str, work: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())
