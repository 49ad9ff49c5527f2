"""The certificate chain in a Notation envelope, checked against the spec's requirements.

signature-specification.md "Certificate Requirements", as notation-core-go enforces them
(``ValidateCodeSigningCertChain``), independently of any trust store:
  1. the chain is ordered: each certificate is issued by the next one, the last is a
     self-signed root, and no other certificate is self-signed; a chain of one certificate is
     a self-signed certificate that meets the leaf requirements;
  2. the leaf: basicConstraints, if present, has cA=FALSE; keyUsage is present, critical, has
     digitalSignature and none of keyEncipherment, dataEncipherment, keyAgreement,
     keyCertSign, cRLSign, encipherOnly, decipherOnly; an extended key usage, if present,
     names none of anyExtendedKeyUsage, serverAuth, clientAuth, emailProtection,
     timeStamping, OCSPSigning;
  3. a CA: basicConstraints cA=TRUE (pathLenConstraint respected); keyUsage present, critical,
     with keyCertSign;
  4. keys: RSA of 2048/3072/4096 bits or EC on P-256/384/521; no SHA-1 signatures.
`check_timestamping_requirements` applies the same section to a TSA's path, as
notation-core-go's ``ValidateTimestampingCertChain`` does: the signer's extended key usage is
exactly id-kp-timeStamping, critical (RFC 3161 §2.3), and key usage need only be present.
`check_chain_requirements` does not look at validity periods: which moment counts is decided
by the authentic timestamp step, which calls `check_valid_at`. `names_revocation_source`
tells whether a certificate could be revoked at all (it names an OCSP responder or a CRL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ExtensionOID

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.x509chain import describe

__all__ = [
    "check_chain_requirements",
    "check_timestamping_requirements",
    "check_valid_at",
    "names_revocation_source",
]

E = TypeVar("E", bound=x509.ExtensionType)

_EXCLUDED_EKUS = (
    (ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE, "anyExtendedKeyUsage"),
    (ExtendedKeyUsageOID.SERVER_AUTH, "serverAuth"),
    (ExtendedKeyUsageOID.CLIENT_AUTH, "clientAuth"),
    (ExtendedKeyUsageOID.EMAIL_PROTECTION, "emailProtection"),
    (ExtendedKeyUsageOID.TIME_STAMPING, "timeStamping"),
    (ExtendedKeyUsageOID.OCSP_SIGNING, "OCSPSigning"),
)
_LEAF_FORBIDDEN_USAGES = (
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def check_chain_requirements(chain: Sequence[x509.Certificate]) -> None:
    """`SignatureInvalid` naming the first requirement `chain` (leaf first) breaks."""
    for index, cert in enumerate(chain):
        _check_key_and_hash(cert)
        last = index == len(chain) - 1
        issuer = cert if last else chain[index + 1]
        if not _issued_by(cert, issuer):
            what = (
                "the last certificate of the chain is not a self-signed root"
                if last
                else "the chain is not ordered"
            )
            raise SignatureInvalid(f"{what}: {describe(cert)!r} is not issued by {describe(issuer)!r}")
        if not last and _issued_by(cert, cert):
            raise SignatureInvalid(
                f"certificate {describe(cert)!r} is self-signed but not the root of the chain"
            )
        if index == 0:
            _check_leaf(cert)
        else:
            _check_ca(cert, intermediates_below=index - 1)


def check_timestamping_requirements(path: Sequence[x509.Certificate]) -> None:
    """`SignatureInvalid` naming the first requirement a TSA's path (signer first) breaks."""
    for index, cert in enumerate(path):
        _check_key_and_hash(cert)
        if index > 0:  # basicConstraints and pathLen: verify_chain checked every issuer
            if not _key_usage(cert, critical=False).key_cert_sign:
                raise SignatureInvalid(f"CA certificate {describe(cert)!r} lacks key usage keyCertSign")
            continue
        _check_leaf_usages(cert, "the timestamping certificate", critical=False)
        eku = _extension(cert, x509.ExtendedKeyUsage)
        if eku is None or not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
            raise SignatureInvalid(
                f"the timestamping certificate {describe(cert)!r} must have exactly one extended key usage, timeStamping, marked critical"
            )


