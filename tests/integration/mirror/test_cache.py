"""Cache behaviour against a real upstream, counted by a relay in front of it."""

from __future__ import annotations

import asyncio
import hashlib
import json

import aiohttp

from proxy.oci.digest import Digest
from tests.support.http import http_get as _get
from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT, skopeo_copy
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay


async def test_concurrent_cold_requests_fetch_a_blob_once(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
) -> None:
    image = image_factory.image(8 * 1024 * 1024)
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay)])
    digest = image.layer_digests[0]
    url = f"{pullgate.url}/v2/library/demo/blobs/{digest}"
    await _get(f"{pullgate.url}/v2/library/demo/manifests/1")  # blobs are served for an allowed image
    results = await asyncio.gather(*(_get(url) for _ in range(20)))
    expected = image.all_blobs[digest]
    for status, headers, body in results:
        assert status == 200 and headers["Docker-Content-Digest"] == digest
        assert hashlib.sha256(body).hexdigest() == digest.split(":")[1]
        assert len(body) == len(expected)
    assert upstream_relay.count("GET", f"/blobs/{digest}") == 1
    assert upstream_relay.log.bytes_sent("GET", f"/blobs/{digest}") == len(expected)
    # Warm: served from the store, the upstream is not asked again.
    assert (await _get(url))[2] == expected
    assert upstream_relay.count(path_suffix=f"/blobs/{digest}") == 1
    assert await pullgate.metric("pullgate_cache_hits", kind="blob") >= 1


async def test_a_client_that_disconnects_does_not_abort_the_fill(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
) -> None:
    image = image_factory.image(6 * 1024 * 1024)
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay)])
    digest = image.layer_digests[0]
    url = f"{pullgate.url}/v2/library/demo/blobs/{digest}"
    await _get(f"{pullgate.url}/v2/library/demo/manifests/1")
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        await resp.content.read(1024)  # then hang up
    for _ in range(100):
        if await pullgate.services.gate.mirror.blobs.store.stat(Digest.parse(digest)) is not None:
            break
        await asyncio.sleep(0.05)
    assert (await _get(url))[2] == image.all_blobs[digest]
    assert upstream_relay.count("GET", f"/blobs/{digest}") == 1


async def test_index_is_fetched_alone_and_children_on_demand(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
) -> None:
    index = image_factory.index()
    await push_to(upstream_registry, "library/demo", index, "multi")
    pullgate = await make_pullgate([upstream_entry(upstream_relay)])
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/manifests/multi", Accept=MANIFEST_ACCEPT)
    assert status == 200 and body == index.manifest_bytes
    manifest_gets = [r for r in upstream_relay.requests if "/manifests/" in r.path]
    assert [r.path.rsplit("/", 1)[1] for r in manifest_gets] == ["multi"]
    assert upstream_relay.count(path_suffix="") == len(manifest_gets) + upstream_relay.count(
        path_suffix="/v2/"
    )
    arm = index.child("linux/arm64")
    status, _, body = await _get(
        f"{pullgate.url}/v2/library/demo/manifests/{arm.digest}", Accept=MANIFEST_ACCEPT
    )
    assert status == 200 and body == arm.manifest_bytes
    assert not any(r.path.endswith(index.child("linux/amd64").digest) for r in upstream_relay.requests)


async def test_tag_ttl_then_head_revalidation_then_moved_tag(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
) -> None:
    first, second = image_factory.image(), image_factory.image()
    await push_to(upstream_registry, "library/demo", first, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay)], cache={"tag_ttl": "0.5s"})
    url = f"{pullgate.url}/v2/library/demo/manifests/1"
    assert (await _get(url, Accept=MANIFEST_ACCEPT))[2] == first.manifest_bytes
    asked = len(upstream_relay.requests)
    for _ in range(5):
        assert (await _get(url, Accept=MANIFEST_ACCEPT))[2] == first.manifest_bytes
    assert len(upstream_relay.requests) == asked, "within the TTL the upstream is not asked"
    await asyncio.sleep(0.6)
    assert (await _get(url, Accept=MANIFEST_ACCEPT))[2] == first.manifest_bytes
    revalidation = [r for r in upstream_relay.requests[asked:] if "/manifests/" in r.path]
    assert [r.method for r in revalidation] == ["HEAD"], "an unchanged tag costs one HEAD, no GET"
    await push_to(upstream_registry, "library/demo", second, "1")
    await asyncio.sleep(0.6)
    _status, headers, body = await _get(url, Accept=MANIFEST_ACCEPT)
    assert body == second.manifest_bytes and headers["Docker-Content-Digest"] == second.digest


