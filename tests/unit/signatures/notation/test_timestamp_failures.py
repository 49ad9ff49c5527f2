"""verify_notation refusing countersignatures, and what each level does with the refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.notation import COSE, JWS, NOW, Issued, policy
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

INVALID = "the timestamp countersignature is not valid: "


def refused(pki: Pki, envelope: bytes, *tsa_certificates: Any, media_type: str = JWS, **options: Any) -> str:
    options.setdefault("policies", [TSA_POLICY])
    result = verify(
        pki, envelope, media_type=media_type, stores=tsa_stores(pki, *tsa_certificates), **options
    )
    assert not result.ok
    assert result.message.endswith("(authenticTimestamp is enforced by trust policy 'test-images')")
    return result.message


@pytest.mark.parametrize("media_type", [JWS, COSE])
def test_missing_countersignature_when_required(pki: Pki, tsa: TestTSA, media_type: str) -> None:
    message = refused(pki, signed(pki, media_type=media_type), tsa.root, media_type=media_type)
    assert message.startswith(
        "the signature has no timestamp countersignature, which trust policy 'test-images' requires (tsa:acme-tsa)"
    )


@pytest.mark.parametrize("media_type", [JWS, COSE])
def test_countersignature_over_other_bytes(pki: Pki, tsa: TestTSA, media_type: str) -> None:
    def elsewhere(signature: bytes) -> bytes:
        return tsa.countersigner(SIGNED)(b"another signature")

    envelope = signed(pki, media_type=media_type, countersign=elsewhere)
    message = refused(pki, envelope, tsa.root, media_type=media_type)
    assert message.startswith(INVALID + "its message imprint is not the hash of this signature")


def test_tsa_not_in_the_tsa_store(pki: Pki, expired: Issued, tsa: TestTSA) -> None:
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=tsa.countersigner(SIGNED))
    message = refused(pki, envelope, TestTSA(name="someone-elses-tsa").root)
    assert message.startswith(INVALID + "certificate 'CN=acme-tsa-root,O=corp.example' does not chain")


def test_tsa_certificate_neither_in_the_token_nor_in_the_store(pki: Pki, tsa: TestTSA) -> None:
    def bare(signature: bytes) -> bytes:
        return tsa.timestamp(signature, SIGNED, response=False)  # no certificates embedded

    message = refused(pki, signed(pki, countersign=bare), tsa.root)
    assert "is neither in the token nor in the trusted certificates" in message


def test_tsa_without_the_time_stamping_eku(pki: Pki, expired: Issued) -> None:
    no_eku = TestTSA(name="acme-tsa", eku=False)
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=no_eku.countersigner(SIGNED))
    message = refused(pki, envelope, no_eku.root)
    assert "is not a time-stamping certificate (critical extended key usage id-kp-timeStamping)" in message


def test_tsa_key_outside_the_algorithm_requirements(pki: Pki, expired: Issued) -> None:
    ed25519 = TestTSA(name="acme-tsa", key_type="ed25519")
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=ed25519.countersigner(SIGNED))
    assert "has a key that is neither RSA" in refused(pki, envelope, ed25519.root)


@pytest.mark.parametrize(
    ("gen_time", "expected"),
    [
        (NOW - timedelta(days=1), "may be after certificate 'CN=SecureBuilder"),  # after notAfter
        (NOW - timedelta(days=40), "may be before certificate 'CN=SecureBuilder"),  # before notBefore
    ],
)
def test_gen_time_outside_the_certificate_validity(
    pki: Pki, expired: Issued, tsa: TestTSA, gen_time: Any, expected: str
) -> None:
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=tsa.countersigner(gen_time))
    message = refused(pki, envelope, tsa.root)
    assert message.startswith(f"the timestamp ({gen_time.isoformat()} ± 1s) {expected}")


def test_tsa_not_valid_at_gen_time(pki: Pki) -> None:
    young = TestTSA(name="acme-tsa", not_before=NOW - timedelta(days=1))
    envelope = signed(pki, countersign=young.countersigner(SIGNED))
    assert "was not valid at" in refused(pki, envelope, young.root)


@pytest.mark.parametrize("media_type", [JWS, COSE])
def test_garbage_token(pki: Pki, tsa: TestTSA, media_type: str) -> None:
    envelope = signed(pki, media_type=media_type, unprotected=garbage_countersignature(media_type))
    message = refused(pki, envelope, tsa.root, media_type=media_type)
    assert message.startswith(INVALID + "timestamp is not a valid RFC 3161 token")


def test_time_stamp_response_instead_of_the_token(pki: Pki, tsa: TestTSA) -> None:
    def response(signature: bytes) -> bytes:
        return tsa.timestamp(signature, SIGNED, response=True, embed=True)

    message = refused(pki, signed(pki, countersign=response), tsa.root)
    assert message.startswith(INVALID + "timestamp is a TimeStampResp, not the bare TimeStampToken")


def test_unavailable_tsa_store(pki: Pki, tsa: TestTSA) -> None:
    elsewhere = policy(stores=["ca:acme-rockets", "tsa:missing"])
    envelope = signed(pki, countersign=tsa.countersigner(SIGNED))
    message = refused(pki, envelope, tsa.root, policies=[elsewhere])
    assert message.startswith("trust store tsa:missing of trust policy 'test-images' is not available")


@pytest.mark.parametrize(
    "settings",
    [{"level": "permissive"}, {"level": "audit"}, {"override": {"authenticTimestamp": "log"}}],
)
def test_logged_timestamp_failure(pki: Pki, expired: Issued, tsa: TestTSA, settings: dict[str, Any]) -> None:
    relaxed = policy(stores=["ca:acme-rockets", "tsa:acme-tsa"], **settings)
    envelope = signed(
        pki, expired, signing_time=SIGNED, countersign=tsa.countersigner(NOW - timedelta(days=1))
    )
    result = verify(pki, envelope, policies=[relaxed], stores=tsa_stores(pki, tsa.root))
    assert result.ok, result.message
    assert result.signed_at is None  # nothing was proven
    assert result.notes[0].startswith(
        "authenticTimestamp check failed, logged only by trust policy 'test-images': the timestamp ("
    )


def test_permissive_enforcing_the_timestamp_by_override(pki: Pki, expired: Issued, tsa: TestTSA) -> None:
    strictest = policy(
        stores=["ca:acme-rockets", "tsa:acme-tsa"],
        level="permissive",
        override={"authenticTimestamp": "enforce"},
    )
    envelope = signed(pki, expired, signing_time=SIGNED)
    assert "has no timestamp countersignature" in refused(pki, envelope, tsa.root, policies=[strictest])


def test_accuracy_out_of_range(pki: Pki, expired: Issued, tsa: TestTSA) -> None:
    countersign = tsa.countersigner(SIGNED, accuracy=(0, 1000, 0))  # millis is 1..999
    envelope = signed(pki, expired, signing_time=SIGNED, countersign=countersign)
    assert "TSTInfo accuracy is out of range" in refused(pki, envelope, tsa.root)
