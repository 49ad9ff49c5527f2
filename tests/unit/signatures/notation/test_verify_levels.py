"""verify_notation: expiry, validity times, revocation, and what each level enforces or logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.notation import (
    NOW,
    make_leaf,
    policy,
)
from tests.unit.signatures.notation.helpers import IMAGE, Pki, signed, verify


def test_expired_signature(pki: Pki) -> None:
    envelope = signed(pki, expiry=NOW - timedelta(minutes=1))
    result = verify(pki, envelope)
    assert not result.ok
    assert "the signature expired at" in result.message and "expiry is enforced" in result.message
    relaxed = verify(pki, envelope, policies=[policy(override={"expiry": "log"})])
    assert relaxed.ok
    assert any(
        note.startswith("expiry check failed, logged only by trust policy 'test-images'")
        for note in relaxed.notes
    )
    assert verify(pki, envelope, now=NOW - timedelta(minutes=2)).ok


def test_certificate_expired_at_the_authentic_signing_time(pki: Pki) -> None:
    leaf = make_leaf(pki.intermediate, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=2))
    envelope = signed(pki, leaf, scheme="notary.x509.signingAuthority", signing_time=NOW - timedelta(days=1))
    sa_policy = policy(stores=["signingAuthority:acme-sa"])
    result = verify(pki, envelope, policies=[sa_policy], stores={"signingAuthority:acme-sa": [pki.root.cert]})
    assert not result.ok
    assert "is not valid when it was signed" in result.message
    assert "authenticTimestamp is enforced" in result.message


def test_notary_x509_certificates_must_be_valid_now(pki: Pki) -> None:
    leaf = make_leaf(pki.intermediate, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=2))
    # The claimed signing time (inside the validity period) proves nothing.
    envelope = signed(pki, leaf, signing_time=NOW - timedelta(days=3))
    result = verify(pki, envelope)
    assert not result.ok and "is not valid now" in result.message
    permissive = verify(pki, envelope, policies=[policy(level="permissive")])
    assert permissive.ok
    assert any("authenticTimestamp check failed, logged only" in note for note in permissive.notes)


def test_revocation_skipped_by_policy_is_noted(pki: Pki) -> None:
    leaf = make_leaf(pki.intermediate, crl_url="http://crl.acme-rockets.io/ca.crl")
    result = verify(pki, signed(pki, leaf), policies=[policy(override={"revocation": "skip"})])
    assert result.ok, result.message
    assert result.notes == ("revocation check skipped by trust policy 'test-images'",)


def test_revocation_enforced_under_strict_is_refused_offline(pki: Pki) -> None:
    leaf = make_leaf(pki.intermediate, crl_url="http://crl.acme-rockets.io/ca.crl")
    result = verify(pki, signed(pki, leaf))
    assert not result.ok
    assert (
        "revocation checking required by trust policy 'test-images' is not possible offline" in result.message
    )


@pytest.mark.parametrize("settings", [{"level": "permissive"}, {"override": {"revocation": "log"}}])
def test_revocation_logged_is_noted(pki: Pki, settings: dict[str, Any]) -> None:
    leaf = make_leaf(pki.intermediate, crl_url="http://crl.acme-rockets.io/ca.crl")
    result = verify(pki, signed(pki, leaf), policies=[policy(**settings)])
    assert result.ok, result.message
    assert len(result.notes) == 1
    assert (
        "revocation checking required by trust policy 'test-images' is not possible offline"
        in result.notes[0]
    )


def test_audit_level_logs_authenticity_failures(pki: Pki) -> None:
    result = verify(
        pki, signed(pki), policies=[policy(level="audit")], stores={"ca:acme-rockets": [pki.other_root.cert]}
    )
    assert result.ok
    assert any(note.startswith("authenticity check failed, logged only") for note in result.notes)


def test_audit_level_still_enforces_integrity(pki: Pki) -> None:
    result = verify(pki, signed(pki, headers={"alg": "ES384"}), policies=[policy(level="audit")])
    assert not result.ok and "does not match the signing key" in result.message


def test_skip_level_verifies_nothing(pki: Pki) -> None:
    skip = policy("unsigned", scopes=[IMAGE.repository], level="skip", stores=(), identities=())
    result = verify(pki, b"anything", policies=[skip, policy()])
    assert not result.ok
    assert (
        result.message
        == f"trust policy 'unsigned' skips signature verification for {IMAGE.repository}; nothing was verified"
    )
