"""RFC 3161 signed timestamps as proof of when a signature existed, verified offline.

Where they come from:
  * a legacy cosign ``.sig`` layer: annotation ``dev.sigstore.cosign/rfc3161timestamp`` holding
    ``{"SignedRFC3161Timestamp": "<base64 DER TimeStampResp>"}`` (cosign's ``bundle.RFC3161Timestamp``);
  * a Sigstore bundle: ``verificationMaterial.timestampVerificationData.rfc3161Timestamps[]
    .signedTimestamp``, the DER TimeStampResp (protobuf-specs ``RFC3161SignedTimestamp``).

What is timestamped is the raw signature bytes (sigstore client spec §4.2.1; cosign's
``VerifyRFC3161Timestamp``, sigstore-python's and sigstore-go's verifiers do the same): a TSA
vouches that this signature existed at genTime. Steps, after the structure checks of
`proxy.signatures.rfc3161_token`:

  1. the messageImprint is the hash of the signature bytes (RFC 3161 §2.4.2);
  2. the messageDigest attribute is the hash of the TSTInfo as signed (RFC 5652 §11.2), so
     the signature below covers the TSTInfo through the signed attributes;
  3. a timestamp authority of the trusted root whose validFor covers genTime;
  4. the signer certificate: the one the SignerInfo's sid names, taken from the token or the
     authority's certChain, whose hash the ESS signingCertificate attribute states;
  5. it is a time-stamping certificate: extended key usage id-kp-timeStamping, critical
     (RFC 3161 §2.3);
  6. the SignerInfo signature verifies over the DER signed attributes with its key (RFC 5652 §5.4);
  7. it chains to the authority's root, every certificate valid at genTime (the TSA's root
     of trust is the trusted root's, never a certificate the token carries).

genTime is then a proven signing time, used to check the Fulcio certificate exactly like a
Rekor integratedTime (`proxy.signatures.proven_time`).

`verify_token` runs steps 1, 2 and 4-7 against a plain list of anchor certificates instead of a
trusted root's authorities (step 3), for trust models whose token carries the TSA's chain and
whose store holds its root (Notation's ``tsa`` trust stores).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.rfc3161_token import MAX_TOKEN_BYTES, TimestampToken, parse_timestamp
from proxy.signatures.trusted_root import TrustedRoot
from proxy.signatures.x509chain import describe, verify_chain

__all__ = [
    "MAX_TIMESTAMPS",
    "parse_cosign_timestamp_annotation",
    "verify_timestamp",
    "verify_timestamps",
    "verify_token",
]

MAX_TIMESTAMPS = 8  # per signature; sigstore-go allows 32, real bundles carry one
TIME_STAMPING = ExtendedKeyUsageOID.TIME_STAMPING
_MAX_ANNOTATION_CHARS = 2 * MAX_TOKEN_BYTES  # base64 and the JSON around it
# SHA-2 for what the TSA's signature rests on (imprint, messageDigest): those sigstore's clients use.
_DIGESTS = frozenset({"sha256", "sha384", "sha512"})
# An ESSCertID only names a certificate the chain check vouches for; its hash is SHA-1 by definition.
_CERT_ID_HASHES = _DIGESTS | {"sha1"}
_SIGNATURE_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType(
    {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
)


def parse_cosign_timestamp_annotation(text: str) -> bytes:
    """The DER TimeStampResp of a legacy ``dev.sigstore.cosign/rfc3161timestamp`` annotation."""
    what = "dev.sigstore.cosign/rfc3161timestamp annotation cannot be read"
    if len(text) > _MAX_ANNOTATION_CHARS:
        raise SignatureInvalid(f"{what}: it is too large")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SignatureInvalid(f"{what}: not JSON: {exc}") from None
    value = document.get("SignedRFC3161Timestamp") if isinstance(document, dict) else None
    if not isinstance(value, str):
        raise SignatureInvalid(f"{what}: no SignedRFC3161Timestamp text")
    try:  # Go's encoding/json writes a []byte as standard, padded base64
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise SignatureInvalid(f"{what}: SignedRFC3161Timestamp is not base64") from None


def verify_timestamps(tokens: Sequence[bytes], signature: bytes, root: TrustedRoot) -> tuple[datetime, ...]:
    """Every token must verify (none is skipped); their genTimes."""
    if len(tokens) > MAX_TIMESTAMPS:
        raise SignatureInvalid(f"{len(tokens)} RFC 3161 timestamps, more than the {MAX_TIMESTAMPS} accepted")
    return tuple(verify_timestamp(token, signature, root) for token in tokens)


def verify_timestamp(data: bytes, signature: bytes, root: TrustedRoot) -> datetime:
    """The proven genTime of a token over `signature`, or `SignatureInvalid` saying why not."""
    try:
        return _verify(parse_timestamp(data), signature, root)
    except SignatureInvalid as exc:
        raise SignatureInvalid(f"RFC 3161 timestamp: {exc}") from None


def verify_token(
    token: TimestampToken,
    signature: bytes,
    anchors: Sequence[x509.Certificate],
    *,
    intermediates: Sequence[x509.Certificate] = (),
) -> tuple[x509.Certificate, ...]:
    """The TSA's path (signer first, an anchor last) of a token over `signature`, or `SignatureInvalid`.

    The signer and its intermediates may come from the token or `intermediates`; only `anchors`
    confer trust. The path is valid at genTime (step 7).
    """
    _check_content(token, signature)
    return _verify_signer(
        token,
        candidates=(*token.certificates, *intermediates, *anchors),
        intermediates=(*token.certificates, *intermediates),
        anchors=anchors,
        source="the trusted certificates",
    )


def _check_content(token: TimestampToken, signature: bytes) -> None:
    # 1. The TSA saw these very signature bytes.
    if token.imprint != _hash(token.imprint_algorithm, signature, _DIGESTS):
        raise SignatureInvalid("its message imprint is not the hash of this signature")
    # 2. The signed attributes commit to this TSTInfo (and so to genTime and the imprint).
    if token.message_digest != _hash(token.digest_algorithm, token.content, _DIGESTS):
        raise SignatureInvalid("its messageDigest attribute is not the hash of the signed TSTInfo")


def _verify(token: TimestampToken, signature: bytes, root: TrustedRoot) -> datetime:
    _check_content(token, signature)  # 1-2.
    # 3. Authorities trusted for timestamps made at genTime.
    if not root.timestamp_authorities:
        raise SignatureInvalid("the trusted root has no timestamp authority")
    authorities = root.timestamp_authorities_at(token.gen_time)
    if not authorities:
        raise SignatureInvalid(
            f"no timestamp authority of the trusted root was valid at {token.gen_time.isoformat()}"
        )
    reasons = []
    for authority in authorities:
        try:
            # Only the authority's own intermediates: certificates in the token add no trust.
            _verify_signer(
                token,
                candidates=(*token.certificates, *authority.certificates),
                intermediates=authority.intermediates,
                anchors=authority.anchors,
                source="the trusted root",
            )
        except SignatureInvalid as exc:
            reasons.append(str(exc))
            continue
        return token.gen_time
    raise SignatureInvalid("; ".join(dict.fromkeys(reasons)))


def _verify_signer(
    token: TimestampToken,
    *,
    candidates: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    source: str,
) -> tuple[x509.Certificate, ...]:
    cert = _signer_certificate(token, candidates, source)  # 4.
    _check_time_stamping(cert)  # 5.
    _check_signature(token, cert)  # 6.
    # 7. The path from the signer to an anchor, every certificate valid at genTime.
    return verify_chain(cert, intermediates, anchors, token.gen_time, required_eku=TIME_STAMPING)


def _signer_certificate(
    token: TimestampToken, candidates: Sequence[x509.Certificate], source: str
) -> x509.Certificate:
    named = [c for c in candidates if _is_signer(token, c)]
    if not named:
        raise SignatureInvalid(f"{_describe_sid(token)} is neither in the token nor in {source}")
    cert_id = token.signing_certificate
    for cert in named:
        der = cert.public_bytes(Encoding.DER)
        if cert_id.digest == _hash(cert_id.algorithm, der, _CERT_ID_HASHES):
            return cert
    raise SignatureInvalid(
        f"its signingCertificate attribute names another certificate than {_describe_sid(token)}"
    )


def _is_signer(token: TimestampToken, cert: x509.Certificate) -> bool:
    if token.signer_key_id is not None:
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except (x509.ExtensionNotFound, ValueError, x509.DuplicateExtension):
            return False
        return ski.digest == token.signer_key_id
    return cert.serial_number == token.signer_serial and cert.issuer.public_bytes() == token.signer_issuer


def _describe_sid(token: TimestampToken) -> str:
    if token.signer_key_id is not None:
        return f"the TSA certificate with key id {token.signer_key_id.hex()}"
    return f"the TSA certificate with serial {token.signer_serial or 0:x}"


def _check_time_stamping(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except (x509.ExtensionNotFound, ValueError, x509.DuplicateExtension):
        eku = None
    if eku is None or not eku.critical or TIME_STAMPING not in eku.value:
        raise SignatureInvalid(
            f"certificate {describe(cert)!r} is not a time-stamping certificate "
            "(critical extended key usage id-kp-timeStamping)"
        )


def _check_signature(token: TimestampToken, cert: x509.Certificate) -> None:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureInvalid(f"key of {describe(cert)!r} cannot be read: {exc}") from None
    algorithm, data, signature = token.signature_algorithm, token.signed_attributes, token.signature
    try:
        if isinstance(key, ed25519.Ed25519PublicKey) and algorithm == "ed25519":
            key.verify(signature, data)
            return
        digest = _SIGNATURE_HASHES.get(token.signature_hash)
        if digest is None:
            raise SignatureInvalid(f"its signature hash {token.signature_hash} is not supported")
        if isinstance(key, ec.EllipticCurvePublicKey) and algorithm == "ecdsa":
            key.verify(signature, data, ec.ECDSA(digest()))
        elif isinstance(key, rsa.RSAPublicKey) and algorithm == "rsassa_pkcs1v15":
            key.verify(signature, data, padding.PKCS1v15(), digest())
        else:  # RSA-PSS among them: no sigstore TSA signs with it
            raise SignatureInvalid(
                f"its signature algorithm {algorithm} is not supported for {describe(cert)!r}"
            )
    except (InvalidSignature, ValueError):
        raise SignatureInvalid(f"its signature does not verify with the key of {describe(cert)!r}") from None


def _hash(algorithm: str, data: bytes, allowed: frozenset[str]) -> bytes:
    if algorithm not in allowed:
        raise SignatureInvalid(f"hash algorithm {algorithm} is not accepted")
    return hashlib.new(algorithm, data).digest()
