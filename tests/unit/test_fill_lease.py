"""Fill leases on SQLite: one replica by design, so every lease is granted without a wait."""

from __future__ import annotations

from db.queries import MetadataStore
from db.session import create_engine, session_factory
from proxy.cache.fill_lease import FillLeases
from proxy.oci.digest import Digest

DIGEST = Digest.parse("sha256:" + "ab" * 32)


async def test_sqlite_grants_every_lease_without_looking(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, 2)
    leases = FillLeases(MetadataStore(session_factory(engine)))

    async def stat(_digest: Digest) -> int | None:
        raise AssertionError("no stat: SQLite is one replica")

    try:
        first, second = await leases.claim(DIGEST, stat), await leases.claim(DIGEST, stat)
        assert first.lease is None and second.lease is None and leases.waits == 0
    finally:
        await leases.close()
        await engine.dispose()
