"""What both Notation envelope formats share: signed attributes, algorithms, the signature check.

signature-specification.md defines the attributes once; signature-envelope-jws.md and
signature-envelope-cose.md only encode them. `jws` and `cose` decode their format and hand
the decoded attributes to `signed_content`, which applies the rules common to both:
  - ``crit`` is present and lists ``io.cncf.notary.signingScheme``, and ``expiry`` /
    ``authenticSigningTime`` when they are present; every listed header is present and
    understood: an unknown critical header fails verification (the spec: "unknown critical
    attributes MUST cause signature verification to fail");
  - a verification plugin header fails it too: pullgate runs no plugins, and the spec says
    an implementation that cannot do the plugin's checks MUST fail;
  - ``notary.x509`` carries a (claimed) signing time and no authentic signing time,
    ``notary.x509.signingAuthority`` the reverse; an expiry is after the signing time;
  - the content type is ``application/vnd.cncf.notary.payload.v1+json``.
`verify_signature` checks the signature with the leaf certificate's key, the algorithm being
the one the key's type and size dictate ("Algorithm Selection"): a header naming another one
is an algorithm substitution and fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.x509chain import load_certificate

__all__ = [
    "MEDIA_TYPE_COSE",
    "MEDIA_TYPE_JWS",
    "PAYLOAD_CONTENT_TYPE",
    "SCHEME_SIGNING_AUTHORITY",
    "SCHEME_X509",
    "Envelope",
    "load_certificates",
    "parse_rfc3339",
    "signed_content",
    "verify_signature",
]

MEDIA_TYPE_JWS = "application/jose+json"
MEDIA_TYPE_COSE = "application/cose"
PAYLOAD_CONTENT_TYPE = "application/vnd.cncf.notary.payload.v1+json"
SCHEME_X509 = "notary.x509"
SCHEME_SIGNING_AUTHORITY = "notary.x509.signingAuthority"

H_SCHEME = "io.cncf.notary.signingScheme"
H_SIGNING_TIME = "io.cncf.notary.signingTime"
H_AUTHENTIC_TIME = "io.cncf.notary.authenticSigningTime"
H_EXPIRY = "io.cncf.notary.expiry"
H_PLUGIN = "io.cncf.notary.verificationPlugin"
H_PLUGIN_MIN_VERSION = "io.cncf.notary.verificationPluginMinVersion"
H_SIGNING_AGENT = "io.cncf.notary.signingAgent"
H_TIMESTAMP = "io.cncf.notary.timestampSignature"

_UNDERSTOOD_CRITICAL = frozenset({H_SCHEME, H_AUTHENTIC_TIME, H_EXPIRY})
# (hash, key type, curve or RSA modulus size) per algorithm name of the spec's table.
_ALGORITHMS: tuple[tuple[str, type[hashes.HashAlgorithm], str, int], ...] = (
    ("PS256", hashes.SHA256, "RSA", 2048),
    ("PS384", hashes.SHA384, "RSA", 3072),
    ("PS512", hashes.SHA512, "RSA", 4096),
    ("ES256", hashes.SHA256, "EC", 256),
    ("ES384", hashes.SHA384, "EC", 384),
    ("ES512", hashes.SHA512, "EC", 521),
)
ALGORITHM_NAMES = frozenset(name for name, *_ in _ALGORITHMS)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A Notation envelope whose signature verified with its leaf certificate's key."""

    media_type: str
    algorithm: str  # PS256 ... ES512
    payload: bytes
    signing_scheme: str
    signing_time: datetime | None  # notary.x509: claimed by the signer, proves nothing
    authentic_signing_time: datetime | None  # notary.x509.signingAuthority: vouched for
    expiry: datetime | None
    certificates: tuple[x509.Certificate, ...]  # leaf first, as the envelope orders them
    # The primitive signature over payload and signed attributes: what a TSA countersigns.
    signature: bytes
    timestamp_signature: bytes | None = None  # an RFC 3161 token, verified by `timestamp`
    signing_agent: str | None = None


def signed_content(
    *,
    media_type: str,
    algorithm: str,
    payload: bytes,
    content_type: object,
    present: Collection[object],
    critical: object,
    is_registered: Callable[[object], bool],
    scheme: object,
    signing_time: datetime | None,
    authentic_signing_time: datetime | None,
    expiry: datetime | None,
    certificates: tuple[x509.Certificate, ...],
    signature: bytes,
    timestamp_signature: bytes | None = None,
    signing_agent: str | None = None,
) -> Envelope:
    """The signed attributes of either format, checked by the rules both share."""
    _check_critical(critical, present, is_registered)
    if content_type != PAYLOAD_CONTENT_TYPE:
        raise SignatureInvalid(
            f"unsupported payload content type {content_type!r} (want {PAYLOAD_CONTENT_TYPE})"
        )
    if scheme == SCHEME_X509:
        if signing_time is None or authentic_signing_time is not None or H_AUTHENTIC_TIME in present:
            raise SignatureInvalid(
                f"a {SCHEME_X509} signature needs {H_SIGNING_TIME} and no {H_AUTHENTIC_TIME}"
            )
        scheme_name = SCHEME_X509
    elif scheme == SCHEME_SIGNING_AUTHORITY:
        if authentic_signing_time is None or signing_time is not None or H_SIGNING_TIME in present:
            raise SignatureInvalid(
                f"a {SCHEME_SIGNING_AUTHORITY} signature needs {H_AUTHENTIC_TIME} and no {H_SIGNING_TIME}"
            )
        scheme_name = SCHEME_SIGNING_AUTHORITY
    else:
        raise SignatureInvalid(f"unsupported signing scheme {scheme!r}")
    signed = signing_time or authentic_signing_time
    if expiry is not None and signed is not None and expiry <= signed:
        raise SignatureInvalid(
            f"the signature expires ({expiry.isoformat()}) before it was made ({signed.isoformat()})"
        )
    return Envelope(
        media_type=media_type,
        algorithm=algorithm,
        payload=payload,
        signing_scheme=scheme_name,
        signing_time=signing_time,
        authentic_signing_time=authentic_signing_time,
        expiry=expiry,
        certificates=certificates,
        signature=signature,
        timestamp_signature=timestamp_signature,
        signing_agent=signing_agent,
    )


