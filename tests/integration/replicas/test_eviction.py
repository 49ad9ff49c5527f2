"""Eviction by one replica at a time: passes wait for the shared advisory lock, and the
store they share still ends up within `cache.max_bytes`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from db.queries import MetadataStore
from db.session import create_engine, session_factory
from tests.integration.replicas.conftest import Admin, MakeReplicas
from tests.support.fixtures import PushTo
from tests.support.images import ImageFactory
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.replicas import Replica

pytestmark = pytest.mark.postgres

MAX_BYTES = 1_000_000
SKIPPED = "eviction pass skipped: another replica is evicting"


async def _pull_image(replica: Replica, tag: str) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{replica.url}/v2/library/demo/manifests/{tag}"
        async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
            assert resp.status == 200
            manifest = await resp.json(content_type=None)
        for blob in [manifest["config"], *manifest["layers"]]:
            async with session.get(f"{replica.url}/v2/library/demo/blobs/{blob['digest']}") as resp:
                assert resp.status == 200
                await resp.read()


def _bytes_on_disk(storage: Path) -> int:
    return sum(path.stat().st_size for path in (storage / "blobs").rglob("*") if path.is_file())


async def test_replicas_evict_one_at_a_time_and_keep_the_store_bounded(
    make_replicas: MakeReplicas,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    tags = [f"v{i}" for i in range(3)]
    for tag in tags:
        await push_to(upstream_registry, "library/demo", image_factory.image(600_000), tag)
    replicas = make_replicas(
        cache={"max_bytes": MAX_BYTES, "eviction_interval": "0.1s"}, log={"level": "debug"}
    )
    admin = Admin(replicas[0], replicas.admin_token)
    await admin.put_policy("default_action: allow\n")
    await asyncio.sleep(0.3)  # B's policy_refresh_interval
    # The test plays a third replica mid-pass: while it holds the lock, neither replica evicts.
    engine = create_engine(replicas.database_url, 1)
    try:
        async with MetadataStore(session_factory(engine)).eviction_lock() as held:
            assert held
            for i, tag in enumerate(tags):
                await _pull_image(replicas[i % 2], tag)
            # Wait until each replica has tried a pass (every 0.1 s; slower on a loaded machine).
            deadline = time.monotonic() + 20
            while not all(SKIPPED in replica.log_text() for replica in replicas.replicas):
                assert time.monotonic() < deadline, [r.describe() for r in replicas.replicas]
                await asyncio.sleep(0.1)
            stored = (await admin.get("/cache")).json["stored_bytes"]
            assert stored > MAX_BYTES, "nobody evicted while the lock was held elsewhere"
    finally:
        await engine.dispose()
    # Released: one replica's next pass brings the shared store within bounds.
    deadline = time.monotonic() + 20  # a safety net: a pass runs every 0.1 s
    while (stored := (await admin.get("/cache")).json["stored_bytes"]) > MAX_BYTES:
        assert time.monotonic() < deadline, f"still {stored} bytes stored"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # the file goes just after its metadata
    assert _bytes_on_disk(replicas.storage) <= MAX_BYTES
