"""Reading a Sigstore bundle (protobuf-specs ``dev.sigstore.bundle.v1.Bundle``, JSON form).

https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto. The parts
used here:

  mediaType               application/vnd.dev.sigstore.bundle.v0.3+json (or the older
                          application/vnd.dev.sigstore.bundle+json;version=0.1|0.2|0.3)
  verificationMaterial    certificate.rawBytes (v0.3) | x509CertificateChain.certificates[0]
                          (v0.1/0.2, leaf first) | publicKey.hint (key-based)
                          tlogEntries[]: logIndex, logId.keyId, kindVersion, integratedTime,
                          inclusionPromise.signedEntryTimestamp, inclusionProof {logIndex,
                          rootHash, treeSize, hashes, checkpoint.envelope}, canonicalizedBody
                          timestampVerificationData.rfc3161Timestamps[].signedTimestamp
                          (DER RFC 3161 TimeStampResp, `proxy.signatures.rfc3161`)
  messageSignature | dsseEnvelope

Bytes are base64 and 64-bit integers decimal strings, per protobuf's JSON mapping. Anything
malformed is a `SignatureInvalid`: a bundle is untrusted input.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from proxy.signatures.bundle_content import DsseEnvelope, MessageSignature
from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.rekor import RekorEntry
from proxy.signatures.rfc3161 import MAX_TIMESTAMPS
from proxy.signatures.tlog_proof import InclusionProof
from proxy.signatures.x509chain import load_certificate

__all__ = ["BUNDLE_MEDIA_TYPES", "MAX_BUNDLE_BYTES", "Bundle", "parse_bundle"]

BUNDLE_MEDIA_TYPES = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": 1,
    "application/vnd.dev.sigstore.bundle+json;version=0.2": 2,
    "application/vnd.dev.sigstore.bundle+json;version=0.3": 3,
    "application/vnd.dev.sigstore.bundle.v0.3+json": 3,
}
MAX_BUNDLE_BYTES = 4 * 1024 * 1024  # attestations may be large; signatures are kilobytes
_MAX_ENTRIES = 8
_MAX_PROOF_HASHES = 64  # a tree of 2**64 leaves needs no more


@dataclass(frozen=True, slots=True)
class Bundle:
    version: int  # minor version: 1, 2 or 3
    certificate: x509.Certificate | None
    entries: tuple[RekorEntry, ...]
    timestamps: tuple[bytes, ...]  # RFC 3161 signed timestamps (DER), not verified yet
    message: MessageSignature | None
    envelope: DsseEnvelope | None


def parse_bundle(data: bytes) -> Bundle:
    if len(data) > MAX_BUNDLE_BYTES:
        raise SignatureInvalid(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SignatureInvalid(f"bundle is not JSON: {exc}") from None
    bundle = _object(document, "bundle")
    media_type = bundle.get("mediaType")
    version = BUNDLE_MEDIA_TYPES.get(media_type) if isinstance(media_type, str) else None
    if version is None:
        raise SignatureInvalid(f"bundle media type {bundle.get('mediaType')!r} is not supported")
    material = _object(bundle.get("verificationMaterial"), "verificationMaterial")
    if ("messageSignature" in bundle) == ("dsseEnvelope" in bundle):
        raise SignatureInvalid("bundle must hold exactly one of messageSignature and dsseEnvelope")
    entries = _list(material.get("tlogEntries", []), "tlogEntries")
    if len(entries) > _MAX_ENTRIES:
        raise SignatureInvalid(f"bundle has {len(entries)} transparency log entries")
    return Bundle(
        version=version,
        certificate=_certificate(material),
        entries=tuple(_entry(e, f"tlogEntries[{i}]", version) for i, e in enumerate(entries)),
        timestamps=_timestamps(material),
        message=_message(bundle["messageSignature"]) if "messageSignature" in bundle else None,
        envelope=_envelope(bundle["dsseEnvelope"]) if "dsseEnvelope" in bundle else None,
    )


def _certificate(material: dict[str, Any]) -> x509.Certificate | None:
    if "certificate" in material:
        der = b64(_object(material["certificate"], "certificate").get("rawBytes"), "certificate")
    elif "x509CertificateChain" in material:
        chain = _list(_object(material["x509CertificateChain"], "chain").get("certificates"), "chain")
        if not chain:
            raise SignatureInvalid("bundle x509CertificateChain is empty")
        der = b64(_object(chain[0], "chain[0]").get("rawBytes"), "x509CertificateChain leaf")
    else:
        return None  # publicKey: the verifier's keys decide
    try:
        return load_certificate(der)
    except ValueError as exc:
        raise SignatureInvalid(f"bundle certificate cannot be read: {exc}") from None


def _entry(item: object, where: str, version: int) -> RekorEntry:
    entry = _object(item, where)
    promise = entry.get("inclusionPromise")
    proof = entry.get("inclusionProof")
    if proof is None and version >= 2:
        raise SignatureInvalid(f"bundle {where} has no inclusion proof (required since bundle v0.2)")
    return RekorEntry(
        body=b64(entry.get("canonicalizedBody"), f"{where}.canonicalizedBody"),
        integrated_time=_int(entry.get("integratedTime"), f"{where}.integratedTime"),
        log_index=_int(entry.get("logIndex"), f"{where}.logIndex"),
        log_id=b64(_object(entry.get("logId"), f"{where}.logId").get("keyId"), f"{where}.logId"),
        signed_entry_timestamp=None
        if promise is None
        else b64(_object(promise, where).get("signedEntryTimestamp"), f"{where}.inclusionPromise"),
        inclusion_proof=None if proof is None else _proof(_object(proof, where), f"{where}.inclusionProof"),
    )


def _timestamps(material: dict[str, Any]) -> tuple[bytes, ...]:
    data = _object(material.get("timestampVerificationData", {}), "timestampVerificationData")
    timestamps = _list(data.get("rfc3161Timestamps", []), "rfc3161Timestamps")
    if len(timestamps) > MAX_TIMESTAMPS:  # refused before decoding any
        raise SignatureInvalid(f"bundle has {len(timestamps)} RFC 3161 timestamps")
    return tuple(
        b64(_object(t, f"rfc3161Timestamps[{i}]").get("signedTimestamp"), f"rfc3161Timestamps[{i}]")
        for i, t in enumerate(timestamps)
    )


def _proof(proof: dict[str, Any], where: str) -> InclusionProof:
    hashes = _list(proof.get("hashes", []), f"{where}.hashes")
    if len(hashes) > _MAX_PROOF_HASHES:
        raise SignatureInvalid(f"bundle {where} has too many hashes")
    checkpoint = proof.get("checkpoint")
    envelope = None if checkpoint is None else _object(checkpoint, where).get("envelope")
    if envelope is not None and not isinstance(envelope, str):
        raise SignatureInvalid(f"bundle {where}.checkpoint.envelope must be text")
    return InclusionProof(
        log_index=_int(proof.get("logIndex"), f"{where}.logIndex"),
        tree_size=_int(proof.get("treeSize"), f"{where}.treeSize"),
        root_hash=b64(proof.get("rootHash"), f"{where}.rootHash"),
        hashes=tuple(b64(h, f"{where}.hashes") for h in hashes),
        checkpoint=envelope,
    )


def _message(item: object) -> MessageSignature:
    message = _object(item, "messageSignature")
    digest = _object(message.get("messageDigest"), "messageDigest")
    return MessageSignature(
        algorithm=str(digest.get("algorithm")),
        digest=b64(digest.get("digest"), "messageDigest.digest"),
        signature=b64(message.get("signature"), "messageSignature.signature"),
    )


def _envelope(item: object) -> DsseEnvelope:
    envelope = _object(item, "dsseEnvelope")
    signatures = _list(envelope.get("signatures"), "dsseEnvelope.signatures")
    if len(signatures) != 1:  # the bundle specification allows exactly one
        raise SignatureInvalid(f"DSSE envelope has {len(signatures)} signatures, expected exactly one")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise SignatureInvalid("DSSE envelope has no payloadType")
    return DsseEnvelope(
        payload_type=payload_type,
        payload=b64(envelope.get("payload"), "dsseEnvelope.payload"),
        signature=b64(_object(signatures[0], "signature").get("sig"), "dsseEnvelope signature"),
    )


def b64(value: object, what: str) -> bytes:
    """Base64 of a bundle field (both alphabets, padding optional, as protobuf's JSON mapping)."""
    if not isinstance(value, str):
        raise SignatureInvalid(f"bundle {what} must be base64 text")
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(f"bundle {what} is not valid base64") from None


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SignatureInvalid(f"bundle {what} must be an integer")
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise SignatureInvalid(f"bundle {what} {value[:40]!r} is not a decimal integer")
    if isinstance(value, str) and len(value.lstrip("0")) > 19:  # past 2**63, and past int()'s digit limit
        raise SignatureInvalid(f"bundle {what} is out of range")
    number = int(value)
    if not 0 <= number < 2**63:
        raise SignatureInvalid(f"bundle {what} is out of range")
    return number


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SignatureInvalid(f"bundle {what} must be an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise SignatureInvalid(f"bundle {what} must be a list")
    return value
