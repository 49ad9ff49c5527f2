"""The local test world works on its own, before any proxy is put in the middle."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.support.auth import Auth, Basic, auth_headers, fetch_bearer_token, parse_challenge
from tests.support.faulty import Fault, FaultyRegistry
from tests.support.fixtures import PushTo
from tests.support.images import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    Image,
    ImageFactory,
    Index,
    sha256_digest,
)
from tests.support.push import (
    MANIFEST_ACCEPT,
    get_blob,
    get_manifest,
    skopeo_copy,
    write_oci_layout,
)
from tests.support.registry import RunningRegistry, start_proxy_registry, start_token_registry
from tests.support.relay import Relay
from tests.support.runtimes import Containerd, Podman, ctr_pull, make_podman, podman_pull, write_hosts_dir
from tests.support.tokens import TokenServer

REPO = "library/demo"


async def assert_served(base_url: str, repo: str, ref: str, image: Image | Index, auth: Auth = None) -> None:
    """Every manifest and blob of ``image`` comes back byte for byte, digests included."""
    async with aiohttp.ClientSession() as session:
        media_type, digest, body = await get_manifest(session, base_url, repo, ref, auth=auth)
        assert (media_type, digest, body) == (image.media_type, image.digest, image.manifest_bytes)
        for child_digest, (_, child_body) in image.manifests.items():
            _, _, served = await get_manifest(session, base_url, repo, child_digest, auth=auth)
            assert served == child_body
        for blob_digest in image.all_blobs:
            data = await get_blob(session, base_url, repo, blob_digest, auth=auth)
            assert sha256_digest(data) == blob_digest


# --- the plain registry ---------------------------------------------------------------


async def test_small_image_round_trips(
    upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image()
    assert await push_to(upstream_registry, REPO, image, "1") == image.digest
    await assert_served(upstream_registry.url, REPO, "1", image)


async def test_index_of_three_platforms_round_trips(
    upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    index = image_factory.index()
    await push_to(upstream_registry, REPO, index, "multi")
    assert index.media_type == OCI_INDEX
    assert [str(child.platform) for child in index.children] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    await assert_served(upstream_registry.url, REPO, "multi", index)


async def test_docker_manifest_list_round_trips(
    upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    manifest_list = image_factory.index(docker=True)
    await push_to(upstream_registry, REPO, manifest_list, "docker")
    assert manifest_list.media_type == DOCKER_MANIFEST_LIST
    assert {child.media_type for child in manifest_list.children} == {DOCKER_MANIFEST}
    await assert_served(upstream_registry.url, REPO, "docker", manifest_list)


async def test_thirty_megabyte_image_round_trips(
    upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image(30 * 1024 * 1024, layers=3)
    assert sum(len(blob) for blob in image.blobs.values()) > 30_000_000
    await push_to(upstream_registry, REPO, image, "big")
    await assert_served(upstream_registry.url, REPO, "big", image)


async def test_artifact_with_subject_is_accepted(
    upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image()
    artifact = image_factory.artifact(image)
    await push_to(upstream_registry, REPO, image, "1")
    await push_to(upstream_registry, REPO, artifact)
    assert artifact.manifest["subject"]["digest"] == image.digest
    await assert_served(upstream_registry.url, REPO, artifact.digest, artifact)


async def test_distribution_proxy_mode_serves_from_its_remote(
    tmp_path: Path, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image()
    await push_to(upstream_registry, REPO, image, "1")
    with start_proxy_registry(tmp_path / "peer", upstream_registry.url) as peer:
        await assert_served(peer.url, REPO, "1", image)


# --- authenticated registries -------------------------------------------------------------


async def test_token_registry_challenges_and_accepts_issued_tokens(
    token_registry: RunningRegistry, token_server: TokenServer, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image()
    await push_to(token_registry, REPO, image, "1")
    url = f"{token_registry.url}/v2/{REPO}/manifests/1"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
            assert resp.status == 401
            challenge = resp.headers["WWW-Authenticate"]
        scheme, params = parse_challenge(challenge)
        assert (scheme, params["realm"], params["scope"]) == (
            "bearer",
            token_server.realm,
            f"repository:{REPO}:pull",
        )
        token = await fetch_bearer_token(session, challenge)
        async with session.get(url, headers={"Accept": MANIFEST_ACCEPT, **auth_headers(token)}) as resp:
            assert resp.status == 200
            assert resp.headers["Docker-Content-Digest"] == image.digest
        with pytest.raises(aiohttp.ClientResponseError):
            await fetch_bearer_token(session, challenge, basic=Basic("alice", "wrong"))
    assert token_server.issued == 1


async def test_token_server_can_refuse_anonymous_callers(
    tmp_path: Path, image_factory: ImageFactory, push_to: PushTo
) -> None:
    with (
        TokenServer(algorithm="RS256", allow_anonymous=False) as server,
        start_token_registry(tmp_path, server) as registry,
    ):
        await push_to(registry, REPO, image_factory.image(), "1")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{registry.url}/v2/{REPO}/manifests/1") as resp:
                challenge = resp.headers["WWW-Authenticate"]
            with pytest.raises(aiohttp.ClientResponseError):
                await fetch_bearer_token(session, challenge)
            token = await fetch_bearer_token(session, challenge, basic=Basic("alice", "wonderland"))
            headers = {"Accept": MANIFEST_ACCEPT, **auth_headers(token)}
            async with session.head(f"{registry.url}/v2/{REPO}/manifests/1", headers=headers) as resp:
                assert resp.status == 200
        assert server.issued == 1


async def test_htpasswd_registry_requires_credentials(
    htpasswd_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image()
    await push_to(htpasswd_registry, REPO, image, "1")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{htpasswd_registry.url}/v2/{REPO}/manifests/1") as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Basic ")
        wrong = Basic("alice", "nope")
        async with session.get(f"{htpasswd_registry.url}/v2/", headers=auth_headers(wrong)) as resp:
            assert resp.status == 401
    await assert_served(htpasswd_registry.url, REPO, "1", image, auth=htpasswd_registry.auth_for(REPO))


# --- relay and faults ---------------------------------------------------------------------


async def test_relay_forwards_and_counts(
    upstream_relay: Relay, upstream_registry: RunningRegistry, image_factory: ImageFactory, push_to: PushTo
) -> None:
    image = image_factory.image(200_000)
    await push_to(upstream_relay.url, REPO, image, "1")  # uploads stream through the relay too
    await assert_served(upstream_relay.url, REPO, "1", image)
    await assert_served(upstream_relay.url, REPO, "1", image)
    layer = image.layer_digests[0]
    assert upstream_relay.count("GET", f"/blobs/{layer}") == 2
    assert upstream_relay.log.bytes_sent("GET", f"/blobs/{layer}") == 2 * len(image.blobs[layer])
    assert upstream_relay.count("PUT", "/manifests/1") == 1
    assert all(entry.status < 400 for entry in upstream_relay.requests if entry.method != "HEAD")
    await assert_served(upstream_registry.url, REPO, "1", image)


@pytest.fixture
def faulty_with_image(
    faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> tuple[FaultyRegistry, Image]:
    image = image_factory.image(100_000)
    faulty_registry.add(REPO, image, "1")
    return faulty_registry, image


async def test_faulty_registry_serves_honestly_without_faults(
    faulty_with_image: tuple[FaultyRegistry, Image],
) -> None:
    faulty, image = faulty_with_image
    await assert_served(faulty.url, REPO, "1", image)


async def test_faulty_truncation_is_seen_by_the_client(
    faulty_with_image: tuple[FaultyRegistry, Image],
) -> None:
    faulty, image = faulty_with_image
    layer = image.layer_digests[0]
    faulty.inject(layer, Fault.truncate(times=1))
    url = f"{faulty.url}/v2/{REPO}/blobs/{layer}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert resp.content_length == len(image.blobs[layer])
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        async with session.get(url) as resp:  # the fault was for one request only
            assert await resp.read() == image.blobs[layer]
    assert faulty.count("GET", layer) == 2


async def test_faulty_wrong_bytes_keep_the_length(faulty_with_image: tuple[FaultyRegistry, Image]) -> None:
    faulty, image = faulty_with_image
    layer = image.layer_digests[0]
    faulty.inject(layer, Fault.wrong_bytes())
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{faulty.url}/v2/{REPO}/blobs/{layer}") as resp,
    ):
        body = await resp.read()
    assert len(body) == len(image.blobs[layer])
    assert sha256_digest(body) != layer


async def test_faulty_stalls_until_the_client_gives_up(
    faulty_with_image: tuple[FaultyRegistry, Image],
) -> None:
    faulty, image = faulty_with_image
    layer, config = image.layer_digests[0], image.config_digest
    faulty.inject(layer, Fault.stall_body())
    faulty.inject(config, Fault.stall())
    timeout = aiohttp.ClientTimeout(total=0.5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(f"{faulty.url}/v2/{REPO}/blobs/{layer}") as resp:
            assert resp.status == 200  # headers arrived ...
            with pytest.raises(asyncio.TimeoutError):
                await resp.read()  # ... the body never does
        with pytest.raises(asyncio.TimeoutError):
            await session.get(f"{faulty.url}/v2/{REPO}/blobs/{config}")


async def test_faulty_status_faults(faulty_with_image: tuple[FaultyRegistry, Image]) -> None:
    faulty, image = faulty_with_image
    faulty.inject("/manifests/1", Fault.error(500, times=2))
    faulty.inject(image.config_digest, Fault.too_many_requests(retry_after=7))
    faulty.inject(image.layer_digests[0], Fault.not_found())
    base = f"{faulty.url}/v2/{REPO}"
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.get(f"{base}/manifests/1", headers={"Accept": MANIFEST_ACCEPT}) as resp:
                statuses.append(resp.status)
        assert statuses == [500, 500, 200]
        async with session.get(f"{base}/blobs/{image.config_digest}") as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (429, "7")
            assert (await resp.json())["errors"][0]["code"] == "TOOMANYREQUESTS"
        async with session.head(f"{base}/blobs/{image.layer_digests[0]}") as resp:
            assert resp.status == 404
    assert faulty.count("GET", "/manifests/1") == 3


# --- real clients -----------------------------------------------------------------------


async def test_skopeo_pushes_an_oci_layout_and_copies_to_dir(
    tmp_path: Path, upstream_registry: RunningRegistry, image_factory: ImageFactory
) -> None:
    image, index = image_factory.image(), image_factory.index()
    layout = write_oci_layout(image, tmp_path / "layout", "1")
    write_oci_layout(index, layout, "multi")
    dest = f"docker://{upstream_registry.host}/{REPO}"
    await skopeo_copy(f"oci:{layout}:1", f"{dest}:1")
    await skopeo_copy(f"oci:{layout}:multi", f"{dest}:multi", ["--all"])
    await assert_served(upstream_registry.url, REPO, "1", image)
    await assert_served(upstream_registry.url, REPO, "multi", index)

    out = tmp_path / "out"
    await skopeo_copy(f"{dest}:1", f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == image.manifest_bytes
    for digest, data in image.blobs.items():
        assert (out / digest.removeprefix("sha256:")).read_bytes() == data


@pytest.mark.e2e
async def test_containerd_pulls_from_the_registry(
    tmp_path: Path,
    upstream_registry: RunningRegistry,
    containerd: Containerd,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    image, index = image_factory.image(), image_factory.index()
    await push_to(upstream_registry, REPO, image, "1")
    await push_to(upstream_registry, REPO, index, "multi")
    hosts = write_hosts_dir(tmp_path / "hosts", upstream_registry.host, upstream_registry.host)
    await ctr_pull(containerd, f"{upstream_registry.host}/{REPO}:1", hosts)
    await ctr_pull(
        containerd, f"{upstream_registry.host}/{REPO}:multi", hosts, unpack=False, all_platforms=True
    )
    listing = (await containerd.ctr("image", "ls")).stdout
    assert image.digest in listing
    assert index.digest in listing
    content = (await containerd.ctr("content", "ls", "--quiet")).stdout.split()
    assert set(index.all_blobs) <= set(content)


@pytest.mark.e2e
async def test_podman_pulls_directly_and_through_a_rewrite(
    tmp_path: Path,
    upstream_registry: RunningRegistry,
    podman: Podman,
    image_factory: ImageFactory,
    push_to: PushTo,
) -> None:
    image = image_factory.image()
    await push_to(upstream_registry, REPO, image, "1")
    await podman_pull(podman, f"{upstream_registry.host}/{REPO}:1")
    with make_podman(tmp_path / "podman-mirror", {"mirror.invalid": upstream_registry.host}) as rewritten:
        await podman_pull(rewritten, f"mirror.invalid/{REPO}:1")
        for runtime in (podman, rewritten):
            images = json.loads((await runtime.run("images", "--format", "json")).stdout)
            assert [entry["Digest"] for entry in images] == [image.digest]
