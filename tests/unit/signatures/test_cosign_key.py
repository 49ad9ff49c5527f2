"""Key-based cosign verification, steps 1 to 3 of SIGNATURE_SPEC (steps 4 to 6: test_cosign_claims),
and the `.sig` manifests the test helpers write."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from proxy.signatures.cosign import CERTIFICATE_ANNOTATION, SIGNATURE_ANNOTATION, verify_cosign_blob
from proxy.signatures.keys import PublicKey, key_id, load_public_keys
from proxy.signatures.model import (
    KeyAuthority,
    KeylessAuthority,
    SignatureBlob,
    SignedImage,
    Verification,
)
from proxy.signatures.simple_signing import MAX_PAYLOAD_BYTES
from tests.support.cosign import (
    KEY_KINDS,
    SIMPLE_SIGNING,
    CosignLayer,
    KeyKind,
    PrivateKey,
    generate_key,
    public_pem,
    sign_payload,
    signature_manifest,
    signature_tag,
    simple_signing_payload,
)
from tests.support.images import OCI_CONFIG, OCI_MANIFEST, sha256_digest

IMAGE = SignedImage(digest="sha256:" + "ab" * 32, repository="registry.example.com/team/app")
ARTIFACT = "sha256:" + "cd" * 32
AUTHORITY = KeyAuthority(name="release", key="release-keys")


@pytest.fixture(scope="module")
def private_keys() -> dict[KeyKind, PrivateKey]:
    return {kind: generate_key(kind) for kind in KEY_KINDS}


@pytest.fixture(scope="module")
def signer(private_keys: dict[KeyKind, PrivateKey]) -> PrivateKey:
    return private_keys["p256"]


@pytest.fixture(scope="module")
def keys(signer: PrivateKey) -> tuple[PublicKey, ...]:
    return load_public_keys(public_pem(signer))


def _layer(
    key: PrivateKey, *, reference: str = IMAGE.repository, digest: str = IMAGE.digest, **kw: Any
) -> CosignLayer:
    return sign_payload(key, simple_signing_payload(reference, digest, kw.pop("optional", None), **kw))


def _verify(
    blob: SignatureBlob | CosignLayer,
    keys: tuple[PublicKey, ...] | None,
    authority: KeyAuthority | KeylessAuthority = AUTHORITY,
    image: SignedImage = IMAGE,
) -> Verification:
    if isinstance(blob, CosignLayer):
        blob = blob.blob()
    return verify_cosign_blob(blob, image, authority, keys=keys, artifact_digest=ARTIFACT)


def _failure(verification: Verification) -> str:
    assert not verification.ok, verification
    assert verification.signer is None
    assert verification.artifact == ARTIFACT
    return verification.message


# --- success -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_each_key_type_verifies(private_keys: dict[KeyKind, PrivateKey], kind: KeyKind) -> None:
    keys = load_public_keys(public_pem(private_keys[kind]))
    result = _verify(_layer(private_keys[kind]), keys)
    assert result == Verification(
        ok=True,
        authority="release",
        message=f"signed by key {key_id(keys[0])}",
        signer=key_id(keys[0]),
        artifact=ARTIFACT,
    )


def test_any_key_of_the_authority_verifies(private_keys: dict[KeyKind, PrivateKey]) -> None:
    keys = load_public_keys(public_pem(private_keys["rsa2048"]) + public_pem(private_keys["ed25519"]))
    result = _verify(_layer(private_keys["ed25519"]), keys)
    assert result.ok
    assert result.signer == key_id(keys[1])


def test_sha512_descriptor_digests_are_checked_too(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    layer = _layer(signer)
    digest = "sha512:" + hashlib.sha512(layer.payload).hexdigest()
    assert _verify(SignatureBlob(layer.blob().media_type, digest, layer.payload, layer.annotations), keys).ok


# --- step 1: the payload is the blob its descriptor names -------------------------------


def test_descriptor_digest_mismatch(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    layer = _layer(signer)
    stated = "sha256:" + "0" * 64
    blob = SignatureBlob(layer.blob().media_type, stated, layer.payload, layer.annotations)
    assert (
        _failure(_verify(blob, keys))
        == f"payload digest {layer.digest} does not match its descriptor {stated}"
    )


def test_invalid_descriptor_digest(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    layer = _layer(signer)
    blob = SignatureBlob(layer.blob().media_type, "md5:1234", layer.payload, layer.annotations)
    assert _failure(_verify(blob, keys)).startswith("payload descriptor digest is invalid")


def test_other_media_types_are_not_cosign_payloads(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    layer = _layer(signer)
    blob = SignatureBlob(
        "application/vnd.oci.image.layer.v1.tar", layer.digest, layer.payload, layer.annotations
    )
    assert "is not application/vnd.dev.cosign.simplesigning.v1+json" in _failure(_verify(blob, keys))


def test_oversize_payload_is_refused_before_any_crypto(
    signer: PrivateKey, keys: tuple[PublicKey, ...]
) -> None:
    layer = _layer(signer, optional={"pad": "x" * MAX_PAYLOAD_BYTES})
    assert "more than the 65536 a simple-signing payload may have" in _failure(_verify(layer, keys))


# --- step 2: the signature annotation ------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({}, f"layer has no {SIGNATURE_ANNOTATION} annotation"),
        ({SIGNATURE_ANNOTATION: ""}, f"{SIGNATURE_ANNOTATION} is empty"),
        ({SIGNATURE_ANNOTATION: "MEUCIQ*garbled"}, f"{SIGNATURE_ANNOTATION} is not valid base64"),
        ({SIGNATURE_ANNOTATION: "MEUCIQ"}, f"{SIGNATURE_ANNOTATION} is not valid base64"),
        ({SIGNATURE_ANNOTATION: "MEUC\u00e9Q=="}, f"{SIGNATURE_ANNOTATION} is not valid base64"),
        ({SIGNATURE_ANNOTATION: "A" * 20_000}, "too long for a signature"),
    ],
)
def test_missing_or_garbled_signature_annotation(
    signer: PrivateKey, keys: tuple[PublicKey, ...], annotations: dict[str, str], message: str
) -> None:
    layer = CosignLayer(_layer(signer).payload, annotations)
    assert message in _failure(_verify(layer, keys))


# --- step 3: the signature over the exact bytes, by a key of the authority ----------------


def test_wrong_key(private_keys: dict[KeyKind, PrivateKey], keys: tuple[PublicKey, ...]) -> None:
    message = _failure(_verify(_layer(private_keys["p384"]), keys))
    assert (
        message == f"signature made by no key we know, policy requires one of {key_id(keys[0])} (ECDSA P-256)"
    )


def test_tampered_payload(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    layer = _layer(signer)
    # The attacker fixes the descriptor up, so only the signature can tell.
    tampered = CosignLayer(layer.payload.replace(b"team/app", b"team/bad"), layer.annotations)
    assert _failure(_verify(tampered, keys)).startswith("signature made by no key we know")


def test_reformatted_payload_does_not_verify(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    layer = _layer(signer)
    spaced = layer.payload.replace(b'":"', b'": "')
    assert spaced != layer.payload
    assert not _verify(CosignLayer(spaced, layer.annotations), keys).ok


def test_a_signature_of_another_algorithm_is_a_clean_failure(
    private_keys: dict[KeyKind, PrivateKey], keys: tuple[PublicKey, ...]
) -> None:
    for kind in ("rsa2048", "ed25519", "p521"):
        assert not _verify(_layer(private_keys[kind]), keys).ok
    garbage = CosignLayer(_layer(private_keys["p256"]).payload, {SIGNATURE_ANNOTATION: "AAAA"})
    assert _failure(_verify(garbage, keys)).startswith("signature made by no key we know")


def test_many_keys_are_summarised(private_keys: dict[KeyKind, PrivateKey]) -> None:
    many = tuple(load_public_keys(public_pem(generate_key("p256")))[0] for _ in range(7))
    assert _failure(_verify(_layer(private_keys["p256"]), many)).endswith("and 2 more")


@pytest.mark.parametrize("keys", [None, ()])
def test_no_keys_fail_closed(signer: PrivateKey, keys: tuple[PublicKey, ...] | None) -> None:
    assert (
        _failure(_verify(_layer(signer), keys))
        == "trust material 'release-keys' holds no public key to verify with"
    )


def _certificate(key: ec.EllipticCurvePrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigstore-intermediate")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(minutes=10))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode()


def test_a_keyless_signature_presented_to_a_key_authority_names_its_key(keys: tuple[PublicKey, ...]) -> None:
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    layer = _layer(ephemeral)
    keyless = CosignLayer(
        layer.payload, {**layer.annotations, CERTIFICATE_ANNOTATION: _certificate(ephemeral)}
    )
    ephemeral_id = key_id(ephemeral.public_key())
    assert _failure(_verify(keyless, keys)).startswith(
        f"signature made with key {ephemeral_id} of the certificate it carries (a keyless signature), "
        f"policy requires one of {key_id(keys[0])}"
    )


def test_a_certificate_that_did_not_sign_or_cannot_be_read_names_no_key(
    signer: PrivateKey, private_keys: dict[KeyKind, PrivateKey]
) -> None:
    layer = _layer(signer)
    other = load_public_keys(public_pem(private_keys["ed25519"]))
    unrelated = ec.generate_private_key(ec.SECP256R1())
    for pem in (_certificate(unrelated), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with_cert = CosignLayer(layer.payload, {**layer.annotations, CERTIFICATE_ANNOTATION: pem})
        assert _failure(_verify(with_cert, other)).startswith("signature made by no key we know")


# --- several signatures in one .sig manifest ---------------------------------------------------


def test_each_layer_of_a_sig_manifest_is_its_own_signature(private_keys: dict[KeyKind, PrivateKey]) -> None:
    payload = simple_signing_payload(IMAGE.repository, IMAGE.digest)
    layers = [sign_payload(private_keys[kind], payload) for kind in ("p256", "ed25519", "rsa2048")]
    built = signature_manifest(layers)
    manifest = json.loads(built.manifest)
    config = json.loads(built.config)
    assert signature_tag(IMAGE.digest) == "sha256-" + "ab" * 32 + ".sig"
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"] == {
        "mediaType": OCI_CONFIG,
        "size": len(built.config),
        "digest": sha256_digest(built.config),
    }
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer.digest for layer in layers]}
    assert len(config["history"]) == 3
    payloads = {layer.digest: layer.payload for layer in layers}
    # The authority trusts the Ed25519 key only: one layer of three verifies.
    keys = load_public_keys(public_pem(private_keys["ed25519"]))
    results = []
    for descriptor in manifest["layers"]:
        assert descriptor["mediaType"] == SIMPLE_SIGNING
        blob = SignatureBlob(
            descriptor["mediaType"],
            descriptor["digest"],
            payloads[descriptor["digest"]],
            descriptor["annotations"],
        )
        results.append(verify_cosign_blob(blob, IMAGE, AUTHORITY, keys=keys, artifact_digest=built.digest).ok)
    assert results == [False, True, False]
