"""Keyless cosign signatures, sigstore bundles and Notation signatures, enforced at pull time.

The signing side is built in the tests: a test Sigstore (Fulcio-like CA with a real embedded
SCT, a Rekor log with SETs, inclusion proofs and checkpoints) written into a trusted_root.json,
and a Notation test CA with a trustpolicy.oci.json. Artifacts are pushed to the real upstream
registry (distribution 2.8 has no referrers API, so the referrers tag schema is used, as
clients do); pullgate finds them through its mirror. skopeo is the client.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.serialization import Encoding

from tests.integration.admin.conftest import MakeWorld, World
from tests.support import notation
from tests.support.cosign import CosignLayer, push_cosign_signatures, simple_signing_payload
from tests.support.images import OCI_INDEX, Image, Index, artifact_manifest, canonical_json, sha256_digest
from tests.support.push import skopeo_copy
from tests.support.sigstore_artifacts import (
    BUNDLE_V03,
    cosign_keyless,
    dsse_bundle,
    encode,
    statement,
    with_timestamp,
)
from tests.support.sigstore_world import ISSUER
from tests.support.sigstore_world import World as Sigstore

KEYLESS_POLICY = r"""
default_action: allow
signature_requirements:
  - id: ci-keyless
    match: {repository: "team/**"}
    authorities:
      - name: ci
        keyless:
          trusted_root: corp-sigstore
          identities: [{issuer: "ISSUER", subject_regex: '^ci@corp\.example$'}]
""".replace("ISSUER", ISSUER)

NOTATION_POLICY = """
default_action: allow
signature_requirements:
  - id: notary
    match: {repository: "team/**"}
    authorities:
      - {name: release, notation: {trust_policy: corp-notation}}
