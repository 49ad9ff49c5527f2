"""Key-based cosign signatures, enforced at pull time against a real upstream registry.

Signatures are made in cosign's exact format (tests/support/cosign.py) and pushed to the
real upstream under ``sha256-<hex>.sig``; pullgate finds them through its own mirror and
verifies them with the public key an admin stored through the API. skopeo is the client.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.integration.admin.conftest import MakeWorld, World
from tests.support.cosign import (
    CosignLayer,
    PrivateKey,
    generate_key,
    public_pem,
    push_cosign_signatures,
    sign_payload,
    signature_tag,
    simple_signing_payload,
)
from tests.support.push import MANIFEST_ACCEPT, skopeo_copy

POLICY = """
default_action: deny
rules:
  - {id: allow-all, match: {repository: "**"}, action: allow}
signature_requirements:
  - id: team-signed
    match: {repository: "team/**"}
    mode: MODE
    authorities:
      - name: ci
        key: {trust: ci-key}
        check_reference: true
"""
# Signature tags and decisions must be re-read at once for the tests that change them upstream.
FRESH = {"gate": {"decision_cache_ttl": 0.05}, "cache": {"tag_ttl": 0}}


async def _world(
    make_world: MakeWorld, key: PrivateKey, *, mode: str = "enforce", **overrides: object
) -> World:
    world = await make_world(POLICY.replace("MODE", mode), **overrides)
    stored = await world.admin.put("/trust/ci-key", {"kind": "public_key", "content": public_pem(key)})
    assert stored.status == 201, stored.json
    return world


def _reference(world: World, repository: str) -> str:
    return f"{world.upstream_name}/{repository}"


async def _sign(
    world: World,
    repository: str,
    digest: str,
    key: PrivateKey,
    *,
    reference: str | None = None,
    signed_digest: str | None = None,
    payload: bytes | None = None,
) -> None:
    payload = payload or simple_signing_payload(
        reference or _reference(world, repository), signed_digest or digest
    )
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, repository, digest, [sign_payload(key, payload)]
        )


async def test_signed_image_is_served_to_skopeo(make_world: MakeWorld, tmp_path: Path) -> None:
    key = generate_key("p256")
    world = await _world(make_world, key)
    image = await world.push("team/app", "1")
    await _sign(world, "team/app", image.digest, key)

    await skopeo_copy(f"docker://{world.pullgate.host}/team/app:1", f"dir:{tmp_path / 'out'}")
    assert (tmp_path / "out" / "manifest.json").read_bytes() == image.manifest_bytes
    decision = (await world.audited(1, repository="team/app"))[0]
    assert decision["outcome"] == "allow"
    assert any("signed by key sha256:" in r["message"] for r in decision["reasons"])


async def test_unsigned_image_is_denied_with_what_was_required(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await _world(make_world, generate_key())
    image = await world.push("team/unsigned", "1")
    refused = await skopeo_copy(
        f"docker://{world.pullgate.host}/team/unsigned:1", f"dir:{tmp_path / 'out'}", check=False
    )
    assert refused.returncode != 0
    pull = await world.pull("team/unsigned", "1")
    assert pull.status == 403 and pull.error["code"] == "DENIED"
    message = pull.error["message"]
    assert "signature requirement team-signed" in message
    assert "ci (key ci-key)" in message and "no signature found" in message
    assert signature_tag(image.digest) in message
    # Outside the requirement's match the same policy serves unsigned images.
    await world.push("other/app", "1", image)
    assert (await world.pull("other/app", "1")).status == 200


async def test_signature_by_another_key_is_denied(make_world: MakeWorld) -> None:
    world = await _world(make_world, generate_key("p256"))
    image = await world.push("team/app", "1")
    intruder = generate_key("p256")
    await _sign(world, "team/app", image.digest, intruder)
    pull = await world.pull("team/app", "1")
    assert pull.status == 403
    assert "policy requires" in pull.error["message"] and "ci-key" in pull.error["message"]


async def test_tampered_payload_is_denied(make_world: MakeWorld) -> None:
    key = generate_key("ed25519")
    world = await _world(make_world, key)
    image = await world.push("team/app", "1")
    honest = simple_signing_payload(_reference(world, "team/app"), image.digest)
    signed = sign_payload(key, honest)
    # Same signature, payload altered afterwards (an extra claim the signer never made).
    tampered = simple_signing_payload(_reference(world, "team/app"), image.digest, {"approved": "yes"})
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, "team/app", image.digest, [CosignLayer(tampered, signed.annotations)]
        )
    pull = await world.pull("team/app", "1")
    assert pull.status == 403
    assert "does not verify" in pull.error["message"] or "no key" in pull.error["message"]


async def test_payload_for_another_digest_is_denied(make_world: MakeWorld) -> None:
    key = generate_key("p384")
    world = await _world(make_world, key)
    image = await world.push("team/app", "1")
    other = world.images.image(300)
    # A valid signature of another image, placed under this image's signature tag.
    await _sign(world, "team/app", image.digest, key, signed_digest=other.digest)
    pull = await world.pull("team/app", "1")
    assert pull.status == 403
    assert f"payload is for {other.digest}" in pull.error["message"]
    assert image.digest in pull.error["message"]


async def test_signature_for_another_repository_is_denied(make_world: MakeWorld) -> None:
    key = generate_key("rsa2048")
    world = await _world(make_world, key)
    image = await world.push("team/app", "1")
    await world.push("team/copy", "1", image)
    # Signed as team/app, copied next to the same digest in team/copy.
    await _sign(world, "team/copy", image.digest, key, reference=_reference(world, "team/app"))
    await _sign(world, "team/app", image.digest, key)
    assert (await world.pull("team/app", "1")).status == 200
    pull = await world.pull("team/copy", "1")
    assert pull.status == 403
    assert "payload names" in pull.error["message"] and "team/copy" in pull.error["message"]


async def test_stripped_signature_is_denied_on_the_next_check(make_world: MakeWorld) -> None:
    key = generate_key()
    world = await _world(make_world, key, **FRESH)
    image = await world.push("team/app", "1")
    await _sign(world, "team/app", image.digest, key)
    assert (await world.pull("team/app", "1")).status == 200

    await _delete_tag_manifest(world, "team/app", signature_tag(image.digest))
    await asyncio.sleep(0.1)  # past the decision cache
    pull = await world.pull("team/app", "1")
    assert pull.status == 403 and "no signature found" in pull.error["message"]


async def test_warn_mode_serves_with_a_warning(make_world: MakeWorld) -> None:
    world = await _world(make_world, generate_key(), mode="warn")
    await world.push("team/app", "1")
    pull = await world.pull("team/app", "1")
    assert pull.status == 200
    assert "signature requirement team-signed (warn)" in pull.headers["Warning"]


async def test_changing_the_key_re_decides_cached_images(make_world: MakeWorld) -> None:
    key = generate_key()
    world = await _world(make_world, key)
    image = await world.push("team/app", "1")
    await _sign(world, "team/app", image.digest, key)
    assert (await world.pull("team/app", "1")).status == 200

    rotated = await world.admin.put(
        "/trust/ci-key", {"kind": "public_key", "content": public_pem(generate_key())}
    )
    assert rotated.status == 200 and rotated.json["changed"] is True
    assert (await world.pull("team/app", "1")).status == 403  # no wait: the change is seen at once
    restored = await world.admin.put("/trust/ci-key", {"kind": "public_key", "content": public_pem(key)})
    assert restored.json["changed"] is True
    assert (await world.pull("team/app", "1")).status == 200


async def test_index_signature_covers_its_platform_manifests(make_world: MakeWorld) -> None:
    key = generate_key()
    world = await _world(make_world, key)
    index = world.images.index()
    await world.push_to(world.upstream, "team/multi", index, "1")
    await _sign(world, "team/multi", index.digest, key)
    assert (await world.pull("team/multi", "1")).status == 200
    child = index.children[0]
    assert (await world.pull("team/multi", child.digest)).status == 200

    # A platform manifest signed on its own is covered too; an unsigned index is not.
    lone = world.images.index()
    await world.push_to(world.upstream, "team/lone", lone, "1")
    assert (await world.pull("team/lone", "1")).status == 403
    await _sign(world, "team/lone", lone.children[0].digest, key)
    assert (await world.pull("team/lone", lone.children[0].digest)).status == 200
    assert (await world.pull("team/lone", lone.children[1].digest)).status == 403


async def test_threshold_needs_distinct_signers(make_world: MakeWorld) -> None:
    first, second = generate_key(), generate_key("ed25519")
    policy = """
