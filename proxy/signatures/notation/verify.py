"""Verify one Notation signature envelope against a trust policy, offline.

The steps are those of trust-store-trust-policy.md "Signature Verification", numbered as
there. This module takes the envelope blob (the one layer of the signature manifest, media
type ``application/jose+json`` or ``application/cose``); finding it is discovery's job, for
both the OCI 1.1 form (artifactType ``application/vnd.cncf.notary.signature``, empty config)
and the legacy form whose config media type is ``application/vnd.cncf.notary.signature``.

Choices where the spec leaves room or where being offline forces one:
  - skip level: the spec says "return success" without looking at signatures, i.e. the
    artifact is not verified at all. A `Verification` says whether *this signature* verified,
    so it is ``ok=False`` with "trust policy X skips signature verification ...": honouring
    skip (letting an image through unsigned) is a decision for the gate, made before
    discovery from ``select_policy(doc, repository).level``, never a signature that counts.
  - each check after integrity is enforced or only logged as the policy's level and
    overrides say (strict / permissive / audit table); a logged failure becomes a note.
  - notary.x509 signatures carry a signing time the signer merely claims ("not used in trust
    decisions", signature-envelope-jws.md), so without a verified timestamp the certificates
    must be valid *now* (`now`, injectable for tests). With a policy naming a ``tsa`` store,
    the RFC 3161 countersignature's genTime is what they must be valid at (`timestamp`);
    notary.x509.signingAuthority ones must be valid at their authentic signing time. The
    proven time is the `signed_at` returned.
  - integrity is always enforced, and includes the payload naming this image's digest.
  - revocation: OCSP and CRLs cannot be fetched offline. A chain none of whose certificates
    names an OCSP responder or CRL cannot be revoked, which the spec counts as "not revoked"
    (a note says so). Otherwise: override ``skip`` -> note "revocation check skipped by trust
    policy X"; ``log`` -> note; ``enforce`` (strict) -> not verified, "revocation checking
    required by trust policy X is not possible offline". The TSA chain of a verified
    countersignature is judged the same way, with the signing chain (see `timestamp`, 6.1.7).
  - the signing certificate must carry the code-signing extended key usage (stricter than
    the spec, which makes the extension optional).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.model import SignedImage, Verification
from proxy.signatures.notation.certs import check_chain_requirements, names_revocation_source
from proxy.signatures.notation.cose import verify_cose_envelope
from proxy.signatures.notation.dn import format_subject, is_subset, subject_attributes
from proxy.signatures.notation.envelope import (
    MEDIA_TYPE_COSE,
    MEDIA_TYPE_JWS,
    SCHEME_SIGNING_AUTHORITY,
    Envelope,
)
from proxy.signatures.notation.jws import verify_jws_envelope
from proxy.signatures.notation.stores import Stores, policy_certificates
from proxy.signatures.notation.timestamp import authentic_timestamp
from proxy.signatures.notation.trust_policy import (
    Action,
    Check,
    Level,
    TrustPolicy,
    TrustPolicyDocument,
    select_policy,
)
from proxy.signatures.x509chain import CODE_SIGNING, describe, verify_chain

__all__ = ["Stores", "verify_notation"]

T = TypeVar("T")
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


def verify_notation(
    envelope: bytes,
    media_type: str,
    image: SignedImage,
    policy_doc: TrustPolicyDocument,
    stores: Stores,
    *,
    authority: str,
    artifact_digest: str,
    now: datetime | None = None,
) -> Verification:
    """Whether `envelope` is a signature of `image` that `policy_doc` trusts (never raises)."""
    now = now or datetime.now(UTC)
    if now.utcoffset() is None:
        raise ValueError("verify_notation needs a timezone-aware `now`")

    def failed(message: str, notes: Sequence[str] = (), signer: str | None = None) -> Verification:
        return Verification(
            ok=False,
            authority=authority,
            message=message,
            signer=signer,
            artifact=artifact_digest,
            notes=tuple(notes),
        )

    # 1. Identify the applicable trust policy: exact registry scope, else the global one.
    policy = select_policy(policy_doc, image.repository)
    if policy is None:
        return failed(
            f'no Notation trust policy applies to {image.repository} (no scope names it, no "*" policy)'
        )
    # 2. Proceed based on the verification level (see the module docstring for skip).
    if policy.level is Level.SKIP:
        return failed(
            f"trust policy {policy.name!r} skips signature verification for {image.repository}; nothing was verified"
        )
    steps = _Steps(policy)
    signer = None
    try:
        # 3. Integrity, always enforced: the envelope parses, its signature verifies with the
        #    leaf key under the algorithm that key dictates, and it signs this image.
        content = _open(envelope, media_type)
        signer = f"x509.subject: {format_subject(content.certificates[0].subject)}"
        _check_target(content.payload, image)
        # 4. Authenticity: the chain leads to a certificate of the policy's trust stores and
        #    the signing certificate is one of the trusted identities.
        path = steps.run(Check.AUTHENTICITY, lambda: _authenticity(content, policy, stores))
        # 5. Expiry: the signer's "best by" time.
        steps.run(Check.EXPIRY, lambda: _expiry(content, now))
        # 6. Authentic timestamp: the certificates were valid when it counts.
        certificates = _unique((*content.certificates, *(path or ())))
        proven = steps.run(
            Check.AUTHENTIC_TIMESTAMP,
            lambda: authentic_timestamp(content, policy, certificates, stores, now),
        )
        # 7. Revocation status, as far as it can be known offline, of the signing chain and of
        #    the chain of the TSA that vouched for the signing time.
        steps.revocation(content.certificates, proven.tsa_chain if proven else ())
        # 8. Extended validation by a verification plugin: none runs here, so an envelope
        #    asking for one already failed integrity (envelope.py).
    except SignatureInvalid as exc:
        return failed(str(exc), steps.notes, signer)
    return Verification(
        ok=True,
        authority=authority,
        message=f"signed by {signer}, verified by trust policy {policy.name!r} ({policy.level})",
        signer=signer,
        # A logged timestamp failure leaves no proven time; a signing authority's still stands.
        signed_at=proven.at if proven else content.authentic_signing_time,
        artifact=artifact_digest,
        notes=tuple(steps.notes),
    )


class _Steps:
    """Runs the checks a policy may only log, and keeps the notes of what it logged."""

    def __init__(self, policy: TrustPolicy) -> None:
        self.policy = policy
        self.notes: list[str] = []

    def run(self, check: Check, step: Callable[[], T]) -> T | None:
        try:
            return step()
        except SignatureInvalid as exc:
            if self.policy.action(check) is Action.ENFORCE:
                raise SignatureInvalid(
                    f"{exc} ({check} is enforced by trust policy {self.policy.name!r})"
                ) from None
            self.notes.append(
                f"{check} check failed, logged only by trust policy {self.policy.name!r}: {exc}"
            )
            return None

    def revocation(self, chain: Sequence[x509.Certificate], tsa_chain: Sequence[x509.Certificate]) -> None:
        name = self.policy.name
        if self.policy.action(Check.REVOCATION) is Action.SKIP:
            self.notes.append(f"revocation check skipped by trust policy {name!r}")
            return
        revocable = [describe(cert) for cert in chain if names_revocation_source(cert)]
        revocable += [f"TSA {describe(cert)}" for cert in tsa_chain if names_revocation_source(cert)]
        if not revocable:
            chains = "the chain" if not tsa_chain else "the signing or the TSA chain"
            self.notes.append(
                f"revocation: no certificate of {chains} names an OCSP responder or a CRL, so none can be revoked"
            )
            return

        def offline() -> None:
            raise SignatureInvalid(
                f"revocation checking required by trust policy {name!r} is not possible offline "
                f"({', '.join(revocable)} name OCSP or CRL locations)"
            )

        self.run(Check.REVOCATION, offline)


def _open(envelope: bytes, media_type: str) -> Envelope:
    if media_type == MEDIA_TYPE_JWS:
        return verify_jws_envelope(envelope)
    if media_type == MEDIA_TYPE_COSE:
        return verify_cose_envelope(envelope)
    raise SignatureInvalid(
        f"unsupported Notation envelope media type {media_type!r} (want {MEDIA_TYPE_JWS} or {MEDIA_TYPE_COSE})"
    )


def _check_target(payload: bytes, image: SignedImage) -> None:
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        raise SignatureInvalid("the signed payload is not JSON") from None
    target = document.get("targetArtifact") if isinstance(document, dict) else None
    if not isinstance(target, dict):
        raise SignatureInvalid("the signed payload has no targetArtifact descriptor")
    digest, media_type, size = target.get("digest"), target.get("mediaType"), target.get("size")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise SignatureInvalid(f"the signed targetArtifact has no valid digest: {digest!r}")
    if not isinstance(media_type, str) or not media_type:
        raise SignatureInvalid("the signed targetArtifact has no mediaType")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise SignatureInvalid(f"the signed targetArtifact has no valid size: {size!r}")
    if digest != image.digest:
        raise SignatureInvalid(f"signature is for {digest} but the image is {image.digest}")


def _authenticity(content: Envelope, policy: TrustPolicy, stores: Stores) -> tuple[x509.Certificate, ...]:
    store_type = "signingAuthority" if content.signing_scheme == SCHEME_SIGNING_AUTHORITY else "ca"
    if not any(kind == store_type for kind, _ in policy.trust_stores):
        raise SignatureInvalid(
            f"trust policy {policy.name!r} names no {store_type} trust store, which a {content.signing_scheme} signature needs"
        )
    anchors = policy_certificates(stores, policy, store_type)
    check_chain_requirements(content.certificates)
    leaf, *rest = content.certificates
    # The envelope's own root (last, self-signed: checked above) is trusted only if a store
    # holds it; offered as an intermediate it would only make the path loop onto itself.
    intermediates = rest[:-1]
    try:
        path = verify_chain(leaf, intermediates, anchors, None, required_eku=CODE_SIGNING)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension) as exc:
        raise SignatureInvalid(f"the certificate chain cannot be validated: {exc}") from None
    _check_identity(leaf, policy)
    return path


def _check_identity(leaf: x509.Certificate, policy: TrustPolicy) -> None:
    if policy.any_identity:
        return
    try:
        subject = subject_attributes(leaf.subject)
    except ValueError as exc:
        raise SignatureInvalid(f"the signing certificate's subject cannot be matched: {exc}") from None
    for identity in policy.trusted_identities:
        if identity.subject is not None and is_subset(identity.subject, subject):
            return
    raise SignatureInvalid(
        f"signing certificate x509.subject: {format_subject(leaf.subject)} is not a trusted identity of trust policy {policy.name!r}"
    )


def _expiry(content: Envelope, now: datetime) -> None:
    if content.expiry is not None and now >= content.expiry:
        raise SignatureInvalid(f"the signature expired at {content.expiry.isoformat()}")


def _unique(certificates: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    seen: dict[bytes, x509.Certificate] = {}
    for cert in certificates:
        seen.setdefault(cert.public_bytes(Encoding.DER), cert)
    return tuple(seen.values())
