"""Keyless verification of a legacy cosign signature layer (certificate in its annotations).

cosign's SIGNATURE_SPEC (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md)
puts beside a keyless signature:

  dev.sigstore.cosign/certificate        the Fulcio leaf, PEM
  dev.sigstore.cosign/chain              its issuers, PEM (informative: trust comes from the root)
  dev.sigstore.cosign/bundle             the Rekor SET of the signature's log entry
  dev.sigstore.cosign/rfc3161timestamp   an RFC 3161 timestamp over the signature bytes

The certificate is valid for minutes, so everything is checked at the time the signature is
*proven* to have existed: the Rekor entry's integratedTime, vouched for by the log's SET, and
the genTime of the RFC 3161 timestamp, vouched for by a timestamp authority of the trusted
root (`proxy.signatures.rfc3161`). Either suffices; when both are there both must verify and
the certificate is checked at each (`proxy.signatures.proven_time`). The current time is never
used: without a proven time the signature does not verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.fulcio import FulcioIdentity, certificate_key
from proxy.signatures.keys import verify_signature
from proxy.signatures.model import KeylessAuthority, Verification
from proxy.signatures.proven_time import verify_certificate_at
from proxy.signatures.rekor import parse_cosign_bundle_annotation, verify_entry
from proxy.signatures.rekor_body import check_hashedrekord_body
from proxy.signatures.rfc3161 import parse_cosign_timestamp_annotation, verify_timestamp
from proxy.signatures.trusted_root import TrustedRoot
from proxy.signatures.x509chain import load_certificate

__all__ = [
    "BUNDLE_ANNOTATION",
    "CERTIFICATE_ANNOTATION",
    "CHAIN_ANNOTATION",
    "TIMESTAMP_ANNOTATION",
    "verify_cosign_certificate",
]

CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
TIMESTAMP_ANNOTATION = "dev.sigstore.cosign/rfc3161timestamp"
_MAX_CERTIFICATE_CHARS = 64 * 1024
_TIMESTAMP_ONLY = f"the signature has no Rekor entry ({BUNDLE_ANNOTATION}): its time is proven by an RFC 3161 timestamp only"


@dataclass(frozen=True, slots=True)
class _Signed:
    identity: FulcioIdentity
    at: datetime
    notes: tuple[str, ...]


def verify_cosign_certificate(
    annotations: Mapping[str, str],
    *,
    payload: bytes,
    signature: bytes,
    authority: KeylessAuthority,
    trusted_root: TrustedRoot,
) -> Verification:
    """Whether `signature` over exactly `payload` was made by an identity `authority` trusts.

    Returns a `Verification` (``ok=False`` with the reason when it does not verify); never
    raises for bad input. The caller checks what the payload says (image digest, claims).
    """
    try:
        signed = _verify(annotations, payload, signature, authority, trusted_root)
    except (SignatureInvalid, TrustMaterialError) as exc:
        return Verification(ok=False, authority=authority.name, message=str(exc))
    identity = signed.identity
    return Verification(
        ok=True,
        authority=authority.name,
        message=f"signed by {identity.subject} (issuer {identity.issuer}) at {signed.at.isoformat()}",
        signer=identity.signer,
        signed_at=signed.at,
        notes=signed.notes,
    )


def _verify(
    annotations: Mapping[str, str],
    payload: bytes,
    signature: bytes,
    authority: KeylessAuthority,
    root: TrustedRoot,
) -> _Signed:
    # 1. The leaf certificate the layer carries.
    leaf = _leaf(annotations)
    # 2. The signature is over exactly these payload bytes, with the leaf's key.
    key = certificate_key(leaf)
    verify_signature(key, signature, payload)
    # 3. The signing time is proven by the Rekor SET or an RFC 3161 timestamp, never the clock.
    times = _proven_times(annotations, payload, signature, leaf, root)
    # 4-6. At each proven time: chain to a CA valid then; embedded SCT; identity the authority trusts.
    identity, at = verify_certificate_at(leaf, times, authority.identities, root)
    notes = () if BUNDLE_ANNOTATION in annotations else (_TIMESTAMP_ONLY,)
    return _Signed(identity, at, notes)


def _proven_times(
    annotations: Mapping[str, str],
    payload: bytes,
    signature: bytes,
    leaf: x509.Certificate,
    root: TrustedRoot,
) -> list[datetime]:
    times = []
    if BUNDLE_ANNOTATION in annotations:
        entry = parse_cosign_bundle_annotation(annotations[BUNDLE_ANNOTATION])
        times.append(verify_entry(entry, root))
        # The logged entry records this signature, this certificate and this payload's digest.
        check_hashedrekord_body(
            entry.body, signature=signature, signer=leaf, sha256=hashlib.sha256(payload).digest()
        )
    if TIMESTAMP_ANNOTATION in annotations:
        token = parse_cosign_timestamp_annotation(annotations[TIMESTAMP_ANNOTATION])
        times.append(verify_timestamp(token, signature, root))
    if not times:
        raise SignatureInvalid(
            f"no proven signing time: the signature has neither a {BUNDLE_ANNOTATION} annotation "
            f"(Rekor SET) nor a {TIMESTAMP_ANNOTATION} annotation"
        )
    return times


def _leaf(annotations: Mapping[str, str]) -> x509.Certificate:
    pem = annotations.get(CERTIFICATE_ANNOTATION)
    if not pem:
        raise SignatureInvalid(f"no {CERTIFICATE_ANNOTATION} annotation: not a keyless signature")
    if len(pem) > _MAX_CERTIFICATE_CHARS:
        raise SignatureInvalid(f"{CERTIFICATE_ANNOTATION} annotation is too large")
    try:
        return load_certificate(pem.encode("utf-8"), pem=True)
    except ValueError as exc:  # UnicodeEncodeError included
        raise SignatureInvalid(
            f"{CERTIFICATE_ANNOTATION} annotation is not a PEM certificate: {exc}"
        ) from None
