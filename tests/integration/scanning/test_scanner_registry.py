"""The scanner endpoint against a real upstream and a real pullgate mirror: skopeo and the real
Trivy binary read exactly the granted image through it, by digest, with the grant's secret,
and the gate is never consulted (a denied image stays readable to its scanner)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from proxy.api.scanner_registry import Grant, ScanGrants, start_scanner_endpoint
from proxy.cache.keys import RepoKey
from proxy.oci.digest import Digest
from proxy.oci.reference import RepositoryName
from proxy.scanning.backends.base import ScanTarget
from proxy.scanning.backends.trivy import TrivyBackend, TrivyConfig
from tests.integration.scanning.test_trivy import debian_image, expected_packages
from tests.support.fixtures import PushTo
from tests.support.images import Image, ImageFactory, Index
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT, skopeo_copy
from tests.support.registry import RunningRegistry

REPO = "app/debian"


class Clock:
    """The grants' clock, moved by the test: expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Endpoint:
    url: str
    grants: ScanGrants
    clock: Clock
    pullgate: Pullgate
    upstream: RunningRegistry

    def grant(self, image: Image | Index, *, ttl: float = 60.0) -> Grant:
        """A grant for `image` as a scan would ask for it: the manifest, children and blobs."""
        children = image.children if isinstance(image, Index) else ()
        blobs = frozenset(Digest.parse(d) for d in image.all_blobs)
        child_digests = frozenset(Digest.parse(c.digest) for c in children)
        return self.grants.grant(self.key, Digest.parse(image.digest), blobs, child_digests, ttl)

    @property
    def key(self) -> RepoKey:
        return RepoKey(self.pullgate.settings.upstreams[0].name, RepositoryName.parse(REPO))

    async def get(
        self, path: str, authorization: str | None, *, method: str = "GET", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        if authorization is not None:
            headers["Authorization"] = authorization
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.url}{path}", headers=headers) as resp,
        ):
            return resp.status, dict(resp.headers), await resp.read()


@pytest.fixture
async def endpoint(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry
) -> AsyncIterator[Endpoint]:
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    clock = Clock()
    grants = ScanGrants(clock=clock)
    runner, url = await start_scanner_endpoint(pullgate.services.gate.mirror, grants, "127.0.0.1", 0)
    try:
        yield Endpoint(url, grants, clock, pullgate, upstream_registry)
    finally:
        await runner.cleanup()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def error_code(body: bytes) -> str:
    return str(json.loads(body)["errors"][0]["code"])


async def test_skopeo_copies_the_exact_bytes(
    endpoint: Endpoint, push_to: PushTo, image_factory: ImageFactory, tmp_path: Path
) -> None:
    image = image_factory.image(4096, layers=2)
    await push_to(endpoint.upstream, REPO, image)
    grant = endpoint.grant(image)
    host = endpoint.url.removeprefix("http://")

    await skopeo_copy(
        f"docker://{host}/{grant.repository}@{image.digest}",
        f"dir:{tmp_path / 'out'}",
        ["--src-creds", f"scanner:{grant.secret}"],
    )

    assert (tmp_path / "out" / "manifest.json").read_bytes() == image.manifest_bytes
    for digest, data in image.blobs.items():
        assert (tmp_path / "out" / digest.removeprefix("sha256:")).read_bytes() == data


async def test_trivy_reads_the_image_with_basic_credentials(
    endpoint: Endpoint, push_to: PushTo, tmp_path: Path
) -> None:
    image = debian_image()
    await push_to(endpoint.upstream, REPO, image)
    grant = endpoint.grant(image)
    trivy = TrivyBackend(TrivyConfig(cache_dir=tmp_path / "trivy", timeout=60))
    target = ScanTarget(endpoint.url, grant.repository, image.digest, grant.authorization, image.media_type)

    report = await trivy.scan(target)

    assert report.inventory is not None
    assert set(report.inventory.packages) == expected_packages(image)