async def test_upstream_down_serves_known_tags_stale_and_fails_clearly_otherwise(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image()
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate(
        [upstream_entry(upstream_registry)],
        cache={"tag_ttl": 0},
        upstream_client={"retries": 0, "connect_timeout": 1},
    )
    url = f"{pullgate.url}/v2/library/demo/manifests/1"
    assert (await _get(url, Accept=MANIFEST_ACCEPT))[0] == 200
    blob = image.layer_digests[0]
    assert (await _get(f"{pullgate.url}/v2/library/demo/blobs/{blob}"))[0] == 200
    upstream_registry.stop()
    status, headers, body = await _get(url, Accept=MANIFEST_ACCEPT)
    assert status == 200 and body == image.manifest_bytes
    assert headers["Warning"].startswith("110 ") and "Stale" in headers["Warning"]
    assert (await _get(f"{pullgate.url}/v2/library/demo/blobs/{blob}"))[0] == 200  # cached blob still served
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/manifests/2", Accept=MANIFEST_ACCEPT)
    error = json.loads(body)["errors"][0]
    assert status == 502 and error["code"] == "UPSTREAM_ERROR" and upstream_registry.host in error["message"]
    status, headers, body = await _get(f"{pullgate.url}/v2/library/demo/tags/list")
    assert status == 200 and json.loads(body)["tags"] == ["1"] and "Stale" in headers["Warning"]
    assert await pullgate.metric("pullgate_stale_tags_served") >= 1


async def test_deleted_tag_is_forgotten(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image()
    await push_to(upstream_registry, "library/demo", image, "gone")
    pullgate = await make_pullgate([upstream_entry(upstream_registry)], cache={"tag_ttl": 0})
    url = f"{pullgate.url}/v2/library/demo/manifests/gone"
    assert (await _get(url, Accept=MANIFEST_ACCEPT))[0] == 200
    async with aiohttp.ClientSession() as session:
        auth = {"Accept": MANIFEST_ACCEPT}
        async with session.delete(
            f"{upstream_registry.url}/v2/library/demo/manifests/{image.digest}", headers=auth
        ) as r:
            assert r.status == 202
    status, _, body = await _get(url, Accept=MANIFEST_ACCEPT)
    assert status == 404 and json.loads(body)["errors"][0]["code"] == "MANIFEST_UNKNOWN"


async def test_routing_by_ns_and_path_prefix(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
) -> None:
    image = image_factory.image()
    await push_to(upstream_registry, "team/app", image, "1")
    default = upstream_entry(upstream_relay, name="default.test")
    direct = upstream_entry(upstream_registry, name="second.test", default=False)
    pullgate = await make_pullgate([default, direct])
    for path, query in [
        ("/v2/team/app/manifests/1", ""),
        ("/v2/team/app/manifests/1", "?ns=second.test"),
        ("/v2/second.test/team/app/manifests/1", ""),
    ]:
        status, headers, _ = await _get(f"{pullgate.url}{path}{query}", Accept=MANIFEST_ACCEPT)
        assert status == 200 and headers["Docker-Content-Digest"] == image.digest, (path, query)
    assert (
        upstream_relay.count(path_suffix="/manifests/1") == 1
    )  # only the un-prefixed request went to the default
    status, _, body = await _get(
        f"{pullgate.url}/v2/team/app/manifests/1?ns=unknown.test", Accept=MANIFEST_ACCEPT
    )
    error = json.loads(body)["errors"][0]
    assert status == 404 and error["code"] == "NAME_UNKNOWN" and "unknown.test" in error["message"]
    assert upstream_relay.count(path_suffix="/manifests/1") == 1


async def test_skopeo_pulls_through_pullgate_like_directly(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    tmp_path,
) -> None:
    images = {
        "small": image_factory.image(),
        "big": image_factory.image(30 * 1024 * 1024, layers=3),
        "multi": image_factory.index(),
        "list": image_factory.index(docker=True),
    }
    for tag, image in images.items():
        await push_to(upstream_registry, "library/demo", image, tag)
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    for tag in images:
        direct, proxied = tmp_path / f"direct-{tag}", tmp_path / f"proxied-{tag}"
        await skopeo_copy(f"docker://{upstream_registry.host}/library/demo:{tag}", f"dir:{direct}", ["--all"])
        await skopeo_copy(f"docker://{pullgate.host}/library/demo:{tag}", f"dir:{proxied}", ["--all"])
        assert sorted(p.name for p in direct.iterdir()) == sorted(p.name for p in proxied.iterdir())
        for item in direct.iterdir():
            assert (proxied / item.name).read_bytes() == item.read_bytes(), (tag, item.name)
