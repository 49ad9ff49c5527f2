"""verify_notation with RFC 3161 countersignatures: when a timestamp counts, and what it proves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.notation import COSE, JWS, NOW, Issued, make_leaf, policy
from tests.support.tsa import TestTSA
from tests.unit.signatures.notation.helpers import (
    SIGNED,
    TSA_POLICY,
    Pki,
    garbage_countersignature,
    signed,
    tsa_stores,
    verify,
)


@pytest.mark.parametrize("media_type", [JWS, COSE])
@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_countersigned_signature_outlives_its_certificate(
    pki: Pki, expired: Issued, media_type: str, key_type: Any
) -> None:
    authority = TestTSA(name="acme-tsa", key_type=key_type)
    envelope = signed(
        pki, expired, media_type, signing_time=SIGNED, countersign=authority.countersigner(SIGNED)
    )
    stores = tsa_stores(pki, authority.root)
    result = verify(pki, envelope, media_type=media_type, policies=[TSA_POLICY], stores=stores)
    assert result.ok, result.message
    assert result.signed_at == SIGNED
    assert result.notes == (
        "revocation: no certificate of the signing or the TSA chain names an OCSP responder or a CRL, so none can be revoked",
    )
    # The same signature without a tsa store: the certificate must be valid now, and is not.
    plain = verify(pki, envelope, media_type=media_type)
    assert not plain.ok and "is not valid now" in plain.message


def test_after_cert_expiry_verifies_the_timestamp_once_a_certificate_expired(
    pki: Pki, expired: Issued, tsa: TestTSA
) -> None:
    later = policy(stores=["ca:acme-rockets", "tsa:acme-tsa"], verify_timestamp="afterCertExpiry")
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=tsa.countersigner(SIGNED))
    result = verify(pki, envelope, policies=[later], stores=tsa_stores(pki, tsa.root))
    assert result.ok, result.message
    assert result.signed_at == SIGNED
    missing = verify(pki, signed(pki, expired), policies=[later], stores=tsa_stores(pki, tsa.root))
    assert not missing.ok and "has no timestamp countersignature" in missing.message


@pytest.mark.parametrize("media_type", [JWS, COSE])
def test_after_cert_expiry_skips_the_timestamp_while_the_certificates_are_valid(
    pki: Pki, tsa: TestTSA, media_type: str
) -> None:
    later = policy(stores=["ca:acme-rockets", "tsa:acme-tsa"], verify_timestamp="afterCertExpiry")
    # Not even read: a broken countersignature cannot fail it either.
    envelope = signed(pki, media_type=media_type, unprotected=garbage_countersignature(media_type))
    result = verify(pki, envelope, media_type=media_type, policies=[later], stores=tsa_stores(pki, tsa.root))
    assert result.ok, result.message
    assert result.signed_at is None


def test_countersignature_is_ignored_without_a_tsa_store(pki: Pki) -> None:
    result = verify(pki, signed(pki, unprotected=garbage_countersignature(JWS)))
    assert result.ok, result.message
    assert result.signed_at is None


def test_store_may_pin_the_tsa_certificate_itself(pki: Pki, expired: Issued, tsa: TestTSA) -> None:
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=tsa.countersigner(SIGNED))
    result = verify(pki, envelope, policies=[TSA_POLICY], stores=tsa_stores(pki, tsa.cert))
    assert result.ok, result.message


@pytest.mark.parametrize(
    ("before_expiry", "accuracy", "timestamp_policy", "ok"),
    [
        (1, (0, 500, 0), "1.2.3.4", True),  # genTime + 0.5 s still inside
        (1, (2, 0, 0), "1.2.3.4", False),  # genTime + 2 s may be after notAfter
        (0, None, "1.2.3.4", True),  # no accuracy, no baseline policy: genTime, bounds included
        (0, None, "0.4.0.2023.1.1", False),  # the baseline time-stamp policy means 1 s
    ],
)
def test_accuracy_widens_the_timestamp(
    pki: Pki, tsa: TestTSA, before_expiry: int, accuracy: Any, timestamp_policy: str, ok: bool
) -> None:
    leaf = make_leaf(pki.intermediate, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=2))
    gen_time = leaf.cert.not_valid_after_utc - timedelta(seconds=before_expiry)
    countersign = tsa.countersigner(gen_time, accuracy=accuracy, policy=timestamp_policy)
    envelope = signed(pki, leaf, signing_time=gen_time, countersign=countersign)
    result = verify(pki, envelope, policies=[TSA_POLICY], stores=tsa_stores(pki, tsa.root))
    assert result.ok is ok, result.message
    if not ok:
        assert "may be after certificate 'CN=SecureBuilder" in result.message


def test_signing_authority_time_is_authentic_without_a_countersignature(pki: Pki, tsa: TestTSA) -> None:
    sa_policy = policy(stores=["signingAuthority:acme-sa", "tsa:acme-tsa"])
    stores = {"signingAuthority:acme-sa": [pki.root.cert], "tsa:acme-tsa": [tsa.root]}
    envelope = signed(
        pki,
        scheme="notary.x509.signingAuthority",
        signing_time=SIGNED,
        unprotected=garbage_countersignature(JWS),
    )
    result = verify(pki, envelope, policies=[sa_policy], stores=stores)
    assert result.ok, result.message
    assert result.signed_at == SIGNED


def test_tsa_chain_revocation_follows_the_revocation_setting(pki: Pki, expired: Issued) -> None:
    revocable = TestTSA(name="acme-tsa", crl_url="http://crl.acme-tsa.test/tsa.crl")
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=revocable.countersigner(SIGNED))
    stores = tsa_stores(pki, revocable.root)
    strict = verify(pki, envelope, policies=[TSA_POLICY], stores=stores)
    assert not strict.ok
    assert "not possible offline (TSA CN=acme-tsa,O=corp.example name OCSP or CRL" in strict.message
    skipping = policy(stores=["ca:acme-rockets", "tsa:acme-tsa"], override={"revocation": "skip"})
    result = verify(pki, envelope, policies=[skipping], stores=stores)
    assert result.ok, result.message
    assert result.notes == ("revocation check skipped by trust policy 'test-images'",)
