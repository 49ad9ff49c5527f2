"""The pull API through pullgate against a real upstream (Debian's docker-registry)."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from urllib.parse import quote

import aiohttp
import pytest

from tests.support.http import http_get as _get
from tests.support.http import http_head as _head
from tests.support.images import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageFactory,
    Index,
    canonical_json,
)
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry


async def test_ping(make_pullgate: MakePullgate, upstream_registry: RunningRegistry) -> None:
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    status, headers, body = await _get(f"{pullgate.url}/v2/")
    assert (status, json.loads(body)) == (200, {})
    assert headers["Docker-Distribution-API-Version"] == "registry/2.0"


async def test_manifests_are_the_exact_upstream_bytes_for_every_media_type(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    images = {
        "oci": image_factory.image(),
        "docker": image_factory.image(docker=True),
        "index": image_factory.index(),
        "list": image_factory.index(docker=True),
    }
    expected_types = {
        "oci": OCI_MANIFEST,
        "docker": DOCKER_MANIFEST,
        "index": OCI_INDEX,
        "list": DOCKER_MANIFEST_LIST,
    }
    for tag, image in images.items():
        await push_to(upstream_registry, "library/demo", image, tag)
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    for tag, image in images.items():
        for reference in (tag, image.digest):
            direct = await _get(
                f"{upstream_registry.url}/v2/library/demo/manifests/{reference}", Accept=MANIFEST_ACCEPT
            )
            proxied = await _get(
                f"{pullgate.url}/v2/library/demo/manifests/{reference}", Accept=MANIFEST_ACCEPT
            )
            assert proxied[0] == 200, proxied
            assert proxied[2] == direct[2] == image.manifest_bytes
            assert proxied[1]["Content-Type"] == expected_types[tag]
            assert proxied[1]["Docker-Content-Digest"] == image.digest
            assert int(proxied[1]["Content-Length"]) == len(image.manifest_bytes)
            status, head = await _head(
                f"{pullgate.url}/v2/library/demo/manifests/{reference}", Accept=MANIFEST_ACCEPT
            )
            assert status == 200
            assert head["Docker-Content-Digest"] == image.digest
            assert int(head["Content-Length"]) == len(image.manifest_bytes)


async def test_accept_header_is_honoured(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    await push_to(upstream_registry, "library/demo", image_factory.index(), "multi")
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/manifests/multi", Accept=DOCKER_MANIFEST)
    error = json.loads(body)["errors"][0]
    assert status == 404 and error["code"] == "MANIFEST_UNKNOWN"
    assert OCI_INDEX in error["message"]
    status, headers, _ = await _get(
        f"{pullgate.url}/v2/library/demo/manifests/multi"
    )  # no Accept: anything goes
    assert status == 200 and headers["Content-Type"] == OCI_INDEX


async def test_blobs_with_ranges(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image(100_000)
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    await _get(f"{pullgate.url}/v2/library/demo/manifests/1")  # blobs are served for an allowed image
    layer_digest = image.layer_digests[0]
    layer = image.all_blobs[layer_digest]
    url = f"{pullgate.url}/v2/library/demo/blobs/{layer_digest}"
    status, headers = await _head(url)  # cold HEAD: answered without filling
    assert status == 200 and int(headers["Content-Length"]) == len(layer)
    for _round in ("cold", "warm"):
        status, headers, body = await _get(url)
        assert status == 200 and body == layer
        assert headers["Docker-Content-Digest"] == layer_digest
        assert headers["Accept-Ranges"] == "bytes"
    status, headers, body = await _get(url, Range="bytes=10-19")
    assert status == 206 and body == layer[10:20]
    assert headers["Content-Range"] == f"bytes 10-19/{len(layer)}"
    status, _, body = await _get(url, Range="bytes=-5")
    assert status == 206 and body == layer[-5:]
    status, headers, body = await _get(url, Range="Bytes=10-19, ")  # units are case-insensitive
    assert status == 206 and body == layer[10:20]
    status, headers, body = await _get(url, Range="pages=1-2")  # an unknown unit is ignored
    assert status == 200 and body == layer and "Content-Range" not in headers
    for bogus in ("bytes=5-1", f"bytes={len(layer)}-", "bytes=0-1,4-5", "bytes=x"):
        status, headers, body = await _get(url, Range=bogus)
        assert status == 416, bogus
        assert json.loads(body)["errors"][0]["code"] == "RANGE_INVALID"
        assert headers["Content-Range"] == f"bytes */{len(layer)}"


async def test_cold_range_request_is_served_from_verified_content(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image(300_000)
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    digest = image.layer_digests[0]
    await _get(f"{pullgate.url}/v2/library/demo/manifests/1")
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/blobs/{digest}", Range="bytes=100-199")
    assert status == 206 and body == image.all_blobs[digest][100:200]


async def test_tags_list_pagination(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image()
    tags = sorted(f"v{i}" for i in range(5))
    for tag in tags:
        await push_to(upstream_registry, "library/demo", image, tag)
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    status, headers, body = await _get(f"{pullgate.url}/v2/library/demo/tags/list")
    assert status == 200 and json.loads(body) == {"name": "library/demo", "tags": tags}
    seen: list[str] = []
    url = f"{pullgate.url}/v2/library/demo/tags/list?n=2"
    while url:
        status, headers, body = await _get(url)
        assert status == 200
        seen += json.loads(body)["tags"]
        link = headers.get("Link")
        url = f"{pullgate.url}{link.split(';')[0].strip('<>')}" if link else ""
    assert seen == tags
    for bad in ("n=-1", "n=abc", "n=100000", "last=..bad"):
        status, _, body = await _get(f"{pullgate.url}/v2/library/demo/tags/list?{bad}")
        assert status == 400 and json.loads(body)["errors"][0]["code"] == "PAGINATION_NUMBER_INVALID", bad


async def test_write_methods_are_unsupported(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry
) -> None:
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    digest = "sha256:" + "a" * 64
    attempts = [
        ("POST", "/v2/library/demo/blobs/uploads/"),
        ("POST", f"/v2/library/demo/blobs/uploads/?mount={digest}&from=library/other"),
        ("PATCH", "/v2/library/demo/blobs/uploads/abc"),
        ("PUT", "/v2/library/demo/manifests/1"),
        ("DELETE", "/v2/library/demo/manifests/1"),
        ("DELETE", f"/v2/library/demo/blobs/{digest}"),
        ("GET", "/v2/library/demo/blobs/uploads/abc"),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path in attempts:
            async with session.request(method, f"{pullgate.url}{path}", data=b"x") as resp:
                body = await resp.json()
                assert resp.status == 405, (method, path)
                assert body["errors"][0]["code"] == "UNSUPPORTED"
    assert not any((pullgate.store_root / "blobs").rglob("*/*/*"))


async def test_referrers_fall_back_to_the_tag_schema(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    subject = image_factory.image()
    signature = image_factory.artifact(subject)
    await push_to(upstream_registry, "library/demo", subject, "1")
    await push_to(upstream_registry, "library/demo", signature)
    # distribution 2.8 has no referrers API: clients keep an index under the tag sha256-<hex>.
    artifact_type = signature.manifest["artifactType"]
    entries = [signature.descriptor(artifactType=artifact_type)]
    fallback = Index(
        canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}), OCI_INDEX, ()
    )
    await push_to(upstream_registry, "library/demo", fallback, subject.digest.replace(":", "-"))
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    url = f"{pullgate.url}/v2/library/demo/referrers/{subject.digest}"
    status, headers, body = await _get(url)
    assert status == 200 and headers["Content-Type"] == OCI_INDEX
    listed = json.loads(body)["manifests"]
    assert [m["digest"] for m in listed] == [signature.digest]
    status, headers, body = await _get(f"{url}?artifactType={quote(artifact_type)}")
    assert headers["OCI-Filters-Applied"] == "artifactType" and len(json.loads(body)["manifests"]) == 1
    status, headers, body = await _get(f"{url}?artifactType=application/x-other")
    assert json.loads(body)["manifests"] == []
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/referrers/{signature.digest}")
    assert status == 200 and json.loads(body) == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/referrers/sha256:abc")
    assert status == 400 and json.loads(body)["errors"][0]["code"] == "DIGEST_INVALID"


async def test_ops_endpoints(make_pullgate: MakePullgate, upstream_registry: RunningRegistry) -> None:
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    assert (await _get(f"{pullgate.url}/healthz"))[0] == 200
    status, _, body = await _get(f"{pullgate.url}/readyz")
    assert status == 200 and json.loads(body)["checks"] == {"database": "ok", "storage": "ok"}
    await _get(f"{pullgate.url}/v2/")
    status, headers, body = await _get(f"{pullgate.url}/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert await pullgate.metric("pullgate_http_requests", route="other", status="200") >= 1


async def test_readiness_names_a_failing_dependency(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry
) -> None:
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    shutil.rmtree(pullgate.store_root / "_uploads")  # the store can no longer take writes
    status, _, body = await _get(f"{pullgate.url}/readyz")
    checks = json.loads(body)["checks"]
    assert status == 503 and checks["database"] == "ok" and checks["storage"].startswith("failed")


async def _pipelined_gets(host: str, paths: list[str]) -> bytes:
    """Send every GET at once on one keep-alive connection; everything read until it goes quiet."""
    address, port = host.split(":")
    reader, writer = await asyncio.open_connection(address, int(port))
    try:
        writer.write(b"".join(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for path in paths))
        await writer.drain()
        received = b""
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 20), 2.0)
            except TimeoutError:
                return received  # quiet: the server keeps the connection open for more
            if not chunk:
                return received
            received += chunk
    finally:
        writer.close()


async def test_cached_blobs_keep_the_connection_alive(
    make_pullgate: MakePullgate,
    upstream_registry: RunningRegistry,
    image_factory: ImageFactory,
    push_to,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A cache hit is sent with sendfile; a response the handler prepared itself used to be
    # prepared again by aiohttp, which failed after the body and closed the connection: a
    # client reusing it (containerd, skopeo, any pooled client) got "server disconnected".
    image = image_factory.image(300_000)
    await push_to(upstream_registry, "library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    await _get(f"{pullgate.url}/v2/library/demo/manifests/1", Accept=MANIFEST_ACCEPT)
    layer = image.layer_digests[0]
    path = f"/v2/library/demo/blobs/{layer}"
    assert (await _get(f"{pullgate.url}{path}"))[0] == 200  # now cached
    received = await _pipelined_gets(pullgate.host, [path, path, "/v2/"])
    assert received.count(b"HTTP/1.1 200 OK") == 3
    blob = image.all_blobs[layer]
    assert received.count(blob) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