async def test_credentials_are_the_grant_secret(
    endpoint: Endpoint, push_to: PushTo, image_factory: ImageFactory
) -> None:
    image = image_factory.image()
    await push_to(endpoint.upstream, REPO, image)
    grant = endpoint.grant(image)
    manifest = f"/v2/{grant.repository}/manifests/{image.digest}"

    status, headers, body = await endpoint.get("/v2/", None)
    assert (status, error_code(body)) == (401, "UNAUTHORIZED")
    assert headers["WWW-Authenticate"] == 'Basic realm="pullgate-scanner"'
    assert (await endpoint.get("/v2/", grant.authorization))[0] == 200
    assert (await endpoint.get("/v2/", f"Bearer {grant.secret}"))[0] == 200
    assert (await endpoint.get(manifest, f"Bearer {grant.secret}"))[0] == 200
    for wrong in (
        basic("scanner", grant.secret[:-1]),
        basic("admin", grant.secret),
        "Bearer nope",
        "Basic %%",
    ):
        status, headers, body = await endpoint.get(manifest, wrong)
        assert (status, error_code(body)) == (401, "UNAUTHORIZED"), wrong
        assert "WWW-Authenticate" in headers

    endpoint.grants.revoke(grant)
    assert (await endpoint.get(manifest, grant.authorization))[0] == 401


async def test_an_expired_grant_is_refused(
    endpoint: Endpoint, push_to: PushTo, image_factory: ImageFactory
) -> None:
    image = image_factory.image()
    await push_to(endpoint.upstream, REPO, image)
    grant = endpoint.grant(image, ttl=30)
    manifest = f"/v2/{grant.repository}/manifests/{image.digest}"
    assert (await endpoint.get(manifest, grant.authorization))[0] == 200

    endpoint.clock.now += 30

    for path in ("/v2/", manifest, f"/v2/{grant.repository}/blobs/{image.config_digest}"):
        status, _, body = await endpoint.get(path, grant.authorization)
        assert (status, error_code(body)) == (401, "UNAUTHORIZED"), path


async def test_only_the_granted_digests_are_served(
    endpoint: Endpoint, push_to: PushTo, image_factory: ImageFactory
) -> None:
    granted, other = image_factory.image(), image_factory.image()
    await push_to(endpoint.upstream, REPO, granted, tag="1")
    await push_to(endpoint.upstream, REPO, other)
    grant, other_grant = endpoint.grant(granted), endpoint.grant(other)
    auth, name = grant.authorization, grant.repository

    for path in (f"/v2/{name}/manifests/{other.digest}", f"/v2/{name}/blobs/{other.layer_digests[0]}"):
        status, _, body = await endpoint.get(path, auth)
        assert (status, error_code(body)) == (403, "DENIED"), path
    # A manifest is not a blob and a blob is not a manifest.
    assert (await endpoint.get(f"/v2/{name}/blobs/{granted.digest}", auth))[0] == 403
    assert (await endpoint.get(f"/v2/{name}/manifests/{granted.config_digest}", auth))[0] == 403
    status, _, body = await endpoint.get(f"/v2/{name}/manifests/1", auth)
    assert (status, error_code(body)) == (404, "MANIFEST_UNKNOWN")
    for path in (
        f"/v2/{REPO}/manifests/{granted.digest}",  # the upstream's name means nothing here
        f"/v2/{other_grant.repository}/manifests/{other.digest}",  # another grant's name
        f"/v2/{name}/tags/list",
        "/api/v1/scans",
    ):
        status, _, body = await endpoint.get(path, auth)
        assert (status, error_code(body)) == (404, "NAME_UNKNOWN"), path
    status, _, body = await endpoint.get(f"/v2/{name}/blobs/uploads/", auth, method="POST")
    assert (status, error_code(body)) == (405, "UNSUPPORTED")


