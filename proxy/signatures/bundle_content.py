"""What a Sigstore bundle signs, and whether it is about the image being pulled.

A bundle carries exactly one of

  messageSignature  a signature over an artifact, given as its digest (``messageDigest``).
                    For an image the artifact is its manifest, so the digest must be the
                    image's digest; the signature is checked over the digest (pre-hashed).
  dsseEnvelope      a DSSE envelope (https://github.com/secure-systems-lab/dsse/blob/master/
                    protocol.md): the signature is over PAE(payloadType, payload) =
                    "DSSEv1" SP len(type) SP type SP len(payload) SP payload. The payload must
                    be an in-toto Statement (payloadType application/vnd.in-toto+json,
                    https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
                    one of whose ``subject[].digest`` is the image's digest. This is what
                    cosign v3 signs for an image (predicateType https://sigstore.dev/cosign/sign/v1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.keys import PublicKey, key_id, verify_signature

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "DsseEnvelope",
    "MessageSignature",
    "check_statement_subject",
    "pae",
    "verify_dsse",
    "verify_message_signature",
]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_STATEMENT_TYPES = frozenset({"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"})
# Bundle HashAlgorithm names -> (OCI digest algorithm, hash for pre-hashed verification).
_DIGESTS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "SHA2_256": ("sha256", hashes.SHA256),
    "SHA2_384": ("sha384", hashes.SHA384),
    "SHA2_512": ("sha512", hashes.SHA512),
}


@dataclass(frozen=True, slots=True)
class MessageSignature:
    algorithm: str  # HashAlgorithm name, e.g. SHA2_256
    digest: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class DsseEnvelope:
    payload_type: str
    payload: bytes
    signature: bytes  # a bundle's envelope carries exactly one


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's Pre-Authentication Encoding: what the envelope's signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def verify_message_signature(message: MessageSignature, key: PublicKey, image_digest: str) -> None:
    """The message is the image (same digest) and `key` signed it; `SignatureInvalid` otherwise."""
    if message.algorithm not in _DIGESTS:
        raise SignatureInvalid(f"message digest algorithm {message.algorithm} is not supported")
    algorithm, digest_hash = _DIGESTS[message.algorithm]
    signed = f"{algorithm}:{message.digest.hex()}"
    if signed != image_digest:
        raise SignatureInvalid(f"bundle signs artifact {signed}, not image {image_digest}")
    try:
        _verify_prehashed(key, message.signature, message.digest, digest_hash())
    except (InvalidSignature, ValueError):
        raise SignatureInvalid(f"message signature does not verify with key {key_id(key)}") from None


def _verify_prehashed(
    key: PublicKey, signature: bytes, digest: bytes, algorithm: hashes.HashAlgorithm
) -> None:
    # keys.verify_signature hashes the data itself; a message signature only gives the digest.
    prehashed = utils.Prehashed(algorithm)
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, digest, ec.ECDSA(prehashed))
    elif isinstance(key, rsa.RSAPublicKey):
        try:
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        except InvalidSignature:
            pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.AUTO)
            key.verify(signature, digest, pss, prehashed)
    else:
        raise SignatureInvalid("an Ed25519 message signature cannot be checked from the artifact's digest")


def verify_dsse(envelope: DsseEnvelope, key: PublicKey) -> None:
    """`key` signed the envelope's PAE; `SignatureInvalid` otherwise."""
    try:
        verify_signature(key, envelope.signature, pae(envelope.payload_type, envelope.payload))
    except SignatureInvalid as exc:
        raise SignatureInvalid(f"DSSE envelope: {exc}") from None


def check_statement_subject(envelope: DsseEnvelope, image_digest: str) -> str:
    """The envelope is an in-toto Statement about the image; returns its predicateType."""
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise SignatureInvalid(
            f"DSSE payload type is {envelope.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE}"
        )
    statement = _statement(envelope.payload)
    algorithm, _, hex_digest = image_digest.partition(":")
    digests = [s.get("digest") for s in statement["subject"] if isinstance(s, dict)]
    if not any(isinstance(d, dict) and d.get(algorithm) == hex_digest for d in digests):
        named = (
            ", ".join(f"{a}:{v}" for d in digests if isinstance(d, dict) for a, v in d.items()) or "nothing"
        )
        raise SignatureInvalid(f"in-toto statement is about {named}, not image {image_digest}")
    return str(statement.get("predicateType", ""))


def _statement(payload: bytes) -> dict[str, Any]:
    try:
        statement = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise SignatureInvalid(f"DSSE payload is not JSON: {exc}") from None
    if not isinstance(statement, dict):
        raise SignatureInvalid("DSSE payload is not an in-toto Statement")
    kind = statement.get("_type")
    if not isinstance(kind, str) or kind not in _STATEMENT_TYPES:  # a list would not even hash
        raise SignatureInvalid("DSSE payload is not an in-toto Statement")
    if not isinstance(statement.get("subject"), list):
        raise SignatureInvalid("in-toto statement has no subject list")
    return statement
