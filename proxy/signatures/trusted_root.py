"""A Sigstore ``trusted_root.json``: who may issue signing certificates, which logs are trusted.

The document is the protobuf-specs message ``dev.sigstore.trustedroot.v1.TrustedRoot``
(https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustedroot.proto) in its
JSON form: bytes are base64, times RFC 3339, 64-bit integers may be strings. It holds

  certificateAuthorities  Fulcio chains (``certChain.certificates``, DER) with a ``validFor`` period
  tlogs                   transparency logs (Rekor): a public key (DER SubjectPublicKeyInfo in
                          ``publicKey.rawBytes``, its ``keyDetails`` and ``validFor``) and its
                          ``logId.keyId``
  ctlogs                  certificate transparency logs, same shape (their keyId is RFC 6962's LogID)
  timestampAuthorities    RFC 3161 TSAs, same shape as certificate authorities: ``certChain``
                          from the TSA's signing certificate up to its root, and the
                          ``validFor`` period in which its timestamps are trusted

Every part is checked when the document is loaded, so a verifier never meets a half-read root.
A validity period without ``end`` is open-ended: the current key or CA.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_der_public_key

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.keys import PublicKey
from proxy.signatures.x509chain import load_certificate

__all__ = ["CertificateAuthority", "TransparencyLog", "TrustedRoot", "ValidityPeriod"]

TRUSTED_ROOT_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1",  # the form every root uses today
        "application/vnd.dev.sigstore.trustedroot.v0.1+json",
        "application/vnd.dev.sigstore.trustedroot.v0.2+json",
    }
)
# keyDetails values of sigstore's algorithm registry we can verify with; others are refused.
_KEY_DETAILS = frozenset(
    {
        "PKIX_ECDSA_P256_SHA_256",
        "PKIX_ECDSA_P384_SHA_384",
        "PKIX_ECDSA_P521_SHA_512",
        "PKIX_ED25519",
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        "PKIX_RSA_PKCS1V15_4096_SHA256",
        "PKIX_RSA_PSS_2048_SHA256",
        "PKIX_RSA_PSS_3072_SHA256",
        "PKIX_RSA_PSS_4096_SHA256",
        "PKCS1_RSA_PKCS1V5",  # deprecated spellings still found in older roots
        "PKIX_RSA_PKCS1V5",
        "PKIX_ECDSA_P256_HMAC_SHA_256",
    }
)


@dataclass(frozen=True, slots=True)
class ValidityPeriod:
    start: datetime | None
    end: datetime | None

    def contains(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (self.end is None or at <= self.end)

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        return f"{start} to {self.end.isoformat() if self.end else 'now'}"


@dataclass(frozen=True, slots=True)
class TransparencyLog:
    """A Rekor or CT log: its id (bytes), key and the period the key signs in."""

    log_id: bytes
    key: PublicKey
    key_details: str
    validity: ValidityPeriod
    base_url: str


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    uri: str
    certificates: tuple[x509.Certificate, ...]
    validity: ValidityPeriod

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        """Self-issued certificates of the chain (the roots); the last one when none is."""
        roots = tuple(c for c in self.certificates if c.subject == c.issuer)
        return roots or self.certificates[-1:]

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        anchors = self.anchors
        return tuple(c for c in self.certificates if c not in anchors)


@dataclass(frozen=True, slots=True)
class TrustedRoot:
    certificate_authorities: tuple[CertificateAuthority, ...]
    tlogs: tuple[TransparencyLog, ...]
    ctlogs: tuple[TransparencyLog, ...]
    timestamp_authorities: tuple[CertificateAuthority, ...]

    @classmethod
    def parse(cls, text: str) -> TrustedRoot:
        """Read a trusted_root.json; `TrustMaterialError` says what is wrong and where."""
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise TrustMaterialError(f"trusted root is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise TrustMaterialError("trusted root must be a JSON object")
        media_type = document.get("mediaType")
        if not isinstance(media_type, str) or media_type not in TRUSTED_ROOT_MEDIA_TYPES:
            raise TrustMaterialError(f"trusted root has unsupported mediaType {media_type!r}")
        root = cls(
            certificate_authorities=_each(document, "certificateAuthorities", _authority),
            tlogs=_each(document, "tlogs", _log),
            ctlogs=_each(document, "ctlogs", _log),
            timestamp_authorities=_each(document, "timestampAuthorities", _authority),
        )
        if not root.certificate_authorities and not root.tlogs:
            raise TrustMaterialError("trusted root has neither certificate authorities nor transparency logs")
        return root

    def tlog(self, log_id: bytes, at: datetime) -> TransparencyLog:
        """The transparency log with this id whose key was valid at `at`."""
        return _find(self.tlogs, log_id, at, "transparency log")

    def ctlog(self, log_id: bytes, at: datetime) -> TransparencyLog:
        """The certificate transparency log with this id whose key was valid at `at`."""
        return _find(self.ctlogs, log_id, at, "certificate transparency log")

    def authorities_at(self, at: datetime) -> tuple[CertificateAuthority, ...]:
        """Certificate authorities whose validFor covers `at`."""
        return tuple(ca for ca in self.certificate_authorities if ca.validity.contains(at))

    def timestamp_authorities_at(self, at: datetime) -> tuple[CertificateAuthority, ...]:
        """Timestamp authorities whose validFor covers `at` (a timestamp's genTime)."""
        return tuple(tsa for tsa in self.timestamp_authorities if tsa.validity.contains(at))


def _find(logs: tuple[TransparencyLog, ...], log_id: bytes, at: datetime, kind: str) -> TransparencyLog:
    known = [log for log in logs if log.log_id == log_id]
    if not known:
        raise SignatureInvalid(f"{kind} {log_id.hex()} is not in the trusted root")
    for log in known:
        if log.validity.contains(at):
            return log
    raise SignatureInvalid(
        f"{kind} {log_id.hex()} key was not valid at {at.isoformat()} (valid {known[0].validity.describe()})"
    )


def _each(document: dict[str, Any], name: str, parse: Any) -> tuple[Any, ...]:
    items = document.get(name, [])
    if not isinstance(items, list):
        raise TrustMaterialError(f"trusted root: {name} must be a list")
    return tuple(parse(item, f"{name}[{index}]") for index, item in enumerate(items))


def _log(item: object, where: str) -> TransparencyLog:
    entry = _object(item, where)
    key_part = _object(entry.get("publicKey"), f"{where}.publicKey")
    details = key_part.get("keyDetails")
    if not isinstance(details, str) or details not in _KEY_DETAILS:
        raise TrustMaterialError(f"trusted root: {where}.publicKey.keyDetails {details!r} is not supported")
    der = _bytes(key_part.get("rawBytes"), f"{where}.publicKey.rawBytes")
    try:
        key = load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TrustMaterialError(f"trusted root: {where}.publicKey is not a public key: {exc}") from None
    if not isinstance(key, PublicKey):
        raise TrustMaterialError(f"trusted root: {where}.publicKey is a {type(key).__name__}, not supported")
    log_id = _bytes(_object(entry.get("logId"), f"{where}.logId").get("keyId"), f"{where}.logId.keyId")
    base_url = entry.get("baseUrl", "")
    return TransparencyLog(
        log_id=log_id,
        key=key,
        key_details=str(details),
        validity=_validity(key_part.get("validFor"), f"{where}.publicKey.validFor"),
        base_url=base_url if isinstance(base_url, str) else "",
    )


def _authority(item: object, where: str) -> CertificateAuthority:
    entry = _object(item, where)
    chain = _object(entry.get("certChain"), f"{where}.certChain").get("certificates")
    if not isinstance(chain, list) or not chain:
        raise TrustMaterialError(f"trusted root: {where}.certChain.certificates must be a non-empty list")
    certificates = []
    for index, cert in enumerate(chain):
        path = f"{where}.certChain.certificates[{index}].rawBytes"
        try:  # every part decoded now, the key included: no half-read root reaches a verifier
            certificates.append(load_certificate(_bytes(_object(cert, path).get("rawBytes"), path)))
        except ValueError as exc:
            raise TrustMaterialError(f"trusted root: {path} is not a DER certificate: {exc}") from None
    uri = entry.get("uri", "")
    return CertificateAuthority(
        uri=uri if isinstance(uri, str) else "",
        certificates=tuple(certificates),
        validity=_validity(entry.get("validFor"), f"{where}.validFor"),
    )


def _validity(item: object, where: str) -> ValidityPeriod:
    if item is None:
        return ValidityPeriod(None, None)
    period = _object(item, where)
    start, end = (_time(period.get(name), f"{where}.{name}") for name in ("start", "end"))
    if start and end and end < start:
        raise TrustMaterialError(f"trusted root: {where} ends before it starts")
    return ValidityPeriod(start, end)


def _time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrustMaterialError(f"trusted root: {where} must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TrustMaterialError(f"trusted root: {where} {value!r} is not an RFC 3339 time") from None
    if parsed.utcoffset() is None:
        raise TrustMaterialError(f"trusted root: {where} {value!r} has no time zone")
    return parsed


def _object(item: object, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise TrustMaterialError(f"trusted root: {where} must be an object")
    return item


def _bytes(value: object, where: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise TrustMaterialError(f"trusted root: {where} must be base64 text")
    # Protobuf's JSON mapping accepts both alphabets, with or without padding.
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise TrustMaterialError(f"trusted root: {where} is not valid base64") from None