"""


async def _keyless_world(make_world: MakeWorld) -> tuple[World, Sigstore]:
    world = await make_world(KEYLESS_POLICY)
    sigstore = Sigstore()
    stored = await world.admin.put(
        "/trust/corp-sigstore", {"kind": "trusted_root", "content": sigstore.trusted_root()}
    )
    assert stored.status == 201, stored.json
    return world, sigstore


async def _push_referrers(world: World, repository: str, subject: Image, artifacts: list[Image]) -> None:
    """Push artifacts and the referrers tag-schema index that lists them."""
    for artifact in artifacts:
        await world.push_to(world.upstream, repository, artifact)
    entries = [a.descriptor(artifactType=a.manifest.get("artifactType")) for a in artifacts]
    index = Index(
        canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}), OCI_INDEX, ()
    )
    await world.push_to(world.upstream, repository, index, subject.digest.replace(":", "-"))


async def test_keyless_sig_with_a_rekor_set_is_served(make_world: MakeWorld, tmp_path: Path) -> None:
    world, sigstore = await _keyless_world(make_world)
    image = await world.push("team/app", "1")
    payload = simple_signing_payload(f"{world.upstream_name}/team/app", image.digest)
    annotations, _ = cosign_keyless(sigstore, payload)
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, "team/app", image.digest, [CosignLayer(payload, annotations)]
        )

    await skopeo_copy(f"docker://{world.pullgate.host}/team/app:1", f"dir:{tmp_path / 'out'}")
    decision = (await world.audited(1, repository="team/app"))[0]
    assert decision["outcome"] == "allow"
    assert any("signed by ci@corp.example (issuer " in r["message"] for r in decision["reasons"])


async def test_keyless_signature_by_another_identity_is_denied(make_world: MakeWorld) -> None:
    world, sigstore = await _keyless_world(make_world)
    image = await world.push("team/app", "1")
    payload = simple_signing_payload(f"{world.upstream_name}/team/app", image.digest)
    for subject in ("alice@corp.example", "ci@corp.example.evil.test"):
        annotations, _ = cosign_keyless(sigstore, payload, sigstore.leaf(subject))
        async with aiohttp.ClientSession() as session:
            await push_cosign_signatures(
                session, world.upstream.url, "team/app", image.digest, [CosignLayer(payload, annotations)]
            )
    pull = await world.pull("team/app", "1")
    assert pull.status == 403
    message = pull.error["message"]
    assert "alice@corp.example" in message and "ci@corp.example.evil.test" in message
    assert r"^ci@corp\.example$" in message


async def test_keyless_signature_without_a_proven_time_is_denied(make_world: MakeWorld) -> None:
    world, sigstore = await _keyless_world(make_world)
    image = await world.push("team/app", "1")
    payload = simple_signing_payload(f"{world.upstream_name}/team/app", image.digest)
    annotations, _ = cosign_keyless(sigstore, payload, with_bundle=False)  # no Rekor entry
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, "team/app", image.digest, [CosignLayer(payload, annotations)]
        )
    pull = await world.pull("team/app", "1")
    assert pull.status == 403 and "signature requirement ci-keyless" in pull.error["message"]
    assert "no proven signing time" in pull.error["message"]


async def test_keyless_sig_proven_by_an_rfc3161_timestamp_alone_is_served(make_world: MakeWorld) -> None:
    world, sigstore = await _keyless_world(make_world)
    image = await world.push("team/app", "1")
    payload = simple_signing_payload(f"{world.upstream_name}/team/app", image.digest)
    annotations, signature = cosign_keyless(sigstore, payload, with_bundle=False)  # no Rekor entry
    annotations = with_timestamp(annotations, signature, sigstore.tsa)
    async with aiohttp.ClientSession() as session:
        await push_cosign_signatures(
            session, world.upstream.url, "team/app", image.digest, [CosignLayer(payload, annotations)]
        )
    assert (await world.pull("team/app", "1")).status == 200


async def test_sigstore_bundle_referrer_is_served_and_one_for_another_image_is_not(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world, sigstore = await _keyless_world(make_world)
    image = await world.push("team/app", "1")
    bundle = encode(dsse_bundle(sigstore, statement(image.digest.split(":")[1])))
    await _push_referrers(
        world, "team/app", image, [artifact_manifest(image, artifact_type=BUNDLE_V03, payload=bundle)]
    )
    await skopeo_copy(f"docker://{world.pullgate.host}/team/app:1", f"dir:{tmp_path / 'out'}")

    other = await world.push("team/other", "1")
    misplaced = encode(dsse_bundle(sigstore, statement(image.digest.split(":")[1])))  # about team/app's image
    await _push_referrers(
        world, "team/other", other, [artifact_manifest(other, artifact_type=BUNDLE_V03, payload=misplaced)]
    )
    pull = await world.pull("team/other", "1")
    assert pull.status == 403
    assert f"in-toto statement is about {image.digest}, not image {other.digest}" in pull.error["message"]


async def _notation_world(make_world: MakeWorld, ca: notation.Issued, scope: str = "*") -> World:
    world = await make_world(NOTATION_POLICY)
    document = notation.trust_policy_document(notation.policy(scopes=(scope,)))
    store = ca.cert.public_bytes(Encoding.PEM).decode()
    for name, kind, content in (
        ("acme-rockets", "notation_ca", store),
        ("corp-notation", "notation_trust_policy", json.dumps(document)),
    ):
        stored = await world.admin.put(f"/trust/{name}", {"kind": kind, "content": content})
        assert stored.status == 201, stored.json
    return world


def _notation_artifact(
    image: Image, signer: notation.Issued, chain: list, *, cose: bool = False, legacy: bool = False
) -> Image:
    content = notation.payload(image.digest, size=image.size, media_type=image.media_type)
    if cose:
        envelope, media_type = notation.sign_cose(signer, chain, content), notation.COSE
    else:
        envelope, media_type = notation.sign_jws(signer, chain, content), notation.JWS
    manifest = notation.signature_manifest(envelope, media_type, image.descriptor(), chain, legacy=legacy)
    return Image(
        manifest, notation.OCI_MANIFEST, {sha256_digest(envelope): envelope, sha256_digest(b"{}"): b"{}"}
    )


async def test_notation_jws_and_cose_signatures_are_served(make_world: MakeWorld, tmp_path: Path) -> None:
    ca, leaf = _notation_trust_pair()
    world = await _notation_world(make_world, ca)
    jws_image = await world.push("team/jws", "1")
    await _push_referrers(
        world, "team/jws", jws_image, [_notation_artifact(jws_image, leaf, [leaf.cert, ca.cert])]
    )
    cose_image = await world.push("team/cose", "1")
    # The legacy form: no artifactType, the config media type says "Notation signature".
    legacy = _notation_artifact(cose_image, leaf, [leaf.cert, ca.cert], cose=True, legacy=True)
    await _push_referrers(world, "team/cose", cose_image, [legacy])

    await skopeo_copy(f"docker://{world.pullgate.host}/team/jws:1", f"dir:{tmp_path / 'jws'}")
    await skopeo_copy(f"docker://{world.pullgate.host}/team/cose:1", f"dir:{tmp_path / 'cose'}")
    decisions = await world.audited(2, kind="pull")
    assert {d["outcome"] for d in decisions} == {"allow"}
    assert all(any("x509.subject" in str(r) for r in d["reasons"]) for d in decisions)


async def test_notation_signature_from_an_untrusted_ca_is_denied(make_world: MakeWorld) -> None:
    ca, _ = _notation_trust_pair()
    world = await _notation_world(make_world, ca)
    rogue_ca, rogue_leaf = _notation_trust_pair()  # same subject names, other keys
    image = await world.push("team/app", "1")
    await _push_referrers(
        world, "team/app", image, [_notation_artifact(image, rogue_leaf, [rogue_leaf.cert, rogue_ca.cert])]
    )
    pull = await world.pull("team/app", "1")
    assert pull.status == 403
    assert "signature requirement notary" in pull.error["message"]
    assert "does not chain to a trusted root" in pull.error["message"]


def _notation_trust_pair() -> tuple[notation.Issued, notation.Issued]:
    ca = notation.make_ca()
    return ca, notation.make_leaf(ca, not_after=notation.NOW + timedelta(days=3650))
