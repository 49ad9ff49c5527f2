"""Verification of a Sigstore bundle found as an OCI referrer of an image.

Steps, after sigstore's client specification ("Verification", https://github.com/sigstore/
architecture-docs/blob/main/client-spec.md §4) and cosign's BUNDLE_SPEC:

  1. parse the bundle (`proxy.signatures.bundle_parse`): media type v0.1 to v0.3, one content;
  2. the signing key: the bundle's Fulcio certificate (keyless) or a key of the authority;
  3. the content's signature verifies with that key and the content is about this image:
     the message digest is the image digest, or the DSSE in-toto Statement has the image
     digest among its subjects (`proxy.signatures.bundle_content`);
  4. the proven signing times: every transparency log entry verifies offline (SET, inclusion
     proof, signed checkpoint) and its body records this very signature, signer and content,
     proving its integratedTime (`proxy.signatures.rekor`); every RFC 3161 timestamp in
     ``timestampVerificationData`` is over the signature bytes and signed by a timestamp
     authority of the trusted root, proving its genTime (`proxy.signatures.rfc3161`). All
     must verify: a bad one is not skipped;
  5. keyless: the certificate, at each of those times, chains to the trusted root, carries a
     valid SCT and names a trusted identity (`proxy.signatures.proven_time`).
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
from proxy.signatures.fulcio import certificate_key
from proxy.signatures.keys import PublicKey, key_id
from proxy.signatures.model import KeyAuthority, KeylessAuthority, SignedImage, Verification
from proxy.signatures.proven_time import verify_certificate_at
from proxy.signatures.rekor import RekorEntry, verify_entry
from proxy.signatures.rekor_body import Signer, check_dsse_body, check_hashedrekord_body
from proxy.signatures.rfc3161 import verify_timestamps
from proxy.signatures.trusted_root import TrustedRoot

__all__ = ["verify_bundle"]

_NO_ENTRY = "the bundle has no transparency log entry"


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
    # 4. Proven signing times: transparency log entries and RFC 3161 timestamps.
    times = _proven_times(bundle, leaf, root)
    # 5. The certificate at each of those times.
    identity, at = verify_certificate_at(leaf, times, authority.identities, root)
    return Verification(
        ok=True,
        authority=authority.name,
        message=f"{what} signed by {identity.subject} (issuer {identity.issuer}) at {at.isoformat()}",
        signer=identity.signer,
        signed_at=at,
        notes=() if bundle.entries else (_NO_ENTRY,),
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
    notes: tuple[str, ...] = ()
    at: datetime | None = None
    if root is None:
        notes += ("transparency log not checked: the key authority has no trusted root",)
        if bundle.timestamps:
            notes += (f"{len(bundle.timestamps)} RFC 3161 timestamp(s) not checked: no trusted root",)
    elif bundle.entries or bundle.timestamps:
        at = min(_proven_times(bundle, key, root))  # 4.
    if root is not None and not bundle.entries:
        notes += (_NO_ENTRY,)
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


def _proven_times(bundle: Bundle, signer: Signer, root: TrustedRoot) -> list[datetime]:
    """Step 4: the time every log entry and every timestamp proves; none may fail."""
    times = [_verify_entry(bundle, entry, signer, root) for entry in bundle.entries]
    if bundle.timestamps:
        times += verify_timestamps(bundle.timestamps, _signature(bundle), root)
    if not times:
        raise SignatureInvalid(
            "no proven signing time: the bundle has neither a transparency log entry nor an RFC 3161 timestamp"
        )
    return times


def _verify_entry(bundle: Bundle, entry: RekorEntry, signer: Signer, root: TrustedRoot) -> datetime:
    at = verify_entry(entry, root)
    if bundle.envelope is not None:
        envelope = bundle.envelope
        check_dsse_body(entry.body, payload=envelope.payload, signature=envelope.signature, signer=signer)
    else:
        assert bundle.message is not None
        message = bundle.message
        check_hashedrekord_body(entry.body, signature=message.signature, signer=signer, sha256=message.digest)
    return at


def _signature(bundle: Bundle) -> bytes:
    """What a TSA timestamped: the raw signature bytes (of the envelope, or of the message)."""
    if bundle.envelope is not None:
        return bundle.envelope.signature
    assert bundle.message is not None  # parse_bundle guarantees exactly one
    return bundle.message.signature
