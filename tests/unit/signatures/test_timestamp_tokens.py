"""RFC 3161 tokens themselves: encodings, signers, refusals, garbage, and two real TSAs."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.rfc3161 import verify_timestamp, verify_timestamps
from proxy.signatures.rfc3161_token import MAX_TOKEN_BYTES, parse_timestamp
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.sigstore_artifacts import SIGNED_AT
from tests.support.sigstore_world import World
from tests.support.tsa import SIGNED_DATA, SIGNING_CERTIFICATE_V2, TST_INFO, TestTSA, oid

VECTORS = Path(__file__).parent / "vectors"
SIGNATURE = b"the signature bytes"


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def root(world: World) -> TrustedRoot:
    return TrustedRoot.parse(world.trusted_root())


def _root_with(world: World, *tsas: TestTSA, with_leaf: bool = True) -> TrustedRoot:
    entries = [tsa.authority_entry(with_leaf=with_leaf) for tsa in tsas]
    return TrustedRoot.parse(world.trusted_root(timestamp_authorities=entries))


@pytest.mark.parametrize(
    "options",
    [
        {"response": False},  # a bare TimeStampToken, as some tools store it
        {"embed": True},  # the TSA chain inside the token
        {"by_key_id": True},  # sid as subjectKeyIdentifier
        {"ess_v1": True},  # RFC 2634 signingCertificate (SHA-1)
        {"imprint_hash": "sha384"},
        {"imprint_hash": "sha512"},
    ],
)
def test_encodings_that_verify(world: World, root: TrustedRoot, options: dict[str, Any]) -> None:
    token = world.tsa.timestamp(SIGNATURE, SIGNED_AT, **options)
    assert verify_timestamp(token, SIGNATURE, root) == SIGNED_AT


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_rsa_and_ed25519_tsas(world: World, key_type: Any) -> None:
    tsa = TestTSA(key_type=key_type)
    assert (
        verify_timestamp(tsa.timestamp(SIGNATURE, SIGNED_AT), SIGNATURE, _root_with(world, tsa)) == SIGNED_AT
    )


def test_signer_certificate_carried_by_the_token_chains_to_a_root_only_authority(world: World) -> None:
    root = _root_with(world, world.tsa, with_leaf=False)
    assert verify_timestamp(world.tsa.timestamp(SIGNATURE, SIGNED_AT, embed=True), SIGNATURE, root)
    with pytest.raises(SignatureInvalid, match="is neither in the token nor in the trusted root"):
        verify_timestamp(world.tsa.timestamp(SIGNATURE, SIGNED_AT), SIGNATURE, root)


def test_sha1_imprints_are_refused(world: World, root: TrustedRoot) -> None:
    token = world.tsa.timestamp(SIGNATURE, SIGNED_AT, imprint_hash="sha1")
    with pytest.raises(SignatureInvalid, match=r"^RFC 3161 timestamp: hash algorithm sha1 is not accepted$"):
        verify_timestamp(token, SIGNATURE, root)


def test_signing_certificate_attribute_naming_another_certificate(world: World, root: TrustedRoot) -> None:
    token = world.tsa.timestamp(SIGNATURE, SIGNED_AT, ess_cert=world.tsa.root)
    with pytest.raises(SignatureInvalid, match="signingCertificate attribute names another certificate"):
        verify_timestamp(token, SIGNATURE, root)


def test_tsa_certificate_expired_at_gen_time(world: World) -> None:
    tsa = TestTSA(not_after=datetime(2024, 5, 1, tzinfo=UTC))
    with pytest.raises(SignatureInvalid, match="was not valid at 2024-05-01T12:01:00"):
        verify_timestamp(tsa.timestamp(SIGNATURE, SIGNED_AT), SIGNATURE, _root_with(world, tsa))


def test_the_first_authority_that_verifies_is_enough(world: World) -> None:
    other = TestTSA(name="other-tsa")
    root = _root_with(world, other, world.tsa)
    assert verify_timestamp(world.tsa.timestamp(SIGNATURE, SIGNED_AT), SIGNATURE, root) == SIGNED_AT


def test_parsed_fields(world: World) -> None:
    token = parse_timestamp(world.tsa.timestamp(SIGNATURE, SIGNED_AT, embed=True))
    assert token.gen_time == SIGNED_AT and token.imprint_algorithm == "sha256"
    assert (token.signature_algorithm, token.signature_hash) == ("ecdsa", "sha256")
    assert token.signer_serial == world.tsa.cert.serial_number and token.signer_key_id is None
    assert token.certificates == (world.tsa.cert, world.tsa.root)
    assert token.signed_attributes[0] == 0x31  # re-tagged SET OF: what was signed


@pytest.mark.parametrize(
    ("old", "new", "occurrence", "message"),
    [
        (SIGNED_DATA, "1.2.840.113549.1.7.3", 0, "timestamp token is enveloped_data, not signed data"),
        (TST_INFO, "1.2.840.113549.1.9.16.1.5", 0, "timestamp token signs 1.2.840.113549.1.9.16.1.5"),
        (TST_INFO, "1.2.840.113549.1.9.16.1.5", 1, "contentType attribute does not match the signed content"),
        (SIGNING_CERTIFICATE_V2, "1.2.840.113549.1.9.16.2.46", 0, "do not name the TSA certificate"),
    ],
)
def test_structural_refusals(
    world: World, root: TrustedRoot, old: str, new: str, occurrence: int, message: str
) -> None:
    token = world.tsa.timestamp(SIGNATURE, SIGNED_AT)
    before, after = oid(old), oid(new)
    assert len(before) == len(after)  # so that no length around it changes
    at = -1
    for _ in range(occurrence + 1):
        at = token.index(before, at + 1)
    broken = token[:at] + after + token[at + len(before) :]
    with pytest.raises(SignatureInvalid, match=message):
        verify_timestamp(broken, SIGNATURE, root)


# -- garbage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x30", b"\x30\x80\x00\x00", b"\x30\x03\x06\x01\x00", b"\x31\x00", bytes(range(64))],
)
def test_garbage_is_a_clean_refusal(root: TrustedRoot, data: bytes) -> None:
    with pytest.raises(SignatureInvalid, match=r"^RFC 3161 timestamp: timestamp "):
        verify_timestamp(data, SIGNATURE, root)


def test_truncated_extended_and_oversized_tokens(world: World, root: TrustedRoot) -> None:
    token = world.tsa.timestamp(SIGNATURE, SIGNED_AT)
    for data in (token[:-1], token + b"\x00", token[: len(token) // 2]):
        with pytest.raises(SignatureInvalid):
            verify_timestamp(data, SIGNATURE, root)
    with pytest.raises(SignatureInvalid, match=f"larger than {MAX_TOKEN_BYTES} bytes"):
        verify_timestamp(b"\x30" * (MAX_TOKEN_BYTES + 1), SIGNATURE, root)


def test_mutated_tokens_never_raise_anything_else(world: World, root: TrustedRoot) -> None:
    seeds = [
        world.tsa.timestamp(SIGNATURE, SIGNED_AT, embed=True),
        world.tsa.timestamp(SIGNATURE, SIGNED_AT, response=False, by_key_id=True, ess_v1=True),
    ]
    rng = random.Random(3161)  # fixed: the same mutations on every run
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[position] = rng.randrange(256)
            else:
                del data[position : position + rng.randint(1, 8)]
        try:
            verify_timestamp(bytes(data), SIGNATURE, root)
        except SignatureInvalid:
            continue


# -- real TSAs ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_good() -> TrustedRoot:
    return TrustedRoot.parse((VECTORS / "public-good-trusted_root.json").read_text())


@pytest.fixture(scope="module")
def release_bundle() -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((VECTORS / "bundle-v03-server_linux_amd64.sigstore.json").read_text())
    return bundle


def test_sigstore_public_good_tsa(release_bundle: dict[str, Any], public_good: TrustedRoot) -> None:
    material = release_bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    token = base64.b64decode(material[0]["signedTimestamp"])
    signature = base64.b64decode(release_bundle["messageSignature"]["signature"])
    assert verify_timestamp(token, signature, public_good) == datetime(2026, 2, 27, 18, 19, 43, tzinfo=UTC)
    with pytest.raises(SignatureInvalid, match="message imprint is not the hash of this signature"):
        verify_timestamp(token, signature[:-1], public_good)
    document = json.loads((VECTORS / "public-good-trusted_root.json").read_text())
    document["timestampAuthorities"][0]["validFor"]["start"] = "2026-03-01T00:00:00Z"
    with pytest.raises(SignatureInvalid, match="no timestamp authority of the trusted root was valid"):
        verify_timestamp(token, signature, TrustedRoot.parse(json.dumps(document)))


def test_sigstore_timestamp_authority_with_an_intermediate() -> None:
    vector = json.loads((VECTORS / "sigstore-python-tsa-timestamps.json").read_text())
    document = json.loads((VECTORS / "public-good-trusted_root.json").read_text())
    document["timestampAuthorities"] = [vector["timestamp_authority"]]
    root = TrustedRoot.parse(json.dumps(document))
    signature = base64.b64decode(vector["message_signature"])
    first, second = (base64.b64decode(t) for t in vector["signed_timestamps"])
    assert verify_timestamp(first, signature, root) == datetime(2024, 10, 31, 10, 23, 39, tzinfo=UTC)
    # The second is over another message (SHA-512 of "hello"): sigstore-python skips it, we refuse
    # the signature, as the client specification says ("If verification ... fails ... MUST abort").
    with pytest.raises(SignatureInvalid, match="message imprint is not the hash of this signature"):
        verify_timestamp(second, signature, root)
    with pytest.raises(SignatureInvalid):
        verify_timestamps([first, second], signature, root)
    assert parse_timestamp(second).imprint_algorithm == "sha512"
