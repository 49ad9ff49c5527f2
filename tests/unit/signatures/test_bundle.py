"""verify_bundle: Sigstore bundles (DSSE and messageSignature), test Sigstore and a real one."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from proxy.signatures.bundle import verify_bundle
from proxy.signatures.model import Identity, KeyAuthority, KeylessAuthority, SignedImage, Verification
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.sigstore_artifacts import SIGNED_AT, b64, dsse_bundle, encode, message_bundle, statement
from tests.support.sigstore_world import ISSUER, World

VECTORS = Path(__file__).parent / "vectors"
MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
IMAGE = SignedImage(
    digest="sha256:" + hashlib.sha256(MANIFEST).hexdigest(), repository="registry.corp.example/app"
)
CI = KeylessAuthority(
    name="ci", trusted_root="test", identities=(Identity(issuer=ISSUER, subject="ci@corp.example"),)
)
REFERRER = "sha256:" + "cd" * 32


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def root(world: World) -> TrustedRoot:
    return TrustedRoot.parse(world.trusted_root())


def _verify(
    bundle: dict[str, Any] | bytes,
    root: TrustedRoot | None,
    *,
    image: SignedImage = IMAGE,
    authority: Any = CI,
    keys: Any = None,
) -> Verification:
    data = bundle if isinstance(bundle, bytes) else encode(bundle)
    return verify_bundle(data, image, authority, trusted_root=root, keys=keys, artifact_digest=REFERRER)


def test_dsse_statement_about_the_image(world: World, root: TrustedRoot) -> None:
    result = _verify(dsse_bundle(world, statement(IMAGE.digest[7:])), root)
    assert result == Verification(
        ok=True,
        authority="ci",
        message=f"in-toto statement (https://sigstore.dev/cosign/sign/v1) signed by ci@corp.example (issuer {ISSUER}) at {SIGNED_AT.isoformat()}",
        signer=f"{ISSUER}|ci@corp.example",
        signed_at=SIGNED_AT,
        artifact=REFERRER,
    )


def test_message_signature_over_the_manifest(world: World, root: TrustedRoot) -> None:
    result = _verify(message_bundle(world, MANIFEST), root)
    assert result.ok, result.message
    assert result.message.startswith("image signed by ci@corp.example")


def test_dsse_subject_of_another_image(world: World, root: TrustedRoot) -> None:
    result = _verify(dsse_bundle(world, statement("ef" * 32)), root)
    assert not result.ok
    assert result.message == f"in-toto statement is about sha256:{'ef' * 32}, not image {IMAGE.digest}"


def test_message_signature_of_another_artifact(world: World, root: TrustedRoot) -> None:
    result = _verify(message_bundle(world, b"another manifest"), root)
    assert not result.ok and "not image sha256:" in result.message


def test_tampered_dsse_payload(world: World, root: TrustedRoot) -> None:
    bundle = dsse_bundle(world, statement(IMAGE.digest[7:]))
    forged = statement(IMAGE.digest[7:])
    forged["predicate"] = {"forged": True}
    bundle["dsseEnvelope"]["payload"] = b64(json.dumps(forged).encode())
    result = _verify(bundle, root)
    assert not result.ok and result.message.startswith("DSSE envelope: signature does not verify")


def test_dsse_payload_that_is_not_in_toto(world: World, root: TrustedRoot) -> None:
    result = _verify(dsse_bundle(world, {"_type": "something else"}), root)
    assert not result.ok and result.message == "DSSE payload is not an in-toto Statement"


def test_wrong_inclusion_proof(world: World, root: TrustedRoot) -> None:
    bundle = message_bundle(world, MANIFEST)
    proof = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][0] = b64(b"\x00" * 32)
    result = _verify(bundle, root)
    assert not result.ok and "inclusion proof does not lead to root hash" in result.message


def test_checkpoint_signed_by_another_key(world: World, root: TrustedRoot) -> None:
    bundle = message_bundle(world, MANIFEST, checkpoint_key=ec.generate_private_key(ec.SECP256R1()))
    result = _verify(bundle, root)
    assert not result.ok and "checkpoint is not signed by transparency log" in result.message


def test_no_tlog_entry_means_no_proven_time(world: World, root: TrustedRoot) -> None:
    bundle = message_bundle(world, MANIFEST)
    bundle["verificationMaterial"]["tlogEntries"] = []
    assert _verify(bundle, root).message == (
        "no proven signing time: the bundle has neither a transparency log entry nor an RFC 3161 timestamp"
    )
    bundle["verificationMaterial"]["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": "MA=="}]
    }
    assert _verify(bundle, root).message.startswith("RFC 3161 timestamp: timestamp is not DER")


def test_entry_without_set(world: World, root: TrustedRoot) -> None:
    bundle = message_bundle(world, MANIFEST)
    del bundle["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
    result = _verify(bundle, root)
    assert not result.ok and "no SignedEntryTimestamp" in result.message


def test_logged_body_of_another_signature(world: World, root: TrustedRoot) -> None:
    bundle = message_bundle(world, MANIFEST)
    bundle["verificationMaterial"]["tlogEntries"] = message_bundle(world, MANIFEST)["verificationMaterial"][
        "tlogEntries"
    ]
    result = _verify(bundle, root)
    assert not result.ok and "records another signature" in result.message


def test_identity_not_trusted(world: World, root: TrustedRoot) -> None:
    result = _verify(dsse_bundle(world, statement(IMAGE.digest[7:]), world.leaf("alice@corp.example")), root)
    assert (
        not result.ok
        and result.message == "certificate identity alice@corp.example does not match ci@corp.example"
    )


def test_v01_bundle_with_certificate_chain(world: World, root: TrustedRoot) -> None:
    bundle = message_bundle(world, MANIFEST)
    material = bundle["verificationMaterial"]
    leaf = material.pop("certificate")
    chain = [leaf, {"rawBytes": b64(world.intermediate.public_bytes(Encoding.DER))}]
    material["x509CertificateChain"] = {"certificates": chain}
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
    del material["tlogEntries"][0]["inclusionProof"]  # optional in v0.1
    assert _verify(bundle, root).ok


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.update(mediaType="application/json"), "media type 'application/json' is not supported"),
        (lambda b: b.pop("messageSignature"), "exactly one of messageSignature and dsseEnvelope"),
        (lambda b: b["verificationMaterial"].pop("certificate"), "bundle has no certificate"),
        (
            lambda b: b["verificationMaterial"]["tlogEntries"][0].update(integratedTime="1e9"),
            "not a decimal integer",
        ),
        (lambda b: b["verificationMaterial"]["tlogEntries"][0].pop("inclusionProof"), "no inclusion proof"),
        (lambda b: b["messageSignature"]["messageDigest"].update(algorithm="MD5"), "MD5 is not supported"),
    ],
)
def test_malformed_bundles(world: World, root: TrustedRoot, mutate: Any, message: str) -> None:
    bundle = message_bundle(world, MANIFEST)
    mutate(bundle)
    result = _verify(bundle, root)
    assert not result.ok and message in result.message


def test_not_json(root: TrustedRoot) -> None:
    assert _verify(b"\xff", root).message.startswith("bundle is not JSON")


def test_key_authority(world: World, root: TrustedRoot) -> None:
    leaf = world.leaf()
    bundle = message_bundle(world, MANIFEST, leaf)
    authority = KeyAuthority(name="key", key="k")
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    result = _verify(bundle, root, authority=authority, keys=(other, leaf.key.public_key()))
    assert (
        result.ok
        and result.signed_at == SIGNED_AT
        and result.message.startswith("image signed by key sha256:")
    )
    result = _verify(bundle, None, authority=authority, keys=(leaf.key.public_key(),))
    assert result.ok and result.notes == (
        "transparency log not checked: the key authority has no trusted root",
    )
    assert not _verify(bundle, None, authority=authority, keys=(other,)).ok


# -- a real bundle: server_linux_amd64 of salrashid123/go-bazel-github-workflow v0.0.30 (public good)

REAL_DIGEST = "sha256:efb4f91125650bcfb158e10e0f1b03afaf747cc5676e926dcb4f5fb170a03fa6"
GITHUB = KeylessAuthority(
    name="github",
    trusted_root="public-good",
    identities=(
        Identity(
            issuer="https://token.actions.githubusercontent.com",
            subject="https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.30",
        ),
    ),
)


@pytest.fixture(scope="module")
def public_good() -> TrustedRoot:
    return TrustedRoot.parse((VECTORS / "public-good-trusted_root.json").read_text())


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((VECTORS / "bundle-v03-server_linux_amd64.sigstore.json").read_text())
    return bundle


def test_real_bundle_verifies(real: dict[str, Any], public_good: TrustedRoot) -> None:
    result = _verify(
        real, public_good, image=SignedImage(digest=REAL_DIGEST, repository="-"), authority=GITHUB
    )
    assert result.ok, result.message
    # The Rekor integratedTime and the sigstore TSA's genTime are the same second; both verified.
    assert result.signed_at == datetime(2026, 2, 27, 18, 19, 43, tzinfo=UTC)
    assert result.notes == ()


@pytest.mark.parametrize(
    "path",
    [
        "messageSignature.signature",
        "verificationMaterial.tlogEntries.0.inclusionProof.rootHash",
        "verificationMaterial.tlogEntries.0.inclusionPromise.signedEntryTimestamp",
        "verificationMaterial.timestampVerificationData.rfc3161Timestamps.0.signedTimestamp",
    ],
)
def test_real_bundle_tampered(real: dict[str, Any], public_good: TrustedRoot, path: str) -> None:
    bundle = json.loads(json.dumps(real))
    *parents, last = path.split(".")
    node = bundle
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    raw = bytearray(base64.b64decode(node[last]))
    raw[-1] ^= 1
    node[last] = b64(bytes(raw))
    result = _verify(
        bundle, public_good, image=SignedImage(digest=REAL_DIGEST, repository="-"), authority=GITHUB
    )
    assert not result.ok


def test_real_bundle_for_another_image(real: dict[str, Any], public_good: TrustedRoot) -> None:
    result = _verify(real, public_good, authority=GITHUB)
    assert (
        not result.ok and result.message == f"bundle signs artifact {REAL_DIGEST}, not image {IMAGE.digest}"
    )
