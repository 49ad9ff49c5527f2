"""Published Notation signatures (notation-go test data) verify; tampered copies do not."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from proxy.signatures.model import SignedImage, Verification
from proxy.signatures.notation.jws import verify_jws_envelope
from proxy.signatures.notation.trust_policy import parse_trust_policy
from proxy.signatures.notation.verify import verify_notation
from tests.support.notation import JWS, policy, trust_policy_document
from tests.unit.signatures.notation.helpers import store_lookup

VECTORS = Path(__file__).parent.parent / "vectors" / "notation"
REPOSITORY = "registry.acme-rockets.io/software/net-monitor"
CA_VALID = "ca_valid_sig_env.json"
CA_VALID_DIGEST = "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e"
CA_VALID_NOW = datetime(2022, 7, 30, 12, 0, tzinfo=UTC)
ALPINE = "withoutTimestamp.sig"
ALPINE_DIGEST = "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda"
ALPINE_NOW = datetime(2025, 1, 1, tzinfo=UTC)
IDENTITY = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary"


def verify(
    name: str, digest: str, now: datetime | None, *, data: bytes | None = None, level: str = "strict"
) -> Verification:
    envelope = (VECTORS / name).read_bytes() if data is None else data
    root = verify_jws_envelope((VECTORS / name).read_bytes()).certificates[-1]
    doc = parse_trust_policy(
        trust_policy_document(policy(level=level, stores=["ca:notation"], identities=[IDENTITY]))
    )
    return verify_notation(
        envelope,
        JWS,
        SignedImage(digest=digest, repository=REPOSITORY),
        doc,
        store_lookup({"ca:notation": [root]}),
        authority="notation",
        artifact_digest="sha256:vector",
        now=now,
    )


@pytest.mark.parametrize(
    ("name", "digest", "now", "signer"),
    [
        (CA_VALID, CA_VALID_DIGEST, CA_VALID_NOW, "C=US, ST=WA, L=Seattle, O=Notary, CN=Notation Test Root"),
        (ALPINE, ALPINE_DIGEST, ALPINE_NOW, "C=US, ST=WA, L=Seattle, O=Notary, CN=alpine"),
    ],
)
def test_published_signatures_verify(name: str, digest: str, now: datetime, signer: str) -> None:
    result = verify(name, digest, now)
    assert result.ok, result.message
    assert result.signer == f"x509.subject: {signer}"


def test_expired_chain_fails_today_under_strict_and_is_logged_under_permissive() -> None:
    strict = verify(CA_VALID, CA_VALID_DIGEST, None)
    assert not strict.ok and "is not valid now" in strict.message
    permissive = verify(CA_VALID, CA_VALID_DIGEST, None, level="permissive")
    assert permissive.ok
    assert any("authenticTimestamp check failed" in note for note in permissive.notes)


def test_the_vector_is_for_its_image_only() -> None:
    other = "sha256:" + "0" * 64
    result = verify(ALPINE, other, ALPINE_NOW)
    assert result.message == f"signature is for {ALPINE_DIGEST} but the image is {other}"


def _tampered_payload(name: str) -> bytes:
    envelope = json.loads((VECTORS / name).read_bytes())
    content = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=="))
    content["targetArtifact"]["digest"] = "sha256:" + "f" * 64
    envelope["payload"] = base64.urlsafe_b64encode(json.dumps(content).encode()).rstrip(b"=").decode()
    return json.dumps(envelope).encode()


def _tampered_signature(name: str) -> bytes:
    envelope = json.loads((VECTORS / name).read_bytes())
    signature = bytearray(base64.urlsafe_b64decode(envelope["signature"] + "=="))
    signature[10] ^= 0x01
    envelope["signature"] = base64.urlsafe_b64encode(bytes(signature)).rstrip(b"=").decode()
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    ("name", "digest", "now"),
    [(CA_VALID, CA_VALID_DIGEST, CA_VALID_NOW), (ALPINE, ALPINE_DIGEST, ALPINE_NOW)],
)
@pytest.mark.parametrize("tamper", [_tampered_payload, _tampered_signature])
def test_tampered_copies_fail(name: str, digest: str, now: datetime, tamper: Callable[[str], bytes]) -> None:
    result = verify(name, digest, now, data=tamper(name))
    assert not result.ok
    assert result.message == "the signature does not match the envelope's content"
