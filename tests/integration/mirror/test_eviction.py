"""Size-bounded eviction: least recently used first, referenced and busy content kept."""

from __future__ import annotations

import asyncio

import aiohttp

from proxy.oci.digest import Digest
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry


async def _pull(pullgate: Pullgate, tag: str) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{pullgate.url}/v2/library/demo/manifests/{tag}"
        async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
            manifest = await resp.json(content_type=None)
        for blob in [manifest["config"], *manifest["layers"]]:
            async with session.get(f"{pullgate.url}/v2/library/demo/blobs/{blob['digest']}") as resp:
                assert resp.status == 200
                await resp.read()
    await pullgate.fills_done()  # stored and recorded, not only served


async def _stored(pullgate: Pullgate, digest: str) -> bool:
    return await pullgate.services.gate.mirror.blobs.store.stat(Digest.parse(digest)) is not None


async def test_least_recently_used_images_go_first(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    images = [image_factory.image(1_000_000) for _ in range(3)]
    for i, image in enumerate(images):
        await push_to(upstream_registry, "library/demo", image, f"v{i}")
    pullgate = await make_pullgate(
        [upstream_entry(upstream_registry)],
        cache={"max_bytes": 2_500_000, "eviction_interval": 3600, "access_flush_interval": 3600},
    )
    access = pullgate.services.gate.mirror.blobs._access
    for i in range(3):
        await _pull(pullgate, f"v{i}")
        await access.flush()
        await asyncio.sleep(0.01)
    await _pull(pullgate, "v0")  # v0 is used again: v1 is now the least recently used
    await access.flush()
    evictor = pullgate.services.evictor
    assert evictor is not None
    freed = await evictor.evict()
    assert freed > 0
    assert not await _stored(pullgate, images[1].layer_digests[0]), "the LRU image's layer went"
    assert await _stored(pullgate, images[0].layer_digests[0])
    assert await _stored(pullgate, images[2].layer_digests[0])
    meta = pullgate.services.gate.mirror.blobs._meta
    assert await meta.total_stored_bytes() <= 2_500_000
    # Evicted content is fetched again on demand: nothing is lost for the client.
    await _pull(pullgate, "v1")
    assert await _stored(pullgate, images[1].layer_digests[0])


async def test_blobs_being_served_are_never_evicted(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image(1_000_000)
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate(
        [upstream_entry(upstream_registry)], cache={"max_bytes": 1, "eviction_interval": 3600}
    )
    await _pull(pullgate, "1")
    blobs = pullgate.services.gate.mirror.blobs
    key = next(iter(blobs._known._items))[0]
    source = await blobs.open(key, Digest.parse(image.layer_digests[0]))
    try:
        assert pullgate.services.evictor is not None
        await pullgate.services.evictor.evict()
        assert await _stored(pullgate, image.layer_digests[0]), "in use: kept"
        assert not await _stored(pullgate, image.digest), "the manifest itself was not in use"
    finally:
        source.release()
    await pullgate.services.evictor.evict()
    assert not await _stored(pullgate, image.layer_digests[0])
