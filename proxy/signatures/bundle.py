"""Verification of a Sigstore bundle found as an OCI referrer of an image.

Steps, after sigstore's client specification ("Verification", https://github.com/sigstore/
architecture-docs/blob/main/client-spec.md §4) and cosign's BUNDLE_SPEC:

  1. parse the bundle (`proxy.signatures.bundle_parse`): media type v0.1 to v0.3, one content;
  2. the signing key: the bundle's Fulcio certificate (keyless) or a key of the authority;
  3. the content's signature verifies with that key and the content is about this image:
     the message digest is the image digest, or the DSSE in-toto Statement has the image
     digest among its subjects (`proxy.signatures.bundle_content`);
  4. every transparency log entry verifies offline (SET, inclusion proof, signed checkpoint)
     and its body records this very signature, signer and content; its integratedTime is the
     proven signing time (`proxy.signatures.rekor`);
  5. keyless: the certificate, at that time, chains to the trusted root, carries a valid SCT
     and names a trusted identity (`proxy.signatures.fulcio`).

RFC 3161 timestamps in ``timestampVerificationData`` are not verified (`cryptography` has no
CMS verification): a keyless bundle whose only proof of time they are does not verify.
"""

from __future__ import annotations

from datetime import datetime

from proxy.signatures.bundle_content import (
    check_statement_subject,
    verify_dsse,
    verify_message_signature,
)
from proxy.signatures.bundle_parse import Bundle, parse_bundle
from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.fulcio import certificate_key, verify_fulcio_certificate
from proxy.signatures.keys import PublicKey, key_id
from proxy.signatures.model import KeyAuthority, KeylessAuthority, SignedImage, Verification
from proxy.signatures.rekor import verify_entry
from proxy.signatures.rekor_body import Signer, check_dsse_body, check_hashedrekord_body
from proxy.signatures.trusted_root import TrustedRoot

__all__ = ["verify_bundle"]


def verify_bundle(
    data: bytes,
    image: SignedImage,
    authority: KeylessAuthority | KeyAuthority,
    *,
    trusted_root: TrustedRoot | None,
    keys: tuple[PublicKey, ...] | None,
    artifact_digest: str,
) -> Verification:
    """Check one bundle against one authority; never raises for bad input.

    `trusted_root` is required for a keyless authority; `keys` for a key authority (whose
    bundles' log entries are checked only when a `trusted_root` is given too).
    `artifact_digest` is the digest of the referrer manifest, reported back for the audit trail.
    """
    try:
        if isinstance(authority, KeylessAuthority):
            result = _keyless(data, image, authority, trusted_root)
        else:
            result = _keyed(data, image, authority, keys, trusted_root)
    except (SignatureInvalid, TrustMaterialError) as exc:
        return Verification(ok=False, authority=authority.name, message=str(exc), artifact=artifact_digest)
    return Verification(
        ok=True,
        authority=authority.name,
        message=result.message,
        signer=result.signer,
        signed_at=result.signed_at,
        artifact=artifact_digest,
        notes=result.notes,
    )


def _keyless(
    data: bytes, image: SignedImage, authority: KeylessAuthority, root: TrustedRoot | None
) -> Verification:
    if root is None:
        raise TrustMaterialError(f"authority {authority.name} has no trusted root loaded")
    # 1. Parse.
    bundle = parse_bundle(data)
    # 2. The signing key is the certificate's.
    if bundle.certificate is None:
        raise SignatureInvalid("bundle has no certificate (signed with a key), the authority is keyless")
    leaf = bundle.certificate
    key = certificate_key(leaf)
    # 3. Content signature and subject.
    what = _check_content(bundle, key, image)
    # 4. Proven signing time from the transparency log.
    if not bundle.entries:
        raise SignatureInvalid(_no_time(bundle))
    at = _verify_entries(bundle, leaf, root)
    # 5. The certificate at that time.
    identity = verify_fulcio_certificate(leaf, at, authority.identities, root)
    return Verification(
        ok=True,
        authority=authority.name,
        message=f"{what} signed by {identity.subject} (issuer {identity.issuer}) at {at.isoformat()}",
        signer=identity.signer,
        signed_at=at,
        notes=_timestamp_notes(bundle),
    )


def _keyed(
    data: bytes,
    image: SignedImage,
    authority: KeyAuthority,
    keys: tuple[PublicKey, ...] | None,
    root: TrustedRoot | None,
) -> Verification:
    if not keys:
        raise TrustMaterialError(f"authority {authority.name} has no public key loaded")
    bundle = parse_bundle(data)  # 1.
    reasons = []
    for key in keys:  # 2-3. The first key of the authority the content verifies with.
        try:
            what = _check_content(bundle, key, image)
        except SignatureInvalid as exc:
            reasons.append(str(exc))
            continue
        break
    else:
        raise SignatureInvalid("; ".join(dict.fromkeys(reasons)))
    notes = _timestamp_notes(bundle)
    at: datetime | None = None
    if root is None:
        notes += ("transparency log not checked: the key authority has no trusted root",)
    elif bundle.entries:
        at = _verify_entries(bundle, key, root)  # 4.
    else:
        notes += ("the bundle has no transparency log entry",)
    when = f" at {at.isoformat()}" if at else ""
    return Verification(
        ok=True,
        authority=authority.name,
        message=f"{what} signed by key {key_id(key)}{when}",
        signer=key_id(key),
        signed_at=at,
        notes=notes,
    )


def _check_content(bundle: Bundle, key: PublicKey, image: SignedImage) -> str:
    """Step 3; what was signed, for the message."""
    if bundle.envelope is not None:
        verify_dsse(bundle.envelope, key)
        predicate = check_statement_subject(bundle.envelope, image.digest)
        return f"in-toto statement ({predicate or 'no predicate type'})"
    assert bundle.message is not None  # parse_bundle guarantees exactly one
    verify_message_signature(bundle.message, key, image.digest)
    return "image"


def _verify_entries(bundle: Bundle, signer: Signer, root: TrustedRoot) -> datetime:
    """Step 4 for every entry; the earliest proven integrated time."""
    times = []
    for entry in bundle.entries:
        times.append(verify_entry(entry, root))
        if bundle.envelope is not None:
            envelope = bundle.envelope
            check_dsse_body(entry.body, payload=envelope.payload, signature=envelope.signature, signer=signer)
        else:
            assert bundle.message is not None
            message = bundle.message
            check_hashedrekord_body(
                entry.body, signature=message.signature, signer=signer, sha256=message.digest
            )
    return min(times)


def _no_time(bundle: Bundle) -> str:
    if bundle.timestamps:
        return "RFC 3161 timestamps are not supported yet: the bundle has no transparency log entry to prove its time"
    return "no proven signing time: the bundle has no transparency log entry"


def _timestamp_notes(bundle: Bundle) -> tuple[str, ...]:
    if bundle.timestamps:
        return (f"{bundle.timestamps} RFC 3161 timestamp(s) not checked (not supported yet)",)
    return ()
