"""Fulcio certificates: identity extraction and matching, embedded SCT, chain at signing time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.fulcio import FulcioIdentity, identity_of, match_identity, verify_fulcio_certificate
from proxy.signatures.model import Identity
from proxy.signatures.sct import verify_embedded_sct
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.sigstore_world import ISSUER, ISSUER_V1, ISSUER_V2, T0, World

AT = T0 + timedelta(minutes=1)
CI = Identity(issuer=ISSUER, subject="ci@corp.example")


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def root(world: World) -> TrustedRoot:
    return TrustedRoot.parse(world.trusted_root())


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        ("email", "ci@corp.example"),
        ("uri", "https://ci.corp.example/workflows/release.yaml@refs/tags/v1"),
        ("username", "alice"),
    ],
)
def test_subject_from_each_san_kind(world: World, kind: str, subject: str) -> None:
    assert identity_of(world.leaf(subject, kind=kind).cert) == FulcioIdentity(subject=subject, issuer=ISSUER)


@pytest.mark.parametrize("oids", [(ISSUER_V2,), (ISSUER_V1,), (ISSUER_V1, ISSUER_V2)])
def test_issuer_from_either_extension(world: World, oids: tuple) -> None:  # type: ignore[type-arg]
    assert identity_of(world.leaf(issuer_oids=oids).cert).issuer == ISSUER


def test_certificate_without_issuer_is_refused(world: World) -> None:
    with pytest.raises(SignatureInvalid, match="names no OIDC issuer"):
        identity_of(world.leaf(issuer=None).cert)


ALICE = FulcioIdentity(subject="alice@corp.example", issuer=ISSUER)


@pytest.mark.parametrize(
    ("identity", "expected", "message"),
    [
        (
            ALICE,
            Identity(issuer=ISSUER, subject_regex=r"^ci@corp\.example$"),
            r"certificate identity alice@corp.example does not match \^ci@corp\\.example\$",
        ),
        (
            FulcioIdentity("ci@corp.example.evil", ISSUER),
            Identity(issuer=ISSUER, subject_regex=r"ci@corp\.example"),
            "does not match",
        ),
        (
            FulcioIdentity("evil-ci@corp.example", ISSUER),
            Identity(issuer=ISSUER, subject_regex=r"ci@corp\.example"),
            "does not match",
        ),
        (
            FulcioIdentity("ci@corp.example", ISSUER),
            Identity(issuer=ISSUER, subject_regex=r"ci@corp"),
            "does not match ci@corp$",
        ),
        (
            ALICE,
            Identity(issuer=ISSUER, subject="ci@corp.example"),
            "identity alice@corp.example does not match ci@corp.example",
        ),
        (
            ALICE,
            Identity(issuer="https://other.example", subject="alice@corp.example"),
            f"issuer {ISSUER} does not match",
        ),
        (
            ALICE,
            Identity(issuer_regex=r"https://issuer\.corp", subject="alice@corp.example"),
            "issuer .* does not match",
        ),
        (ALICE, Identity(subject="alice@corp.example"), "names no certificate issuer"),
        (ALICE, Identity(issuer=ISSUER), "names no certificate identity"),
    ],
)
def test_identity_mismatches(identity: FulcioIdentity, expected: Identity, message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        match_identity(identity, [expected])


def test_identity_matches_exact_or_anchored_regex() -> None:
    regex = Identity(issuer_regex=r"https://issuer\.corp\.example", subject_regex=r"(ci|alice)@corp\.example")
    assert match_identity(ALICE, [CI, regex]) is regex
    assert match_identity(FulcioIdentity("ci@corp.example", ISSUER), [CI]) is CI


def test_no_trusted_identity_and_bad_regex() -> None:
    with pytest.raises(SignatureInvalid, match="trusts no identity"):
        match_identity(ALICE, [])
    with pytest.raises(TrustMaterialError, match="invalid regular expression"):
        match_identity(ALICE, [Identity(issuer=ISSUER, subject_regex="(")])


def test_valid_certificate(world: World, root: TrustedRoot) -> None:
    assert verify_fulcio_certificate(world.leaf().cert, AT, [CI], root).signer == f"{ISSUER}|ci@corp.example"


def test_sct_signed_by_an_unknown_log_is_refused(world: World, root: TrustedRoot) -> None:
    leaf = world.leaf(ct_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SignatureInvalid, match=r"no embedded SCT verifies: .*is not in the trusted root"):
        verify_fulcio_certificate(leaf.cert, AT, [CI], root)


def test_sct_over_another_certificate_is_refused(world: World, root: TrustedRoot) -> None:
    # The SCT is genuine, but for the TBS of a different issuer key hash.
    with pytest.raises(SignatureInvalid, match=r"no embedded SCT verifies: .*does not verify"):
        verify_embedded_sct(world.leaf().cert, world.root, root)


def test_certificate_without_sct_is_refused(world: World, root: TrustedRoot) -> None:
    with pytest.raises(SignatureInvalid, match="no embedded SCT"):
        verify_fulcio_certificate(world.leaf(sct=False).cert, AT, [CI], root)


def test_missing_code_signing_eku_is_refused(world: World, root: TrustedRoot) -> None:
    with pytest.raises(SignatureInvalid, match="not for code signing"):
        verify_fulcio_certificate(world.leaf(code_signing=False).cert, AT, [CI], root)


def test_expired_certificate_at_signing_time(world: World, root: TrustedRoot) -> None:
    with pytest.raises(SignatureInvalid, match="was not valid at 2024-05-01T12:11:00"):
        verify_fulcio_certificate(world.leaf().cert, T0 + timedelta(minutes=11), [CI], root)


def test_certificate_of_another_ca_is_refused(root: TrustedRoot) -> None:
    with pytest.raises(SignatureInvalid, match="does not chain to a trusted root"):
        verify_fulcio_certificate(World().leaf().cert, AT, [CI], root)


def test_path_length_constraint_of_the_root_is_enforced() -> None:
    # Regression for x509chain: a root with pathLenConstraint 0 may not have an intermediate below it.
    world = World(root_path_length=0)
    root = TrustedRoot.parse(world.trusted_root())
    with pytest.raises(SignatureInvalid, match="path length constraint exceeded"):
        verify_fulcio_certificate(world.leaf().cert, AT, [CI], root)
