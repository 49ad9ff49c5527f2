"""The mirror's metadata on each supported database: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import asyncio

import aiohttp

from db.queries import MetadataStore
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry


async def test_pull_through_records_and_evicts_on_each_database(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
) -> None:
    images = {f"t{i}": image_factory.image(200_000, layers=2) for i in range(6)}
    index = image_factory.index()
    for tag, image in images.items():
        await push_to(upstream_registry, "library/demo", image, tag)
    await push_to(upstream_registry, "library/demo", index, "multi")
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])  # on each database (app_database)

    async def pull(tag: str) -> None:
        async with aiohttp.ClientSession() as session:
            url = f"{pullgate.url}/v2/library/demo/manifests/{tag}"
            async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
                assert resp.status == 200, await resp.text()
                manifest = await resp.json(content_type=None)
            for blob in [manifest.get("config"), *manifest.get("layers", [])]:
                if blob:
                    async with session.get(f"{pullgate.url}/v2/library/demo/blobs/{blob['digest']}") as resp:
                        assert resp.status == 200
                        await resp.read()

    # Concurrent pulls write metadata concurrently: no lock errors, no lost rows.
    await asyncio.gather(*(pull(tag) for tag in [*images, "multi"]), *(pull(tag) for tag in images))
    await pullgate.fills_done()
    meta: MetadataStore = pullgate.services.gate.mirror.blobs._meta
    expected = sum(len(i.manifest_bytes) + sum(len(b) for b in i.all_blobs.values()) for i in images.values())
    expected += len(index.manifest_bytes)
    assert await meta.total_stored_bytes() == expected
    repository = await meta.repository_id(upstream_registry.host, "library/demo", create=False)
    assert repository is not None
    assert sorted(await meta.list_tags(repository, None, None)) == sorted([*images, "multi"])
    assert await meta.list_tags(repository, 2, "t0") == ["t1", "t2"]
    evictor = pullgate.services.evictor
    assert evictor is not None
    assert await evictor.evict(budget=expected // 2) >= expected // 2
    assert await meta.total_stored_bytes() <= expected // 2
    await pull("t0")  # evicted or not, it still pulls
