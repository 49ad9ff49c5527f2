"""RFC 3161 timestamps as the proven signing time of keyless cosign signatures and bundles."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from proxy.signatures.bundle import verify_bundle
from proxy.signatures.keyless import verify_cosign_certificate
from proxy.signatures.model import Identity, KeyAuthority, KeylessAuthority, SignedImage, Verification
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.sigstore_artifacts import (
    SIGNED_AT,
    add_timestamp,
    b64,
    cosign_keyless,
    dsse_bundle,
    encode,
    message_bundle,
    simple_signing,
    statement,
    with_timestamp,
)
from tests.support.sigstore_world import ISSUER, T0, World
from tests.support.tsa import TestTSA

PAYLOAD = simple_signing("sha256:" + "ab" * 32)
MANIFEST = b'{"schemaVersion":2}'
IMAGE = SignedImage(
    digest="sha256:" + hashlib.sha256(MANIFEST).hexdigest(), repository="registry.corp.example/app"
)
CI = KeylessAuthority(
    name="ci", trusted_root="test", identities=(Identity(issuer=ISSUER, subject="ci@corp.example"),)
)
TIMESTAMP_ONLY = "the signature has no Rekor entry (dev.sigstore.cosign/bundle): its time is proven by an RFC 3161 timestamp only"


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def root(world: World) -> TrustedRoot:
    return TrustedRoot.parse(world.trusted_root())


def _sig(annotations: dict[str, str], signature: bytes, root: TrustedRoot) -> Verification:
    return verify_cosign_certificate(
        annotations, payload=PAYLOAD, signature=signature, authority=CI, trusted_root=root
    )


def _bundle(
    bundle: dict[str, Any], root: TrustedRoot | None, authority: Any = CI, keys: Any = None
) -> Verification:
    return verify_bundle(
        encode(bundle), IMAGE, authority, trusted_root=root, keys=keys, artifact_digest="sha256:00"
    )


def _timestamp_only_sig(world: World, tsa: TestTSA | None = None, **kw: Any) -> tuple[dict[str, str], bytes]:
    annotations, signature = cosign_keyless(world, PAYLOAD, with_bundle=False)
    return with_timestamp(annotations, signature, tsa or world.tsa, **kw), signature


# -- legacy .sig layers -------------------------------------------------------------------------


def test_sig_with_only_a_timestamp_verifies_at_gen_time(world: World, root: TrustedRoot) -> None:
    at = T0 + timedelta(minutes=3)
    result = _sig(*_timestamp_only_sig(world, at=at), root)
    assert result.ok, result.message
    assert result.signed_at == at and result.notes == (TIMESTAMP_ONLY,)
    assert result.message == f"signed by ci@corp.example (issuer {ISSUER}) at {at.isoformat()}"


def test_sig_with_rekor_entry_and_timestamp_reports_the_earliest(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD)  # Rekor at SIGNED_AT
    annotations = with_timestamp(annotations, signature, world.tsa, at=SIGNED_AT - timedelta(seconds=20))
    result = _sig(annotations, signature, root)
    assert result.ok and result.signed_at == SIGNED_AT - timedelta(seconds=20) and result.notes == ()


def test_a_bad_timestamp_beside_a_good_rekor_entry_fails(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD)
    assert _sig(annotations, signature, root).ok
    result = _sig(with_timestamp(annotations, b"other bytes", world.tsa), signature, root)
    assert not result.ok
    assert result.message == "RFC 3161 timestamp: its message imprint is not the hash of this signature"


def test_the_certificate_is_checked_at_every_proven_time(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD)  # Rekor inside the leaf's ten minutes
    late = T0 + timedelta(minutes=30)
    result = _sig(with_timestamp(annotations, signature, world.tsa, at=late), signature, root)
    assert not result.ok and f"was not valid at {late.isoformat()}" in result.message


def test_leaf_expired_at_gen_time_fails(world: World, root: TrustedRoot) -> None:
    result = _sig(*_timestamp_only_sig(world, at=T0 + timedelta(minutes=11)), root)
    assert not result.ok and "was not valid at 2024-05-01T12:11:00+00:00" in result.message


def test_timestamp_over_other_bytes_fails(world: World, root: TrustedRoot) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD, with_bundle=False)
    result = _sig(with_timestamp(annotations, PAYLOAD, world.tsa), signature, root)
    assert not result.ok and "message imprint is not the hash of this signature" in result.message


def test_tsa_not_in_the_trusted_root_fails(world: World, root: TrustedRoot) -> None:
    stranger = TestTSA(name="stranger-tsa")
    result = _sig(*_timestamp_only_sig(world, stranger, embed=True), root)
    assert not result.ok
    assert "certificate 'CN=stranger-tsa,O=corp.example' does not chain to a trusted root" in result.message
    result = _sig(*_timestamp_only_sig(world, stranger), root)
    assert not result.ok and "is neither in the token nor in the trusted root" in result.message


def test_tsa_certificate_without_the_time_stamping_eku_fails(world: World) -> None:
    no_eku = TestTSA(name="no-eku-tsa", eku=False)
    root = TrustedRoot.parse(world.trusted_root(timestamp_authorities=[no_eku.authority_entry()]))
    result = _sig(*_timestamp_only_sig(world, no_eku), root)
    assert not result.ok
    assert (
        "is not a time-stamping certificate (critical extended key usage id-kp-timeStamping)"
        in result.message
    )


def test_gen_time_outside_the_tsa_valid_for_fails(world: World) -> None:
    root = TrustedRoot.parse(world.trusted_root(tsa_valid=(datetime(2020, 1, 1, tzinfo=UTC), T0)))
    result = _sig(*_timestamp_only_sig(world), root)
    assert not result.ok
    assert result.message == (
        "RFC 3161 timestamp: no timestamp authority of the trusted root was valid at 2024-05-01T12:01:00+00:00"
    )


def test_a_trusted_root_without_timestamp_authorities_fails(world: World) -> None:
    root = TrustedRoot.parse(world.trusted_root(timestamp_authorities=[]))
    result = _sig(*_timestamp_only_sig(world), root)
    assert (
        not result.ok and result.message == "RFC 3161 timestamp: the trusted root has no timestamp authority"
    )


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("signed-attributes", "its signature does not verify with the key of 'CN=test-tsa,O=corp.example'"),
        ("signature", "its signature does not verify with the key of 'CN=test-tsa,O=corp.example'"),
        ("content", "its messageDigest attribute is not the hash of the signed TSTInfo"),
    ],
)
def test_tampered_tokens_fail(world: World, root: TrustedRoot, tamper: str, message: str) -> None:
    result = _sig(*_timestamp_only_sig(world, tamper=tamper), root)
    assert not result.ok and result.message == f"RFC 3161 timestamp: {message}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "{}",
        "[]",
        "null",
        '{"SignedRFC3161Timestamp": 1}',
        '{"SignedRFC3161Timestamp": "!!"}',
        "{" * 10_000,
    ],
)
def test_unreadable_annotations_fail_cleanly(world: World, root: TrustedRoot, value: str) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD, with_bundle=False)
    result = _sig({**annotations, "dev.sigstore.cosign/rfc3161timestamp": value}, signature, root)
    assert not result.ok
    assert result.message.startswith("dev.sigstore.cosign/rfc3161timestamp annotation cannot be read")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("MAUwAwIBAA==", "timestamp response carries no token"),  # granted, yet no token
        ("MAUwAwIBAg==", "timestamp response status is rejection, not granted"),
        ("MAMCAQA=", "timestamp is not a valid RFC 3161 token: "),
    ],
)
def test_responses_without_a_token_fail_cleanly(
    world: World, root: TrustedRoot, token: str, message: str
) -> None:
    annotations, signature = cosign_keyless(world, PAYLOAD, with_bundle=False)
    value = json.dumps({"SignedRFC3161Timestamp": token})
    result = _sig({**annotations, "dev.sigstore.cosign/rfc3161timestamp": value}, signature, root)
    assert not result.ok and result.message.startswith(f"RFC 3161 timestamp: {message}")


# -- sigstore bundles ---------------------------------------------------------------------------


@pytest.mark.parametrize("tlog", [True, False])
def test_message_bundle_with_a_timestamp(world: World, root: TrustedRoot, tlog: bool) -> None:
    bundle = add_timestamp(message_bundle(world, MANIFEST, tlog=tlog), world.tsa, at=SIGNED_AT)
    result = _bundle(bundle, root)
    assert result.ok, result.message
    assert result.signed_at == SIGNED_AT
    assert result.notes == (() if tlog else ("the bundle has no transparency log entry",))


def test_dsse_bundle_timestamp_is_over_the_envelope_signature(world: World, root: TrustedRoot) -> None:
    bundle = add_timestamp(dsse_bundle(world, statement(IMAGE.digest[7:]), tlog=False), world.tsa)
    assert _bundle(bundle, root).ok
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"])
    over_payload = {"signedTimestamp": b64(world.tsa.timestamp(payload, SIGNED_AT))}
    bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] = [over_payload]
    assert "message imprint is not the hash of this signature" in _bundle(bundle, root).message


def test_every_bundle_timestamp_must_verify(world: World, root: TrustedRoot) -> None:
    bundle = add_timestamp(message_bundle(world, MANIFEST), world.tsa)
    bundle = add_timestamp(bundle, TestTSA(name="stranger-tsa"), embed=True)
    result = _bundle(bundle, root)
    assert not result.ok and "does not chain to a trusted root" in result.message


def test_bundle_without_any_proven_time(world: World, root: TrustedRoot) -> None:
    result = _bundle(message_bundle(world, MANIFEST, tlog=False), root)
    assert result.message == (
        "no proven signing time: the bundle has neither a transparency log entry nor an RFC 3161 timestamp"
    )


def test_too_many_bundle_timestamps(world: World, root: TrustedRoot) -> None:
    bundle = message_bundle(world, MANIFEST)
    token = b64(world.tsa.timestamp(b"x", SIGNED_AT))
    bundle["verificationMaterial"]["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": token}] * 9
    }
    assert _bundle(bundle, root).message == "bundle has 9 RFC 3161 timestamps"


def test_key_authority_bundle_timestamp(world: World, root: TrustedRoot) -> None:
    leaf = world.leaf()
    bundle = add_timestamp(message_bundle(world, MANIFEST, leaf, tlog=False), world.tsa)
    keyed = KeyAuthority(name="key", key="k")
    result = _bundle(bundle, root, keyed, keys=(leaf.key.public_key(),))
    assert result.ok and result.signed_at == SIGNED_AT
    assert result.notes == ("the bundle has no transparency log entry",)
    result = _bundle(bundle, None, keyed, keys=(leaf.key.public_key(),))
    assert result.ok and result.signed_at is None
    assert "1 RFC 3161 timestamp(s) not checked: no trusted root" in result.notes
    bad = add_timestamp(message_bundle(world, MANIFEST, leaf, tlog=False), world.tsa, tamper="signature")
    assert not _bundle(bad, root, keyed, keys=(leaf.key.public_key(),)).ok