def _check_critical(
    critical: object, present: Collection[object], is_registered: Callable[[object], bool]
) -> None:
    names = _crit_list(critical)
    for name in names:
        if is_registered(name):
            raise SignatureInvalid(f"the crit list names {name!r}, which the envelope format already defines")
        if name not in present:
            raise SignatureInvalid(f"header {name!r} is listed as critical but absent")
    for plugin_header in (H_PLUGIN, H_PLUGIN_MIN_VERSION):
        if plugin_header in present:
            raise SignatureInvalid(
                f"the signature requires a Notation verification plugin ({plugin_header}); pullgate runs none"
            )
    for name in names:
        if name not in _UNDERSTOOD_CRITICAL:
            raise SignatureInvalid(f"unknown critical header {name!r}")
    for name in (H_SCHEME, H_EXPIRY, H_AUTHENTIC_TIME):
        if name in present and name not in names:
            raise SignatureInvalid(f"header {name!r} must be listed as critical")
    if H_SCHEME not in present:
        raise SignatureInvalid(f"the protected header has no {H_SCHEME}")


def _crit_list(critical: object) -> tuple[str | int, ...]:
    if not isinstance(critical, list | tuple) or not critical:
        raise SignatureInvalid("the protected header has no crit list")
    if not all(isinstance(name, str | int) and not isinstance(name, bool) for name in critical):
        raise SignatureInvalid("the crit list must hold header names")
    if len(set(critical)) != len(critical):
        raise SignatureInvalid("the crit list names a header twice")
    return tuple(critical)


def parse_rfc3339(value: object, name: str) -> datetime:
    """An RFC 3339 date-time with its offset (JWS times); nothing looser than that."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise SignatureInvalid(f"header {name} is not an RFC 3339 date-time: {value!r}")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise SignatureInvalid(f"header {name} is not a valid date-time: {value!r}") from None


def load_certificates(ders: Sequence[object]) -> tuple[x509.Certificate, ...]:
    if not ders:
        raise SignatureInvalid("the envelope carries no certificate chain")
    certificates = []
    for index, der in enumerate(ders):
        if not isinstance(der, bytes):
            raise SignatureInvalid(f"certificate {index} of the chain is not a byte string")
        try:
            certificates.append(load_certificate(der))
        except ValueError as exc:
            raise SignatureInvalid(f"certificate {index} of the chain cannot be read: {exc}") from None
    return tuple(certificates)


def verify_signature(leaf: x509.Certificate, algorithm: str, signature: bytes, message: bytes) -> None:
    """`SignatureInvalid` unless `signature` is `leaf`'s signature of `message` under `algorithm`."""
    key, expected, hash_type = _algorithm_of(leaf)
    if algorithm != expected:
        raise SignatureInvalid(
            f"algorithm {algorithm} does not match the signing key, which requires {expected}"
        )
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.verify(signature, message, pss, hash_type())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(_der_from_raw(signature, key.curve.key_size), message, ec.ECDSA(hash_type()))
    except InvalidSignature:
        raise SignatureInvalid("the signature does not match the envelope's content") from None


def _algorithm_of(leaf: x509.Certificate) -> tuple[object, str, type[hashes.HashAlgorithm]]:
    try:
        key = leaf.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # e.g. a key type unknown to OpenSSL
        raise SignatureInvalid(f"the signing certificate's key cannot be used: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey):
        kind, size = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1
    ):
        kind, size = "EC", key.curve.key_size
    else:
        raise SignatureInvalid(
            f"the signing key ({type(key).__name__}) is not RSA or a NIST P-256/384/521 EC key"
        )
    for name, hash_type, algorithm_kind, algorithm_size in _ALGORITHMS:
        if (kind, size) == (algorithm_kind, algorithm_size):
            return key, name, hash_type
    raise SignatureInvalid(f"{kind} keys of {size} bits are not allowed for Notation signatures")


def _der_from_raw(signature: bytes, curve_bits: int) -> bytes:
    """JWS (RFC 7518) and COSE (RFC 9053) ECDSA signatures are r || s, each of the curve's size."""
    size = (curve_bits + 7) // 8
    if len(signature) != 2 * size:
        raise SignatureInvalid(f"an ECDSA signature on this curve has {2 * size} bytes, not {len(signature)}")
    return encode_dss_signature(
        int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
    )
