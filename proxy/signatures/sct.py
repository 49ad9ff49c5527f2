"""The Signed Certificate Timestamp embedded in a Fulcio certificate (RFC 6962 §3).

Fulcio logs every certificate it issues to its CT log before issuing it: it sends a
*precertificate*, gets back an SCT and embeds it in the final certificate (extension
1.3.6.1.4.1.11129.2.4.2). An SCT that verifies against a CT log of the trusted root proves the
certificate was logged, i.e. publicly auditable; cosign and sigstore-go require one.

The log signed (RFC 6962 §3.2, ``digitally-signed struct``) for a precert entry:

    u8  sct_version            (v1 = 0)
    u8  signature_type         (certificate_timestamp = 0)
    u64 timestamp              (milliseconds since the epoch)
    u16 entry_type             (precert_entry = 1)
    [32] issuer_key_hash       SHA-256 of the issuing CA's DER SubjectPublicKeyInfo
    u24 length + TBSCertificate of the final certificate without the SCT list extension
    u16 length + extensions    (CtExtensions of the SCT)
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.certificate_transparency import LogEntryType, Version

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.keys import verify_signature
from proxy.signatures.trusted_root import TrustedRoot

__all__ = ["sct_signed_data", "verify_embedded_sct"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def verify_embedded_sct(leaf: x509.Certificate, issuer: x509.Certificate, root: TrustedRoot) -> datetime:
    """The time of the first embedded SCT that a CT log of `root` signed; `SignatureInvalid` if none."""
    try:
        scts = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
        tbs = leaf.tbs_precertificate_bytes
    except x509.ExtensionNotFound:
        raise SignatureInvalid("certificate has no embedded SCT (it was not logged to a CT log)") from None
    except ValueError as exc:
        raise SignatureInvalid(f"certificate's SCT list cannot be read: {exc}") from None
    issuer_key_hash = hashlib.sha256(
        issuer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).digest()
    reasons = []
    for sct in scts:
        if sct.version != Version.v1 or sct.entry_type != LogEntryType.PRE_CERTIFICATE:
            reasons.append("an SCT is not a v1 precertificate SCT")
            continue
        at = _aware(sct.timestamp)
        try:
            log = root.ctlog(sct.log_id, at)
            data = sct_signed_data(_millis(at), issuer_key_hash, tbs, sct.extension_bytes)
            verify_signature(log.key, sct.signature, data)
        except SignatureInvalid as exc:
            reasons.append(f"SCT of log {sct.log_id.hex()}: {exc}")
            continue
        return at
    raise SignatureInvalid("no embedded SCT verifies: " + ("; ".join(reasons) or "the SCT list is empty"))


def sct_signed_data(timestamp_ms: int, issuer_key_hash: bytes, tbs: bytes, extensions: bytes) -> bytes:
    """The RFC 6962 §3.2 signature input of a precert entry (see the module docstring)."""
    return (
        struct.pack(">BBQH", 0, 0, timestamp_ms, 1)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack(">H", len(extensions))
        + extensions
    )


def _aware(moment: datetime) -> datetime:
    # cryptography returns naive UTC datetimes for SCT timestamps.
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def _millis(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)
