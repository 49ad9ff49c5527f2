"""Does a Rekor entry body record *this* signature? (step 3 of `proxy.signatures.rekor`)

A SET or an inclusion proof only proves that *some* body was logged. The body must name the
signature being verified, the certificate (or key) that made it and what was signed, or an
attacker could pair a valid log entry of anything with a signature of their own. Kinds
(https://github.com/sigstore/rekor/tree/main/pkg/types), as JSON:

  hashedrekord 0.0.1  spec.data.hash {algorithm: sha256, value: hex digest of the artifact},
                      spec.signature.content (base64), spec.signature.publicKey.content
                      (base64 of a PEM certificate or public key)
  rekord 0.0.1        the same, the digest possibly given as data.content (the artifact itself)
  dsse 0.0.1          spec.payloadHash {sha256 hex of the DSSE payload}, spec.signatures[]
                      {signature: base64, verifier: base64 PEM}
  intoto 0.0.2        spec.content.payloadHash, spec.content.envelope.signatures[] {sig,
                      publicKey}, where sig is the envelope's base64 signature base64-encoded again
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.keys import PublicKey
from proxy.signatures.x509chain import load_certificate

__all__ = ["Signer", "check_dsse_body", "check_hashedrekord_body"]

Signer = x509.Certificate | PublicKey


def check_hashedrekord_body(body: bytes, *, signature: bytes, signer: Signer, sha256: bytes) -> None:
    """The body is a hashedrekord (or rekord) of `signature` by `signer` over an artifact of digest `sha256`."""
    spec = _spec(body, {("hashedrekord", "0.0.1"), ("rekord", "0.0.1")})
    try:
        data, sig = spec["data"], spec["signature"]
        logged_signature = _b64(sig["content"])
        logged_signer = _b64(sig["publicKey"]["content"])
        digest = _digest(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureInvalid(f"transparency log entry body cannot be read: {exc}") from None
    if digest != sha256:
        raise SignatureInvalid(
            f"transparency log entry is about artifact sha256:{digest.hex()}, not sha256:{sha256.hex()}"
        )
    if logged_signature != signature:
        raise SignatureInvalid("transparency log entry records another signature")
    _same_signer(logged_signer, signer)


def check_dsse_body(body: bytes, *, payload: bytes, signature: bytes, signer: Signer) -> None:
    """The body is a dsse (or intoto 0.0.2) entry of `payload` signed with `signature` by `signer`."""
    kind, spec = _kind_and_spec(body, {("dsse", "0.0.1"), ("intoto", "0.0.2")})
    try:
        if kind == "dsse":
            payload_hash = spec["payloadHash"]
            pairs = [(_b64(s["signature"]), _b64(s["verifier"])) for s in spec["signatures"]]
        else:
            content = spec["content"]
            payload_hash = content["payloadHash"]
            pairs = [(_intoto_sig(s["sig"]), _b64(s["publicKey"])) for s in content["envelope"]["signatures"]]
        if payload_hash["algorithm"] != "sha256":
            raise ValueError(f"unsupported payload hash {payload_hash['algorithm']!r}")
        logged_hash = bytes.fromhex(payload_hash["value"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureInvalid(f"transparency log entry body cannot be read: {exc}") from None
    if logged_hash != hashlib.sha256(payload).digest():
        raise SignatureInvalid(
            f"transparency log entry is about DSSE payload sha256:{logged_hash.hex()}, not this one"
        )
    for logged_signature, logged_signer in pairs:
        if logged_signature == signature:
            _same_signer(logged_signer, signer)
            return
    raise SignatureInvalid("transparency log entry records another signature")


def _spec(body: bytes, kinds: set[tuple[str, str]]) -> dict[str, Any]:
    return _kind_and_spec(body, kinds)[1]


def _kind_and_spec(body: bytes, kinds: set[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    try:
        document = json.loads(body)
        kind, version, spec = document["kind"], document["apiVersion"], document["spec"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise SignatureInvalid(f"transparency log entry body is not a Rekor entry: {exc}") from None
    if (
        not isinstance(kind, str)
        or not isinstance(version, str)
        or (kind, version) not in kinds
        or not isinstance(spec, dict)
    ):
        expected = ", ".join(sorted(f"{k} {v}" for k, v in kinds))
        raise SignatureInvalid(f"transparency log entry is of kind {kind} {version}, expected {expected}")
    return kind, spec


def _digest(data: dict[str, Any]) -> bytes:
    if "hash" in data:
        if data["hash"]["algorithm"] != "sha256":
            raise ValueError(f"unsupported hash algorithm {data['hash']['algorithm']!r}")
        return bytes.fromhex(data["hash"]["value"])
    return hashlib.sha256(_b64(data["content"])).digest()


def _intoto_sig(value: Any) -> bytes:
    # intoto 0.0.2 stores the envelope's base64 signature base64-encoded once more.
    once = _b64(value)
    try:
        return base64.b64decode(once, validate=True)
    except (binascii.Error, ValueError):
        return once


def _same_signer(logged_pem: bytes, signer: Signer) -> None:
    logged_key: object
    try:
        if b"CERTIFICATE" in logged_pem:
            logged_cert = load_certificate(logged_pem, pem=True)
            if isinstance(signer, x509.Certificate):
                if logged_cert.public_bytes(Encoding.DER) != signer.public_bytes(Encoding.DER):
                    raise SignatureInvalid("transparency log entry records another certificate")
                return
            logged_key = logged_cert.public_key()
        else:
            logged_key = load_pem_public_key(logged_pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureInvalid(f"transparency log entry's signer cannot be read: {exc}") from None
    key = signer.public_key() if isinstance(signer, x509.Certificate) else signer
    spki = PublicFormat.SubjectPublicKeyInfo
    if not isinstance(logged_key, PublicKey) or not isinstance(key, PublicKey):
        raise SignatureInvalid("transparency log entry records a key of an unsupported type")
    if logged_key.public_bytes(Encoding.DER, spki) != key.public_bytes(Encoding.DER, spki):
        raise SignatureInvalid("transparency log entry records another signing key")


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None
