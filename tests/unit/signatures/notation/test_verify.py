"""verify_notation: integrity, authenticity and identities, policy selection, end to end."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.support.notation import (
    COSE,
    IDENTITY,
    JWS,
    NOW,
    make_leaf,
    payload,
    policy,
    sign_jws,
    signature_manifest,
)
from tests.unit.signatures.notation.helpers import DIGEST, IMAGE, Pki, signed, verify


@pytest.mark.parametrize("media_type", [JWS, COSE])
@pytest.mark.parametrize("leaf", ["rsa2048", "ec256", "ec384"])
def test_valid_signature(pki: Pki, media_type: str, leaf: str) -> None:
    result = verify(pki, signed(pki, getattr(pki, leaf), media_type), media_type=media_type)
    assert result.ok, result.message
    assert (
        result.signer
        == "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder"
    )
    assert result.authority == "notation-acme"
    assert result.artifact == "sha256:sig"
    assert result.signed_at is None  # notary.x509: the signing time is only claimed
    assert "verified by trust policy 'test-images' (strict)" in result.message
    assert result.notes == (
        "revocation: no certificate of the chain names an OCSP responder or a CRL, so none can be revoked",
    )


def test_wrong_digest(pki: Pki) -> None:
    other = "sha256:" + "34" * 32
    result = verify(pki, signed(pki, digest=other))
    assert not result.ok
    assert result.message == f"signature is for {other} but the image is {DIGEST}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "the signed payload is not JSON"),
        (b'{"subject": {}}', "no targetArtifact descriptor"),
        (b'{"targetArtifact": {"mediaType": "x", "size": 1}}', "no valid digest"),
        (b'{"targetArtifact": {"digest": "' + DIGEST.encode() + b'", "size": 1}}', "no mediaType"),
        (b'{"targetArtifact": {"digest": "' + DIGEST.encode() + b'", "mediaType": "x"}}', "no valid size"),
        (
            b'{"targetArtifact": {"digest": "' + DIGEST.encode() + b'", "mediaType": "x", "size": true}}',
            "no valid size",
        ),
    ],
)
def test_payload_must_describe_the_target(pki: Pki, content: bytes, message: str) -> None:
    result = verify(pki, sign_jws(pki.ec256, pki.chain(pki.ec256), content))
    assert not result.ok and message in result.message


def test_unsupported_media_type(pki: Pki) -> None:
    result = verify(pki, signed(pki), media_type="application/pkcs7-signature")
    assert not result.ok and "unsupported Notation envelope media type" in result.message


def test_untrusted_ca(pki: Pki) -> None:
    result = verify(pki, signed(pki), stores={"ca:acme-rockets": [pki.other_root.cert]})
    assert not result.ok
    assert "does not chain to a trusted root" in result.message
    assert "authenticity is enforced by trust policy 'test-images'" in result.message


def test_trust_store_may_hold_the_intermediate(pki: Pki) -> None:
    assert verify(pki, signed(pki), stores={"ca:acme-rockets": [pki.intermediate.cert]}).ok


def test_missing_trust_store(pki: Pki) -> None:
    result = verify(pki, signed(pki), stores={})
    assert not result.ok
    assert "trust store ca:acme-rockets of trust policy 'test-images' is not available" in result.message


def test_signing_authority_signature_needs_a_signing_authority_store(pki: Pki) -> None:
    envelope = signed(pki, scheme="notary.x509.signingAuthority")
    result = verify(pki, envelope)
    assert not result.ok and "names no signingAuthority trust store" in result.message
    sa_policy = policy(stores=["signingAuthority:acme-sa"])
    result = verify(pki, envelope, policies=[sa_policy], stores={"signingAuthority:acme-sa": [pki.root.cert]})
    assert result.ok, result.message
    assert result.signed_at == NOW - timedelta(hours=1)  # an authentic signing time is proof


def test_identity_mismatch(pki: Pki) -> None:
    strangers = policy(identities=["x509.subject: C=US, ST=WA, O=wabbit-networks.io"])
    result = verify(pki, signed(pki), policies=[strangers])
    assert not result.ok
    assert "is not a trusted identity of trust policy 'test-images'" in result.message


@pytest.mark.parametrize(
    "identities",
    [
        ["*"],
        ["x509.subject: O=acme-rockets.io, ST=WA, C=US"],  # a subset, in any order
        ["x509.subject: C=US, ST=WA, O=wabbit-networks.io", IDENTITY],
    ],
)
def test_trusted_identities_that_match(pki: Pki, identities: list[str]) -> None:
    assert verify(pki, signed(pki), policies=[policy(identities=identities)]).ok


def test_an_identity_attribute_must_match_exactly(pki: Pki) -> None:
    wrong_unit = policy(identities=["x509.subject: C=US, ST=WA, O=acme-rockets.io, OU=Fin"])
    assert not verify(pki, signed(pki), policies=[wrong_unit]).ok


def test_leaf_without_code_signing_eku(pki: Pki) -> None:
    leaf = make_leaf(pki.intermediate, eku=None)
    result = verify(pki, signed(pki, leaf))
    assert not result.ok and "is not for code signing" in result.message


def test_leaf_with_server_auth_eku(pki: Pki) -> None:
    leaf = make_leaf(
        pki.intermediate,
        eku=[x509.oid.ExtendedKeyUsageOID.CODE_SIGNING, x509.oid.ExtendedKeyUsageOID.SERVER_AUTH],
    )
    result = verify(pki, signed(pki, leaf))
    assert not result.ok and "has extended key usage serverAuth" in result.message


def test_chain_out_of_order(pki: Pki) -> None:
    envelope = sign_jws(pki.ec256, [pki.ec256.cert, pki.root.cert, pki.intermediate.cert], payload(DIGEST))
    result = verify(pki, envelope)
    assert not result.ok and "the chain is not ordered" in result.message


def test_no_applicable_policy(pki: Pki) -> None:
    result = verify(pki, signed(pki), policies=[policy(scopes=["registry.acme-rockets.io/other"])])
    assert not result.ok and "no Notation trust policy applies to" in result.message


def test_exact_scope_wins_over_global(pki: Pki) -> None:
    exact = policy("exact", scopes=[IMAGE.repository], identities=["x509.subject: C=US, ST=WA, O=nobody"])
    result = verify(pki, signed(pki), policies=[policy("global"), exact])
    assert not result.ok and "trust policy 'exact'" in result.message


@pytest.mark.parametrize("media_type", [JWS, COSE])
def test_garbage_is_a_failed_verification(pki: Pki, media_type: str) -> None:
    for data in (b"", b"\x00", b"{}", b"\xd2\x84\x40\xa0\x40\x40", bytes(range(256))):
        result = verify(pki, data, media_type=media_type)
        assert not result.ok and result.message


def test_naive_now_is_a_programming_error(pki: Pki) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(pki, signed(pki), now=NOW.replace(tzinfo=None))


def test_signature_manifest_as_notation_pushes_it(pki: Pki) -> None:
    envelope = signed(pki)
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": DIGEST, "size": 528}
    manifest = json.loads(signature_manifest(envelope, JWS, subject, pki.chain(pki.ec256)))
    assert manifest["artifactType"] == "application/vnd.cncf.notary.signature"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert (
        manifest["config"]["digest"]
        == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    (layer,) = manifest["layers"]
    assert layer == {
        "mediaType": JWS,
        "digest": "sha256:" + hashlib.sha256(envelope).hexdigest(),
        "size": len(envelope),
    }
    assert manifest["subject"] == subject
    thumbprints = json.loads(manifest["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"])
    assert thumbprints == [c.fingerprint(hashes.SHA256()).hex() for c in pki.chain(pki.ec256)]
    assert verify(pki, envelope).ok


def test_legacy_signature_manifest(pki: Pki) -> None:
    envelope = signed(pki, media_type=COSE)
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": DIGEST, "size": 528}
    manifest = json.loads(signature_manifest(envelope, COSE, subject, pki.chain(pki.ec256), legacy=True))
    assert "artifactType" not in manifest
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.notary.signature"
    assert manifest["layers"][0]["mediaType"] == COSE
    # Whatever the manifest's form, the verifier is handed the layer: the envelope blob.
    assert verify(pki, envelope, media_type=COSE).ok
