"""Certificate path validation at a given moment, for code-signing certificates.

Both keyless cosign (Fulcio leaf -> intermediates -> a root of the trusted root) and Notation
(signing certificate -> ... -> a certificate of a trust store) need the same check, at the
time the signature was *proven* to exist (a transparency-log entry, a timestamp or the signed
signing time), never "now": a Fulcio certificate lives ten minutes.

The path is built from the leaf upwards (RFC 5280 §6.1, reduced to what code signing needs):
  1. every certificate on the path is within its validity period at `at`;
  2. each certificate is signed by the next one, whose subject is its issuer;
  3. every issuer is a CA (basicConstraints cA=TRUE), may sign certificates (keyUsage
     keyCertSign when keyUsage is present) and its pathLenConstraint is respected;
  4. the path ends at one of the trust anchors (an anchor may also be the leaf's direct issuer
     or the leaf itself, compared byte for byte);
  5. the leaf may sign (keyUsage digitalSignature when present) and carries the required
     extended key usage (code signing) when one is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError

__all__ = ["CODE_SIGNING", "describe", "load_certificate", "load_pem_certificates", "verify_chain"]

CODE_SIGNING = ExtendedKeyUsageOID.CODE_SIGNING
MAX_PATH = 8  # longer paths are not seen in practice and would only cost time
_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
# What cryptography raises for a malformed certificate, when it is loaded or later: names,
# extensions and keys are decoded lazily, on first use (the fuzzing campaign found each one
# escaping from describe(), issuer matching and chain building, and a subjectAltName holding
# an x400Address from the extensions).
_MALFORMED = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


def load_certificate(data: bytes, *, pem: bool = False) -> x509.Certificate:
    """One DER (or PEM) certificate with every part pullgate reads decoded now; `ValueError`
    naming the problem otherwise, so that no malformed name, extension or key surfaces later
    as a foreign exception in the middle of a verification."""
    try:
        cert = x509.load_pem_x509_certificate(data) if pem else x509.load_der_x509_certificate(data)
        return _decoded(cert)
    except _MALFORMED as exc:
        raise ValueError(
            f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
        ) from None


def _decoded(cert: x509.Certificate) -> x509.Certificate:
    _ = (cert.subject, cert.issuer, cert.extensions, cert.public_key())
    return cert


def load_pem_certificates(text: str | bytes) -> tuple[x509.Certificate, ...]:
    data = text.encode() if isinstance(text, str) else text
    if _PEM_BEGIN not in data:
        raise TrustMaterialError("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)")
    try:
        return tuple(_decoded(cert) for cert in x509.load_pem_x509_certificates(data))
    except _MALFORMED as exc:
        raise TrustMaterialError(f"a certificate could not be read: {exc}") from None


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number:x}"


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime | None,
    *,
    required_eku: x509.ObjectIdentifier | None = CODE_SIGNING,
) -> tuple[x509.Certificate, ...]:
    """The path leaf..anchor valid at `at`; `SignatureInvalid` says which step failed.

    `at=None` skips step 1 for a caller that checks validity periods itself (Notation does, in
    a step of its own that a trust policy may only log).
    """
    if at is not None and at.utcoffset() is None:
        raise ValueError("verify_chain needs a timezone-aware time")
    _check_leaf(leaf, required_eku)
    anchor_der = {a.public_bytes(Encoding.DER): a for a in anchors}
    path = [leaf]
    current = leaf
    while True:
        _check_time(current, at)  # step 1
        if current.public_bytes(Encoding.DER) in anchor_der:  # step 4: the anchor itself
            return tuple(path)
        issuer = _find_issuer(current, list(anchor_der.values()))
        if issuer is not None:
            _check_issuer(issuer, len(path) - 1)
            _check_time(issuer, at)
            return (*path, issuer)
        # A self-signed certificate that is not an anchor ends the path untrusted (a signer
        # may ship its own root among the intermediates).
        self_signed = current.subject == current.issuer and current is not leaf
        issuer = None if self_signed else _find_issuer(current, intermediates)
        if issuer is None:
            raise SignatureInvalid(
                f"certificate {describe(current)!r} does not chain to a trusted root "
                f"(issuer {current.issuer.rfc4514_string()!r} is not trusted)"
            )
        _check_issuer(issuer, len(path) - 1)  # step 3
        if issuer in path or len(path) >= MAX_PATH:
            raise SignatureInvalid(f"certificate path from {describe(leaf)!r} loops or is too long")
        path.append(issuer)
        current = issuer


def _find_issuer(cert: x509.Certificate, candidates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)  # step 2
        except (InvalidSignature, ValueError, TypeError):
            continue
        return candidate
    return None


def _check_time(cert: x509.Certificate, at: datetime | None) -> None:
    if at is not None and not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SignatureInvalid(
            f"certificate {describe(cert)!r} was not valid at {at.isoformat()} "
            f"(valid {cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
        )


def _check_issuer(issuer: x509.Certificate, certificates_below: int) -> None:
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise SignatureInvalid(f"issuer {describe(issuer)!r} is not a CA (no basicConstraints)") from None
    except (ValueError, x509.DuplicateExtension) as exc:
        raise SignatureInvalid(f"issuer {describe(issuer)!r} has a malformed extension: {exc}") from None
    if not constraints.ca:
        raise SignatureInvalid(f"issuer {describe(issuer)!r} is not a CA")
    # pathLenConstraint counts the intermediate CAs that may follow this one (leaf excluded);
    # `certificates_below` already excludes the leaf.
    if constraints.path_length is not None and certificates_below > constraints.path_length:
        raise SignatureInvalid(f"issuer {describe(issuer)!r}: path length constraint exceeded")
    usage = _extension(issuer, ExtensionOID.KEY_USAGE)
    if usage is not None and not usage.key_cert_sign:
        raise SignatureInvalid(f"issuer {describe(issuer)!r} may not sign certificates")


def _check_leaf(leaf: x509.Certificate, required_eku: x509.ObjectIdentifier | None) -> None:
    usage = _extension(leaf, ExtensionOID.KEY_USAGE)
    if usage is not None and not usage.digital_signature:
        raise SignatureInvalid(f"certificate {describe(leaf)!r} may not make signatures (keyUsage)")
    if required_eku is None:
        return
    eku = _extension(leaf, ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is None or required_eku not in eku:
        raise SignatureInvalid(f"certificate {describe(leaf)!r} is not for code signing (extended key usage)")


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> Any:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension) as exc:  # parsed lazily: malformed ones land here
        raise SignatureInvalid(f"certificate {describe(cert)!r} has a malformed extension: {exc}") from exc