async def test_manifests_and_blobs_carry_registry_headers(
    endpoint: Endpoint, push_to: PushTo, image_factory: ImageFactory
) -> None:
    image = image_factory.image(2048)
    await push_to(endpoint.upstream, REPO, image)
    grant = endpoint.grant(image)
    manifest = f"/v2/{grant.repository}/manifests/{image.digest}"
    layer = image.layer_digests[0]
    blob = f"/v2/{grant.repository}/blobs/{layer}"

    for method in ("HEAD", "GET"):
        status, headers, body = await endpoint.get(manifest, grant.authorization, method=method)
        assert status == 200
        assert headers["Content-Type"] == image.media_type
        assert headers["Docker-Content-Digest"] == image.digest
        assert headers["Content-Length"] == str(image.size)
        assert body == (image.manifest_bytes if method == "GET" else b"")
    # HEAD before any GET: the blob is not cached yet, its size comes from the upstream.
    status, headers, _ = await endpoint.get(blob, grant.authorization, method="HEAD")
    assert (status, headers["Content-Length"]) == (200, str(len(image.blobs[layer])))
    status, headers, body = await endpoint.get(blob, grant.authorization)
    assert (status, body, headers["Docker-Content-Digest"]) == (200, image.blobs[layer], layer)
    status, headers, body = await endpoint.get(blob, grant.authorization, Range="bytes=10-19")
    assert (status, body) == (206, image.blobs[layer][10:20])
    assert headers["Content-Range"] == f"bytes 10-19/{len(image.blobs[layer])}"


async def test_an_index_grant_serves_its_children(
    endpoint: Endpoint, push_to: PushTo, image_factory: ImageFactory, tmp_path: Path
) -> None:
    index = image_factory.index()
    await push_to(endpoint.upstream, REPO, index)
    grant = endpoint.grant(index)
    host = endpoint.url.removeprefix("http://")

    await skopeo_copy(
        f"docker://{host}/{grant.repository}@{index.digest}",
        f"dir:{tmp_path / 'out'}",
        ["--all", "--src-creds", f"scanner:{grant.secret}"],
    )

    out = tmp_path / "out"
    assert (out / "manifest.json").read_bytes() == index.manifest_bytes
    for child in index.children:
        assert (out / f"{child.digest.removeprefix('sha256:')}.manifest.json").read_bytes() == (
            child.manifest_bytes
        )
    for digest, data in index.all_blobs.items():
        assert (out / digest.removeprefix("sha256:")).read_bytes() == data
    # A grant of one platform's image does not open the index above it.
    child = index.children[0]
    one = endpoint.grant(child)
    status, _, body = await endpoint.get(f"/v2/{one.repository}/manifests/{index.digest}", one.authorization)
    assert (status, error_code(body)) == (403, "DENIED")


async def test_a_denied_image_is_readable_by_its_scanner_only(
    endpoint: Endpoint, push_to: PushTo, image_factory: ImageFactory
) -> None:
    image = image_factory.image()
    await push_to(endpoint.upstream, REPO, image)
    pullgate = endpoint.pullgate
    await pullgate.apply_policy(
        f"""
default_action: allow
rules:
  - {{id: no-debian, match: {{repository: "{REPO}"}}, action: deny}}
"""
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{pullgate.url}/v2/{REPO}/manifests/{image.digest}", headers={"Accept": MANIFEST_ACCEPT}
        ) as resp,
    ):
        assert (resp.status, error_code(await resp.read())) == (403, "DENIED")
    decisions = await pullgate.metric("pullgate_decisions")
    denials = await pullgate.metric("pullgate_denials")
    grant = endpoint.grant(image)

    status, _, body = await endpoint.get(
        f"/v2/{grant.repository}/manifests/{image.digest}", grant.authorization
    )
    assert (status, body) == (200, image.manifest_bytes)
    for digest, data in image.blobs.items():
        status, _, body = await endpoint.get(f"/v2/{grant.repository}/blobs/{digest}", grant.authorization)
        assert (status, body) == (200, data)

    # No decision was made or reused as a pull, and nothing was refused by the gate.
    assert await pullgate.metric("pullgate_decisions") == decisions
    assert await pullgate.metric("pullgate_denials") == denials