def check_valid_at(certificates: Sequence[x509.Certificate], at: datetime, when: str) -> None:
    """Within every validity period, bounds included (RFC 5280 §4.1.2.5); no nesting required."""
    for cert in certificates:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise SignatureInvalid(
                f"certificate {describe(cert)!r} is not valid {when} ({at.isoformat()}): "
                f"valid {cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()}"
            )


def names_revocation_source(cert: x509.Certificate) -> bool:
    """It names an OCSP responder or a CRL; without either, the spec counts it as unrevoked."""
    try:
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension):
        return True  # unreadable: assume the worst
    for extension in extensions:
        if extension.oid in (ExtensionOID.CRL_DISTRIBUTION_POINTS, ExtensionOID.FRESHEST_CRL):
            return True
        if extension.oid == ExtensionOID.AUTHORITY_INFORMATION_ACCESS and any(
            d.access_method == AuthorityInformationAccessOID.OCSP for d in extension.value
        ):
            return True
    return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer.public_bytes() != issuer.subject.public_bytes():
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _check_leaf(cert: x509.Certificate) -> None:
    _check_leaf_usages(cert, "the signing certificate", critical=True)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    for oid, name in _EXCLUDED_EKUS:
        if eku is not None and oid in eku.value:
            raise SignatureInvalid(
                f"the signing certificate {describe(cert)!r} has extended key usage {name}"
            )


def _check_leaf_usages(cert: x509.Certificate, what: str, *, critical: bool) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.value.ca:
        raise SignatureInvalid(f"{what} {describe(cert)!r} is a CA certificate")
    usage = _key_usage(cert, critical=critical)
    forbidden = [name for name in _LEAF_FORBIDDEN_USAGES if getattr(usage, name)]
    if usage.key_agreement:
        forbidden += [name for name in ("encipher_only", "decipher_only") if getattr(usage, name)]
    if not usage.digital_signature or forbidden:
        raise SignatureInvalid(
            f"{what} {describe(cert)!r} must have key usage digitalSignature only"
            + (f" (it has {', '.join(forbidden)})" if forbidden else "")
        )


def _check_ca(cert: x509.Certificate, intermediates_below: int) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.value.ca:
        raise SignatureInvalid(
            f"certificate {describe(cert)!r} issues certificates but is not a CA (basicConstraints)"
        )
    path_length = constraints.value.path_length
    if path_length is not None and path_length < intermediates_below:
        raise SignatureInvalid(
            f"certificate {describe(cert)!r}: path length constraint {path_length} exceeded"
        )
    if not _key_usage(cert, critical=True).key_cert_sign:
        raise SignatureInvalid(f"CA certificate {describe(cert)!r} lacks key usage keyCertSign")


def _key_usage(cert: x509.Certificate, *, critical: bool) -> x509.KeyUsage:
    extension = _extension(cert, x509.KeyUsage)
    if extension is None or (critical and not extension.critical):
        kind = "a critical" if critical else "a"
        raise SignatureInvalid(f"certificate {describe(cert)!r} must have {kind} key usage extension")
    return extension.value


def _check_key_and_hash(cert: x509.Certificate) -> None:
    try:
        key = cert.public_key()
        hash_algorithm = cert.signature_hash_algorithm
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SignatureInvalid(f"certificate {describe(cert)!r} cannot be used: {exc}") from None
    if isinstance(hash_algorithm, hashes.SHA1):
        raise SignatureInvalid(f"certificate {describe(cert)!r} is signed with SHA-1")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size in (2048, 3072, 4096):
        return
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1
    ):
        return
    raise SignatureInvalid(
        f"certificate {describe(cert)!r} has a key that is neither RSA 2048/3072/4096 nor EC P-256/384/521"
    )


def _extension(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E] | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension) as exc:  # malformed or repeated extensions
        raise SignatureInvalid(f"certificate {describe(cert)!r} has unreadable extensions: {exc}") from None
