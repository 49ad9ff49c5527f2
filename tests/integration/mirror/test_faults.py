"""Upstream faults over a real socket, and bad input from clients.

Each case checks the three promises: a clear error for the client, nothing stored that should
not be, nothing lost that should be kept.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from yarl import URL

from tests.support.faulty import Fault, FaultyRegistry
from tests.support.http import http_get as _get
from tests.support.images import OCI_MANIFEST, Image, ImageFactory, canonical_json
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT


def _code(body: bytes) -> str:
    return str(json.loads(body)["errors"][0]["code"])


def _stored(pullgate: Pullgate) -> list[str]:
    blobs = pullgate.store_root / "blobs"
    return sorted(p.name for p in blobs.rglob("*") if p.is_file())


def _spooled(pullgate: Pullgate) -> list[str]:
    return sorted(p.name for p in (pullgate.store_root / "_uploads").iterdir())


@pytest.fixture
async def faulty_setup(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> tuple[Pullgate, FaultyRegistry, Image]:
    image = image_factory.image(2 * 1024 * 1024)
    faulty_registry.add("library/demo", image, "1")
    pullgate = await make_pullgate(
        [upstream_entry(faulty_registry)],
        upstream_client={"retries": 2, "backoff_initial": 0.01, "read_timeout": 1, "retry_after_max": 1},
        cache={"tag_ttl": 0},
    )
    return pullgate, faulty_registry, image


async def _read_manifest(pullgate: Pullgate, image: Image) -> None:
    """Blobs are served on behalf of an allowed image: a client reads its manifest first."""
    url = f"{pullgate.url}/v2/library/demo/manifests/{image.digest}"
    assert (await _get(url, Accept=MANIFEST_ACCEPT))[0] == 200


async def _client_reads_incomplete_body(url: str, expected_length: int) -> int:
    """How many body bytes a client got before the connection broke (it must break)."""
    received = 0
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(url) as resp:
                assert resp.status == 200
                async for chunk in resp.content.iter_any():
                    received += len(chunk)
    assert received < expected_length
    return received


async def test_wrong_bytes_for_a_digest_are_never_served_complete_nor_stored(faulty_setup) -> None:
    pullgate, faulty, image = faulty_setup
    await _read_manifest(pullgate, image)
    digest = image.layer_digests[0]
    faulty.inject(digest, Fault.wrong_bytes())
    url = f"{pullgate.url}/v2/library/demo/blobs/{digest}"
    await _client_reads_incomplete_body(url, len(image.all_blobs[digest]))
    await asyncio.sleep(0.1)
    assert digest.split(":")[1] not in _stored(pullgate)
    assert _spooled(pullgate) == []
    assert await pullgate.metric("pullgate_digest_mismatches") == 1
    faulty.clear_faults()  # the upstream heals: the next request fetches honest bytes
    status, _, body = await _get(url)
    assert status == 200 and body == image.all_blobs[digest]


async def test_truncated_upstream_body_aborts_the_client_and_stores_nothing(faulty_setup) -> None:
    pullgate, faulty, image = faulty_setup
    await _read_manifest(pullgate, image)
    digest = image.layer_digests[0]
    faulty.inject(digest, Fault.truncate())
    await _client_reads_incomplete_body(
        f"{pullgate.url}/v2/library/demo/blobs/{digest}", len(image.all_blobs[digest])
    )
    await asyncio.sleep(0.1)
    assert digest.split(":")[1] not in _stored(pullgate) and _spooled(pullgate) == []


async def test_wrong_manifest_bytes_are_refused(faulty_setup) -> None:
    pullgate, faulty, image = faulty_setup
    faulty.inject(f"/manifests/{image.digest}", Fault.wrong_bytes())
    status, _, body = await _get(
        f"{pullgate.url}/v2/library/demo/manifests/{image.digest}", Accept=MANIFEST_ACCEPT
    )
    assert status == 502 and _code(body) == "UPSTREAM_ERROR"
    assert "does not match" in json.loads(body)["errors"][0]["message"]
    assert image.digest.split(":")[1] not in _stored(pullgate)


async def test_stalled_upstream_answers_504(faulty_setup) -> None:
    pullgate, faulty, _image = faulty_setup
    faulty.inject("/manifests/1", Fault.stall())
    started = time.monotonic()
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 504 and _code(body) == "UPSTREAM_TIMEOUT"
    assert time.monotonic() - started < 10


async def test_a_blob_body_that_never_starts_is_retried_then_answers_504(faulty_setup) -> None:
    pullgate, faulty, image = faulty_setup
    await _read_manifest(pullgate, image)
    digest = image.layer_digests[0]
    faulty.inject(digest, Fault.stall_body())
    # Headers, then silence: no byte has reached a client, so the fill may still retry, and
    # when every attempt stalls the client gets a clean 504 rather than a cut connection.
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/blobs/{digest}")
    assert status == 504 and _code(body) == "UPSTREAM_TIMEOUT"
    assert faulty.count("GET", digest) == 3  # one try and two retries
    assert _spooled(pullgate) == [] and digest.split(":")[1] not in _stored(pullgate)


async def test_rate_limited_upstream(faulty_setup) -> None:
    pullgate, faulty, image = faulty_setup
    faulty.add("library/demo", image, "2")
    one, two = (f"{pullgate.url}/v2/library/demo/manifests/{tag}" for tag in ("1", "2"))
    faulty.inject("/manifests/1", Fault.too_many_requests(retry_after=0, times=1))
    status, _, _ = await _get(one, Accept=MANIFEST_ACCEPT)
    assert status == 200, "a short Retry-After is waited out"
    faulty.inject("/manifests/2", Fault.too_many_requests(retry_after=30))
    status, headers, body = await _get(two, Accept=MANIFEST_ACCEPT)
    assert status == 429 and _code(body) == "TOOMANYREQUESTS" and headers["Retry-After"] == "30"
    asked = faulty.count()
    # The upstream asked for 30 s of quiet: clients are told so without it being asked again,
    # and a known tag is served stale meanwhile.
    status, headers, _ = await _get(two, Accept=MANIFEST_ACCEPT)
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 30
    status, headers, _ = await _get(one, Accept=MANIFEST_ACCEPT)
    assert status == 200 and headers["Warning"].startswith("110 ")
    assert faulty.count() == asked


async def test_transient_500s_are_retried_and_persistent_ones_answer_502(faulty_setup) -> None:
    pullgate, faulty, image = faulty_setup
    faulty.inject("/manifests/1", Fault.error(500, times=2))
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/manifests/1", Accept=MANIFEST_ACCEPT)
    assert status == 200 and body == image.manifest_bytes
    faulty.inject(f"/manifests/{image.digest}", Fault.error(503, times=None))
    before = faulty.count(path_suffix=f"/manifests/{image.digest}")
    other = f"{pullgate.url}/v2/library/demo/manifests/{image.digest}"
    # The digest is cached already from the tag fetch; ask for one that is not.
    missing = "sha256:" + "0" * 64
    faulty.inject(f"/manifests/{missing}", Fault.error(500, times=None))
    status, _, body = await _get(
        f"{pullgate.url}/v2/library/demo/manifests/{missing}", Accept=MANIFEST_ACCEPT
    )
    error = json.loads(body)["errors"][0]
    assert status == 502 and error["code"] == "UPSTREAM_ERROR" and faulty.host in error["message"]
    assert faulty.count(path_suffix=f"/manifests/{missing}") == 3  # one try and two retries
    assert (await _get(other, Accept=MANIFEST_ACCEPT))[0] == 200  # served from the cache, upstream not asked
    assert faulty.count(path_suffix=f"/manifests/{image.digest}") == before


async def test_upstream_404s_map_to_oci_codes(faulty_setup) -> None:
    pullgate, faulty, image = faulty_setup
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/manifests/nope", Accept=MANIFEST_ACCEPT)
    assert (status, _code(body)) == (404, "MANIFEST_UNKNOWN")
    await _read_manifest(pullgate, image)
    digest = image.layer_digests[0]
    faulty.inject(digest, Fault.not_found())  # the upstream lost a blob its manifest lists
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/blobs/{digest}")
    assert (status, _code(body)) == (404, "BLOB_UNKNOWN")


async def test_upstream_unreachable_with_nothing_cached(make_pullgate: MakePullgate) -> None:
    pullgate = await make_pullgate(
        [upstream_entry("http://127.0.0.1:9")], upstream_client={"retries": 0, "connect_timeout": 1}
    )
    status, _, body = await _get(f"{pullgate.url}/v2/library/demo/manifests/1", Accept=MANIFEST_ACCEPT)
    error = json.loads(body)["errors"][0]
    assert status == 502 and error["code"] == "UPSTREAM_ERROR" and "127.0.0.1:9" in error["message"]


async def test_oversized_and_invalid_manifests_are_refused(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry
) -> None:
    padding = {"annotations": {"pad": "x" * (4 * 1024 * 1024)}}
    big = Image(canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, **padding}), OCI_MANIFEST)
    broken = Image(
        b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'", "layers": 7}', OCI_MANIFEST
    )
    faulty_registry.add("library/demo", big, "big")
    faulty_registry.add("library/demo", broken, "broken")
    pullgate = await make_pullgate([upstream_entry(faulty_registry)])
    for tag in ("big", "broken"):
        status, _, body = await _get(
            f"{pullgate.url}/v2/library/demo/manifests/{tag}", Accept=MANIFEST_ACCEPT
        )
        assert status == 502 and _code(body) == "UPSTREAM_ERROR", tag
    assert _stored(pullgate) == []


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v2/Library/demo/manifests/1", 400, "NAME_INVALID"),
        ("/v2/library/../etc/manifests/1", 400, "NAME_INVALID"),
        ("/v2/library//demo/manifests/1", 400, "NAME_INVALID"),
        ("/v2/library/demo%2F..%2Fx/manifests/1", 400, "NAME_INVALID"),
        ("/v2/" + "a" * 256 + "/manifests/1", 400, "NAME_INVALID"),
        ("/v2/library/demo/manifests/sha256:abc", 400, "DIGEST_INVALID"),
        ("/v2/library/demo/manifests/md5:" + "a" * 32, 400, "DIGEST_INVALID"),
        ("/v2/library/demo/manifests/-bad", 400, "MANIFEST_INVALID"),
        ("/v2/library/demo/blobs/latest", 400, "DIGEST_INVALID"),
        ("/v2/library/demo/blobs/sha256:" + "A" * 64, 400, "DIGEST_INVALID"),
        ("/v2/library/demo/manifests/1?ns=elsewhere.example", 404, "NAME_UNKNOWN"),
        ("/v2/library/demo/manifests/1?ns=bad%20host", 400, "NAME_INVALID"),
    ],
)
async def test_bad_input_is_refused_before_touching_anything(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, path: str, status: int, code: str
) -> None:
    pullgate = await make_pullgate([upstream_entry(faulty_registry)])
    async with aiohttp.ClientSession() as session:
        # yarl would normalise "..": send the path exactly as written.
        url = URL(f"{pullgate.url}{path}", encoded=True)
        async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
            body = await resp.read()
            assert resp.status == status, body
            assert _code(body) == code
    assert faulty_registry.count() == 0, "nothing reached the upstream"
    assert _stored(pullgate) == []