default_action: allow
signature_requirements:
  - id: two-person
    match: {repository: "team/**"}
    threshold: 2
    authorities:
      - {name: release, key: {trust: release-keys}}
"""
    world = await make_world(policy, **FRESH)
    both = public_pem(first) + public_pem(second)
    assert (
        await world.admin.put("/trust/release-keys", {"kind": "public_key", "content": both})
    ).status == 201
    image = await world.push("team/app", "1")
    await _sign(world, "team/app", image.digest, first)
    await _sign(world, "team/app", image.digest, first)  # the same signer twice counts once
    pull = await world.pull("team/app", "1")
    assert pull.status == 403 and "only 1 distinct signer" in pull.error["message"]
    await _sign(world, "team/app", image.digest, second)
    await asyncio.sleep(0.1)  # past the decision cache; the signature tag is re-read
    assert (await world.pull("team/app", "1")).status == 200


async def _delete_tag_manifest(world: World, repository: str, tag: str) -> None:
    base = f"{world.upstream.url}/v2/{repository}/manifests"
    async with aiohttp.ClientSession() as session:
        async with session.head(f"{base}/{tag}", headers={"Accept": MANIFEST_ACCEPT}) as resp:
            digest = resp.headers["Docker-Content-Digest"]
        async with session.delete(f"{base}/{digest}") as resp:
            assert resp.status == 202, await resp.text()


async def test_signatures_kept_in_a_separate_repository_are_found(make_world: MakeWorld) -> None:
    key = generate_key()
    policy = """
default_action: allow
signature_requirements:
  - id: team-signed
    match: {repository: "team/**"}
    authorities:
      - {name: ci, key: {trust: ci-key}, check_reference: true, signature_repository: signatures/team}
"""
    world = await make_world(policy)
    assert (
        await world.admin.put("/trust/ci-key", {"kind": "public_key", "content": public_pem(key)})
    ).status == 201
    image = await world.push("team/app", "1")
    # Like COSIGN_REPOSITORY: the payload names the image's repository, the tag lives elsewhere.
    payload = simple_signing_payload(_reference(world, "team/app"), image.digest)
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, "signatures/team", image.digest, [sign_payload(key, payload)]
        )
    pull = await world.pull("team/app", "1")
    assert pull.status == 200, pull.body
    # The signature repository holds only signature artifacts, which stay readable.
    signature = await world.pull("signatures/team", signature_tag(image.digest))
    assert signature.status == 200
