"""Who a Fulcio certificate was issued to, and whether that is who an authority trusts.

Fulcio (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md) writes the signer's
identity into the short-lived leaf it issues:

  subject   the Subject Alternative Name: an email (rfc822Name), a URI (CI workflows, SPIFFE
            ids) or an otherName of type 1.3.6.1.4.1.57264.1.7 holding a UTF8String username;
  issuer    the OIDC issuer that vouched for it: extension 1.3.6.1.4.1.57264.1.8, a DER
            UTF8String, preferred; or the deprecated 1.3.6.1.4.1.57264.1.1 whose value is the
            raw string bytes (not DER), still the only one in certificates before 2022.

`verify_fulcio_certificate` is the whole certificate check of keyless verification, at the
proven signing time: chain to a certificate authority of the trusted root valid then (code
signing EKU), an embedded SCT from a trusted CT log, and an identity the authority accepts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.keys import PublicKey
from proxy.signatures.model import Identity
from proxy.signatures.sct import verify_embedded_sct
from proxy.signatures.trusted_root import TrustedRoot
from proxy.signatures.x509chain import CODE_SIGNING, verify_chain

__all__ = [
    "ISSUER_OID",
    "ISSUER_V1_OID",
    "USERNAME_OID",
    "FulcioIdentity",
    "certificate_key",
    "identity_of",
    "match_identity",
    "verify_fulcio_certificate",
]

ISSUER_V1_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # deprecated: raw bytes
ISSUER_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # DER UTF8String
USERNAME_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")  # otherName SAN: DER UTF8String
_UTF8_STRING = 0x0C


@dataclass(frozen=True, slots=True)
class FulcioIdentity:
    subject: str  # the SAN: email, URI or username
    issuer: str  # the OIDC issuer URL

    @property
    def signer(self) -> str:
        """The stable id `Verification.signer` carries: ``<issuer>|<subject>``."""
        return f"{self.issuer}|{self.subject}"


def verify_fulcio_certificate(
    leaf: x509.Certificate,
    at: datetime,
    identities: Sequence[Identity],
    root: TrustedRoot,
) -> FulcioIdentity:
    """Steps of keyless certificate verification at the proven time `at`; raises `SignatureInvalid`."""
    # 0. Who it names (reading the extensions first turns a malformed one into SignatureInvalid).
    identity = identity_of(leaf)
    # 1. The path leaf -> intermediates -> root of one certificate authority valid at `at`.
    path = _chain(leaf, at, root)
    # 2. The certificate was logged: an embedded SCT signed by a trusted CT log (RFC 6962).
    verify_embedded_sct(leaf, path[1], root)
    # 3. It was issued to an identity the authority trusts.
    match_identity(identity, identities)
    return identity


def _chain(leaf: x509.Certificate, at: datetime, root: TrustedRoot) -> tuple[x509.Certificate, ...]:
    authorities = root.authorities_at(at)
    if not authorities:
        raise SignatureInvalid(f"no certificate authority of the trusted root was valid at {at.isoformat()}")
    reasons = []
    for authority in authorities:
        try:
            # The trusted root's own intermediates only: certificates shipped beside the
            # signature (cosign's chain annotation) add nothing the root does not vouch for.
            path = verify_chain(
                leaf, authority.intermediates, authority.anchors, at, required_eku=CODE_SIGNING
            )
        except SignatureInvalid as exc:
            reasons.append(str(exc))
            continue
        if len(path) < 2:
            reasons.append("the leaf certificate is itself a trust anchor, not a Fulcio certificate")
            continue
        return path
    raise SignatureInvalid("; ".join(dict.fromkeys(reasons)))


def identity_of(cert: x509.Certificate) -> FulcioIdentity:
    """The SAN and OIDC issuer Fulcio wrote; `SignatureInvalid` when either is missing."""
    try:
        extensions = cert.extensions
    except ValueError as exc:
        raise SignatureInvalid(f"certificate extensions cannot be read: {exc}") from None
    return FulcioIdentity(subject=_subject(extensions), issuer=_issuer(extensions))


def match_identity(identity: FulcioIdentity, identities: Sequence[Identity]) -> Identity:
    """The first trusted identity `identity` matches; otherwise `SignatureInvalid` saying why."""
    if not identities:
        raise SignatureInvalid("the authority trusts no identity")
    reasons = []
    for expected in identities:
        reason = _mismatch(identity, expected)
        if reason is None:
            return expected
        reasons.append(reason)
    raise SignatureInvalid("; ".join(dict.fromkeys(reasons)))


def _mismatch(identity: FulcioIdentity, expected: Identity) -> str | None:
    issuer = _compare("issuer", identity.issuer, expected.issuer, expected.issuer_regex)
    subject = _compare("identity", identity.subject, expected.subject, expected.subject_regex)
    return subject or issuer


def _compare(what: str, actual: str, exact: str | None, pattern: str | None) -> str | None:
    # Fail closed: an identity that does not say who may sign matches nobody.
    if exact is None and pattern is None:
        return f"trusted identity names no certificate {what}"
    if exact is not None and actual != exact:
        return f"certificate {what} {actual} does not match {exact}"
    if pattern is not None:
        try:
            matched = re.fullmatch(pattern, actual)  # anchored at both ends, as cosign's regexps
        except re.error as exc:
            raise TrustMaterialError(f"invalid regular expression {pattern!r}: {exc}") from None
        if matched is None:
            return f"certificate {what} {actual} does not match {pattern}"
    return None


def _subject(extensions: x509.Extensions) -> str:
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise SignatureInvalid(
            "certificate has no subject alternative name (not a Fulcio certificate)"
        ) from None
    values: list[str] = [*san.get_values_for_type(x509.RFC822Name)]
    values += san.get_values_for_type(x509.UniformResourceIdentifier)
    values += [
        _utf8_string(o.value) for o in san.get_values_for_type(x509.OtherName) if o.type_id == USERNAME_OID
    ]
    if len(values) != 1:
        # Fulcio writes exactly one; more would make "the" signer ambiguous.
        raise SignatureInvalid(f"certificate has {len(values)} signer identities in its SAN, expected one")
    return values[0]


def _issuer(extensions: x509.Extensions) -> str:
    for oid, decode in ((ISSUER_OID, _utf8_string), (ISSUER_V1_OID, _raw_string)):
        try:
            value = extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        if isinstance(value, x509.UnrecognizedExtension):
            return decode(value.value)
    raise SignatureInvalid("certificate names no OIDC issuer (extension 1.3.6.1.4.1.57264.1.8 or .1.1)")


def _raw_string(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureInvalid("certificate issuer extension is not UTF-8") from None


def _utf8_string(der: bytes) -> str:
    """A DER UTF8String, all of `der`; `SignatureInvalid` otherwise."""
    if len(der) < 2 or der[0] != _UTF8_STRING:
        raise SignatureInvalid("certificate extension is not a DER UTF8String")
    length, offset = der[1], 2
    if length & 0x80:  # long form: the next (length & 0x7f) bytes hold the length
        count = length & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            raise SignatureInvalid("certificate extension has a bad DER length")
        length, offset = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    if len(der) != offset + length:
        raise SignatureInvalid("certificate extension has a bad DER length")
    return _raw_string(der[offset:])


def certificate_key(leaf: x509.Certificate) -> PublicKey:
    """The leaf's public key, if of a type signatures are checked with; `SignatureInvalid` otherwise."""
    try:
        key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureInvalid(f"certificate key cannot be read: {exc}") from None
    if not isinstance(key, PublicKey):
        raise SignatureInvalid(f"certificate key of type {type(key).__name__} is not supported")
    return key
