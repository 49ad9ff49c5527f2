"""Signatures cosign itself made, published by another implementation: see vectors/README.md."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from proxy.signatures.cosign import SIGNATURE_ANNOTATION, verify_cosign_blob
from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.keys import key_id, load_public_keys, verify_signature
from proxy.signatures.model import KeyAuthority, SignatureBlob, SignedImage, Verification
from proxy.signatures.simple_signing import SIMPLE_SIGNING_MEDIA_TYPE
from tests.support.cosign import simple_signing_payload

VECTORS = Path(__file__).parent / "vectors"
ARTIFACT = "sha256:" + "00" * 32


def _vector(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return loaded


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _verify(vector: dict[str, Any], payload: bytes, signature: str, pem: str) -> Verification:
    blob = SignatureBlob(
        SIMPLE_SIGNING_MEDIA_TYPE,
        "sha256:" + hashlib.sha256(payload).hexdigest(),
        payload,
        {SIGNATURE_ANNOTATION: signature},
    )
    image = SignedImage(vector["image"]["digest"], vector["image"]["repository"])
    authority = KeyAuthority(name="vector", key="vector-key", check_reference=True)
    return verify_cosign_blob(blob, image, authority, keys=load_public_keys(pem), artifact_digest=ARTIFACT)


def test_key_based_vector_verifies() -> None:
    vector = _vector("sigstore-rs-key-busybox.json")
    result = _verify(vector, vector["payload"].encode(), vector["signature"], vector["public_key_pem"])
    (key,) = load_public_keys(vector["public_key_pem"])
    assert result.ok, result.message
    assert result.signer == key_id(key)


def test_key_based_vector_payload_is_byte_for_byte_what_our_helper_writes() -> None:
    vector = _vector("sigstore-rs-key-busybox.json")
    expected = simple_signing_payload(vector["image"]["repository"], vector["image"]["digest"])
    assert vector["payload"].encode() == expected


@pytest.mark.parametrize("index", [0, 30, 100, -3])
def test_key_based_vector_with_one_payload_byte_changed_fails(index: int) -> None:
    vector = _vector("sigstore-rs-key-busybox.json")
    payload = vector["payload"].encode()
    result = _verify(
        vector, _flip(payload, index % len(payload)), vector["signature"], vector["public_key_pem"]
    )
    assert not result.ok
    assert result.message.startswith("signature made by no key we know")


def test_key_based_vector_with_one_signature_byte_changed_fails() -> None:
    vector = _vector("sigstore-rs-key-busybox.json")
    signature = base64.b64encode(_flip(base64.b64decode(vector["signature"]), 40)).decode()
    assert not _verify(vector, vector["payload"].encode(), signature, vector["public_key_pem"]).ok


def test_key_based_vector_does_not_verify_with_another_key() -> None:
    vector = _vector("sigstore-rs-key-busybox.json")
    result = _verify(
        vector, vector["payload"].encode(), vector["signature"], vector["unrelated_public_key_pem"]
    )
    assert not result.ok


def test_keyless_vector_payload_is_the_one_rekor_logged() -> None:
    vector = _vector("sigstore-rs-keyless-nodeport.json")
    payload = vector["payload"].encode()
    assert hashlib.sha256(payload).hexdigest() == vector["rekor_entry"]["payload_sha256"]


def test_keyless_vector_verifies_with_its_certificate_key() -> None:
    vector = _vector("sigstore-rs-keyless-nodeport.json")
    cert = x509.load_pem_x509_certificate(vector["certificate_pem"].encode())
    pem = cert.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    (key,) = load_public_keys(pem)
    payload = vector["payload"].encode()
    signature = base64.b64decode(vector["signature"])
    verify_signature(key, signature, payload)
    with pytest.raises(SignatureInvalid, match="ECDSA P-256 with SHA256"):
        verify_signature(key, signature, _flip(payload, 60))
    # Through the whole pipeline too, with the certificate's key standing in for a trusted key.
    assert _verify(vector, payload, vector["signature"], pem).ok
