"""Limits on what an upstream or a client's query can make pullgate hold, each answered clearly.

Manifests with too many descriptors and an endless upstream error body come from the faulty
registry; tags-list paging goes through the relay, to prove what was asked upstream.
"""

from __future__ import annotations

import asyncio
import json

from tests.support.faulty import Fault, FaultyRegistry
from tests.support.http import http_get
from tests.support.images import OCI_INDEX, OCI_MANIFEST, Image, ImageFactory, Index, canonical_json
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry
from tests.support.relay import Relay


def _stored(pullgate: Pullgate) -> list[str]:
    return sorted(p.name for p in (pullgate.store_root / "blobs").rglob("*") if p.is_file())


def _manifest(layers: int, images: ImageFactory) -> Image:
    layer = images.layer(16)
    descriptor = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(layer)}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "c" * 64,
            "size": 2,
        },
        "layers": [{**descriptor, "digest": f"sha256:{i:064x}"} for i in range(layers)],
    }
    return Image(canonical_json(document), OCI_MANIFEST)


def _index(entries: int) -> Index:
    children = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": f"sha256:{i:064x}",
            "size": 500,
            "platform": {"os": "linux", "architecture": f"a{i}"},
        }
        for i in range(entries)
    ]
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    return Index(canonical_json(document), OCI_INDEX, ())


async def test_manifests_listing_too_many_descriptors_are_refused_and_not_stored(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> None:
    faulty_registry.add("library/demo", _manifest(1000, image_factory), "at-limit")
    faulty_registry.add("library/demo", _manifest(1001, image_factory), "layers")
    faulty_registry.add("library/demo", _index(1001), "index")
    pullgate = await make_pullgate([upstream_entry(faulty_registry)])
    url = f"{pullgate.url}/v2/library/demo/manifests"
    assert (await http_get(f"{url}/at-limit", Accept=MANIFEST_ACCEPT))[0] == 200
    stored = _stored(pullgate)
    for tag, field in (("layers", "layers"), ("index", "manifests")):
        status, _, body = await http_get(f"{url}/{tag}", Accept=MANIFEST_ACCEPT)
        error = json.loads(body)["errors"][0]
        assert (status, error["code"]) == (400, "MANIFEST_INVALID"), body[:300]
        assert error["detail"] == {"field": field, "count": 1001, "limit": 1000}
        assert f"lists 1001 {field}; pullgate serves at most 1000" in error["message"]
    # The store holds the manifest at the limit only: a refused one is neither stored nor recorded
    # (both happen after the check), so the next request asks the upstream again.
    assert len(_stored(pullgate)) == len(stored) == 1
    asked = faulty_registry.count("GET", "/manifests/layers")
    assert (await http_get(f"{url}/layers", Accept=MANIFEST_ACCEPT))[0] == 400
    assert faulty_registry.count("GET", "/manifests/layers") == asked + 1


async def test_an_endless_upstream_error_body_is_read_only_64_kib(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> None:
    image = image_factory.image()
    faulty_registry.add("library/demo", image, "1")
    faulty_registry.inject("/manifests/1", Fault.endless_error(500))
    pullgate = await make_pullgate([upstream_entry(faulty_registry)], upstream_client={"retries": 0})
    async with asyncio.timeout(30):  # were the body read to its end, there would be no answer at all
        status, _, body = await http_get(
            f"{pullgate.url}/v2/library/demo/manifests/1", Accept=MANIFEST_ACCEPT
        )
    error = json.loads(body)["errors"][0]
    assert (status, error["code"]) == (502, "UPSTREAM_ERROR")
    assert "returned 500" in error["message"] and len(body) < 1024
    assert _stored(pullgate) == []


async def test_tags_list_n_is_capped_before_the_upstream_is_asked(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    upstream_relay: Relay,
    image_factory: ImageFactory,
    push_to,
) -> None:
    await push_to(upstream_registry, "library/demo", image_factory.image(), "1")
    pullgate = await make_pullgate([upstream_entry(upstream_relay)])
    url = f"{pullgate.url}/v2/library/demo/tags/list"
    status, _, body = await http_get(f"{url}?n=10000")
    assert status == 200 and json.loads(body)["tags"] == ["1"]
    asked = upstream_relay.count(path_suffix="/tags/list")
    status, _, body = await http_get(f"{url}?n=10001")
    error = json.loads(body)["errors"][0]
    assert (status, error["code"]) == (400, "PAGINATION_NUMBER_INVALID")
    assert "from 0 to 10000" in error["message"]
    assert upstream_relay.count(path_suffix="/tags/list") == asked
