"""Keyless verification of a legacy cosign signature layer (certificate in its annotations).

cosign's SIGNATURE_SPEC (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md)
puts beside a keyless signature:

  dev.sigstore.cosign/certificate        the Fulcio leaf, PEM
  dev.sigstore.cosign/chain              its issuers, PEM (informative: trust comes from the root)
  dev.sigstore.cosign/bundle             the Rekor SET of the signature's log entry
  dev.sigstore.cosign/rfc3161timestamp   an RFC 3161 timestamp (not verified yet, see below)

The certificate is valid for minutes, so everything is checked at the time the signature is
*proven* to have existed: the Rekor entry's integratedTime, vouched for by the log's SET. The
current time is never used; without a proven time the signature does not verify. RFC 3161
timestamps need CMS SignedData verification, which `cryptography` does not offer: a signature
that has only a timestamp is refused, saying so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from cryptography import x509

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.fulcio import FulcioIdentity, certificate_key, verify_fulcio_certificate
from proxy.signatures.keys import verify_signature
from proxy.signatures.model import KeylessAuthority, Verification
from proxy.signatures.rekor import RekorEntry, parse_cosign_bundle_annotation, verify_entry
from proxy.signatures.rekor_body import check_hashedrekord_body
from proxy.signatures.trusted_root import TrustedRoot

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
        identity, at = _verify(annotations, payload, signature, authority, trusted_root)
    except (SignatureInvalid, TrustMaterialError) as exc:
        return Verification(ok=False, authority=authority.name, message=str(exc))
    return Verification(
        ok=True,
        authority=authority.name,
        message=f"signed by {identity.subject} (issuer {identity.issuer}) at {at.isoformat()}",
        signer=identity.signer,
        signed_at=at,
    )


def _verify(
    annotations: Mapping[str, str],
    payload: bytes,
    signature: bytes,
    authority: KeylessAuthority,
    root: TrustedRoot,
) -> tuple[FulcioIdentity, datetime]:
    # 1. The leaf certificate the layer carries.
    leaf = _leaf(annotations)
    # 2. The signature is over exactly these payload bytes, with the leaf's key.
    key = certificate_key(leaf)
    verify_signature(key, signature, payload)
    # 3. The signing time is proven by the Rekor SET, never taken from the clock.
    entry = _rekor_entry(annotations)
    at = verify_entry(entry, root)
    # 4. The logged entry records this signature, this certificate and this payload's digest.
    check_hashedrekord_body(
        entry.body, signature=signature, signer=leaf, sha256=hashlib.sha256(payload).digest()
    )
    # 5-7. Chain to a CA valid at that time, embedded SCT, identity trusted by the authority.
    identity = verify_fulcio_certificate(leaf, at, authority.identities, root)
    return identity, at


def _leaf(annotations: Mapping[str, str]) -> x509.Certificate:
    pem = annotations.get(CERTIFICATE_ANNOTATION)
    if not pem:
        raise SignatureInvalid(f"no {CERTIFICATE_ANNOTATION} annotation: not a keyless signature")
    if len(pem) > _MAX_CERTIFICATE_CHARS:
        raise SignatureInvalid(f"{CERTIFICATE_ANNOTATION} annotation is too large")
    try:
        return x509.load_pem_x509_certificate(pem.encode("utf-8"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureInvalid(
            f"{CERTIFICATE_ANNOTATION} annotation is not a PEM certificate: {exc}"
        ) from None


def _rekor_entry(annotations: Mapping[str, str]) -> RekorEntry:
    if BUNDLE_ANNOTATION in annotations:
        return parse_cosign_bundle_annotation(annotations[BUNDLE_ANNOTATION])
    if TIMESTAMP_ANNOTATION in annotations:
        raise SignatureInvalid(
            "RFC 3161 timestamps are not supported yet: the signature has no Rekor bundle to prove its time"
        )
    raise SignatureInvalid(
        f"no proven signing time: the signature has no {BUNDLE_ANNOTATION} annotation (Rekor SET)"
    )
