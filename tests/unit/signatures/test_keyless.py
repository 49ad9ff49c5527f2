"""verify_cosign_certificate: legacy keyless cosign signatures, test Sigstore and a real one."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from proxy.signatures.keyless import verify_cosign_certificate
from proxy.signatures.model import Identity, KeylessAuthority, Verification
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.sigstore_artifacts import SIGNED_AT, cosign_keyless, simple_signing
from tests.support.sigstore_world import ISSUER, T0, World, hashedrekord

VECTORS = Path(__file__).parent / "vectors"
PAYLOAD = simple_signing("sha256:" + "ab" * 32)
CI = KeylessAuthority(
    name="ci", trusted_root="test", identities=(Identity(issuer=ISSUER, subject="ci@corp.example"),)
)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def root(world: World) -> TrustedRoot:
    return TrustedRoot.parse(world.trusted_root())


def _verify(
    annotations: dict[str, str],
    signature: bytes,
    root: TrustedRoot,
    *,
    payload: bytes = PAYLOAD,
    authority: KeylessAuthority = CI,
) -> Verification:
    return verify_cosign_certificate(
        annotations, payload=payload, signature=signature, authority=authority, trusted_root=root
    )


def test_valid_signature(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD)
    result = _verify(annotations, signature, root)
    assert result == Verification(
        ok=True,
        authority="ci",
        message=f"signed by ci@corp.example (issuer {ISSUER}) at 2024-05-01T12:01:00+00:00",
        signer=f"{ISSUER}|ci@corp.example",
        signed_at=SIGNED_AT,
    )


def test_identity_by_anchored_regex(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD, world.leaf("ci@corp.example.evil"))
    authority = KeylessAuthority(
        name="ci", trusted_root="t", identities=(Identity(issuer=ISSUER, subject_regex=r"ci@corp\.example"),)
    )
    result = _verify(annotations, signature, root, authority=authority)
    assert not result.ok
    assert result.message == r"certificate identity ci@corp.example.evil does not match ci@corp\.example"


def test_certificate_expired_at_signing_time(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD, at=T0 + timedelta(minutes=30))
    result = _verify(annotations, signature, root)
    assert not result.ok and "was not valid at 2024-05-01T12:30:00" in result.message


def test_signing_time_outside_the_ca_validity(world: World) -> None:
    root = TrustedRoot.parse(world.trusted_root(ca_valid=(datetime(2020, 1, 1, tzinfo=UTC), T0)))
    annotations, signature = cosign_keyless(world, PAYLOAD)
    result = _verify(annotations, signature, root)
    assert not result.ok
    assert (
        result.message
        == "no certificate authority of the trusted root was valid at 2024-05-01T12:01:00+00:00"
    )


def test_no_bundle_means_no_proven_time(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD, with_bundle=False)
    result = _verify(annotations, signature, root)
    assert not result.ok and result.message == (
        "no proven signing time: the signature has neither a dev.sigstore.cosign/bundle annotation "
        "(Rekor SET) nor a dev.sigstore.cosign/rfc3161timestamp annotation"
    )
    result = _verify({**annotations, "dev.sigstore.cosign/rfc3161timestamp": "{}"}, signature, root)
    assert not result.ok and result.message == (
        "dev.sigstore.cosign/rfc3161timestamp annotation cannot be read: no SignedRFC3161Timestamp text"
    )


def test_set_by_an_unknown_log(world: World) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD)
    other_log = World().rekor.key.public_key()
    result = _verify(annotations, signature, TrustedRoot.parse(world.trusted_root(tlog_key=other_log)))
    assert not result.ok and "is not in the trusted root" in result.message


def test_tampered_set(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD)
    bundle = json.loads(annotations["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["integratedTime"] += 60
    result = _verify({**annotations, "dev.sigstore.cosign/bundle": json.dumps(bundle)}, signature, root)
    assert not result.ok and "signature does not verify" in result.message


@pytest.mark.parametrize("other", ["signature", "payload"])
def test_logged_body_naming_another_signature_or_payload(world: World, root: TrustedRoot, other: str) -> None:
    leaf = world.leaf()
    signature = leaf.sign(PAYLOAD)
    logged_signature = leaf.sign(b"other") if other == "signature" else signature
    digest = hashlib.sha256(b"other" if other == "payload" else PAYLOAD).digest()
    annotations, _ = cosign_keyless(
        world, PAYLOAD, leaf, body=hashedrekord(leaf.pem, logged_signature, digest)
    )
    result = _verify(annotations, signature, root)
    assert not result.ok
    assert ("records another signature" if other == "signature" else "is about artifact") in result.message


def test_signature_over_other_bytes(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD)
    result = _verify(annotations, signature, root, payload=PAYLOAD + b" ")
    assert not result.ok and "signature does not verify" in result.message


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({}, "no dev.sigstore.cosign/certificate annotation"),
        ({"dev.sigstore.cosign/certificate": "garbage"}, "not a PEM certificate"),
    ],
)
def test_missing_or_bad_certificate(root: TrustedRoot, annotations: dict[str, str], message: str) -> None:
    result = _verify(annotations, b"sig", root)
    assert not result.ok and message in result.message


# -- a real signature: docker.io/salrashid123/server_image, signed on GitHub Actions (public good)


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    vector: dict[str, Any] = json.loads((VECTORS / "cosign-legacy-server_image.json").read_text())
    return vector


@pytest.fixture(scope="module")
def public_good() -> TrustedRoot:
    return TrustedRoot.parse((VECTORS / "public-good-trusted_root.json").read_text())


GITHUB = KeylessAuthority(
    name="github",
    trusted_root="public-good",
    identities=(
        Identity(
            issuer="https://token.actions.githubusercontent.com",
            subject_regex=r"https://github\.com/salrashid123/go-bazel-github-workflow/\.github/workflows/release\.yaml@refs/tags/v.*",
        ),
    ),
)


def _real(
    vector: dict[str, Any],
    root: TrustedRoot,
    *,
    annotations: dict[str, str] | None = None,
    payload: bytes | None = None,
) -> Verification:
    layer = vector["layer"]
    annotations = annotations or layer["annotations"]
    signature = base64.b64decode(annotations["dev.cosignproject.cosign/signature"])
    data = payload if payload is not None else vector["payload"].encode()
    return verify_cosign_certificate(
        annotations, payload=data, signature=signature, authority=GITHUB, trusted_root=root
    )


def test_real_signature_verifies(real: dict[str, Any], public_good: TrustedRoot) -> None:
    assert "sha256:" + hashlib.sha256(real["payload"].encode()).hexdigest() == real["layer"]["digest"]
    result = _real(real, public_good)
    assert result.ok, result.message
    assert result.signed_at == datetime(2026, 2, 27, 18, 20, 46, tzinfo=UTC)
    assert result.signer == (
        "https://token.actions.githubusercontent.com|"
        "https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.30"
    )


def test_real_signature_tampered(real: dict[str, Any], public_good: TrustedRoot) -> None:
    assert not _real(
        real, public_good, payload=real["payload"].replace("server_image", "server_imagf").encode()
    ).ok
    annotations = dict(real["layer"]["annotations"])
    annotations["dev.sigstore.cosign/bundle"] = annotations["dev.sigstore.cosign/bundle"].replace(
        "1772216446", "1772216447"
    )
    tampered = _real(real, public_good, annotations=annotations)
    assert not tampered.ok and "does not verify" in tampered.message


def test_real_signature_other_identity(real: dict[str, Any], public_good: TrustedRoot) -> None:
    authority = KeylessAuthority(
        name="x",
        trusted_root="p",
        identities=(
            Identity(
                issuer="https://token.actions.githubusercontent.com",
                subject_regex=r"https://github\.com/sigstore/.*",
            ),
        ),
    )
    layer = real["layer"]
    signature = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    result = verify_cosign_certificate(
        layer["annotations"],
        payload=real["payload"].encode(),
        signature=signature,
        authority=authority,
        trusted_root=public_good,
    )
    assert not result.ok and "does not match https://github\\.com/sigstore/.*" in result.message
