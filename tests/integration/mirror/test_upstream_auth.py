"""Credentialed and token-authenticated upstreams (distribution with auth: token / htpasswd)."""

from __future__ import annotations

import json

import aiohttp

from tests.support.images import ImageFactory
from tests.support.pullgate import MakePullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.registry import RunningRegistry, start_token_registry
from tests.support.tokens import TokenServer


async def _pull(base: str, repo: str, tag: str) -> tuple[int, bytes, list[bytes]]:
    async with aiohttp.ClientSession() as session:
        url = f"{base}/v2/{repo}/manifests/{tag}"
        async with session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as resp:
            manifest = await resp.read()
            if resp.status != 200:
                return resp.status, manifest, []
        blobs = []
        for layer in json.loads(manifest).get("layers", []):
            async with session.get(f"{base}/v2/{repo}/blobs/{layer['digest']}") as resp:
                assert resp.status == 200
                blobs.append(await resp.read())
        return 200, manifest, blobs


async def test_anonymous_token_flow_caches_tokens(
    make_pullgate: MakePullgate,
    token_registry: RunningRegistry,
    token_server: TokenServer,
    image_factory,
    push_to,
) -> None:
    image = image_factory.image(layers=3)
    await push_to(token_registry, "library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(token_registry)])
    before = token_server.issued
    status, manifest, blobs = await _pull(pullgate.url, "library/demo", "1")
    assert status == 200 and manifest == image.manifest_bytes and len(blobs) == 3
    assert token_server.issued - before == 1, "one pull scope, one token"


async def test_credentialed_token_flow(
    make_pullgate: MakePullgate, tmp_path, token_server: TokenServer, image_factory: ImageFactory, push_to
) -> None:
    token_server.allow_anonymous = False
    with start_token_registry(tmp_path / "private", token_server) as registry:
        registry.credentials = ("alice", "wonderland")
        image = image_factory.image()
        await push_to(registry, "team/private", image, "1")
        anonymous = await make_pullgate([upstream_entry(registry)])
        status, body, _ = await _pull(anonymous.url, "team/private", "1")
        assert status == 404 and b"requires authorization" in body
        secret = tmp_path / "password"
        secret.write_text("wonderland\n")
        pullgate = await make_pullgate(
            [upstream_entry(registry, username="alice", password_file=str(secret))]
        )
        status, manifest, _ = await _pull(pullgate.url, "team/private", "1")
        assert status == 200 and manifest == image.manifest_bytes
        assert b"wonderland" not in body


async def test_basic_auth_upstream(
    make_pullgate: MakePullgate, htpasswd_registry: RunningRegistry, image_factory: ImageFactory, push_to
) -> None:
    image = image_factory.image()
    await push_to(htpasswd_registry, "library/demo", image, "1")
    user, password = htpasswd_registry.credentials or ("", "")
    pullgate = await make_pullgate([upstream_entry(htpasswd_registry, username=user, password=password)])
    status, manifest, blobs = await _pull(pullgate.url, "library/demo", "1")
    assert status == 200 and manifest == image.manifest_bytes and blobs
    wrong = await make_pullgate([upstream_entry(htpasswd_registry, username=user, password="nope")])
    status, body, _ = await _pull(wrong.url, "library/demo", "1")
    assert status == 404 and b"nope" not in body and password.encode() not in body
