"""Notation signatures made in the tests, the way notation (notation-core-go) makes them.

A test CA and code-signing leaves (`make_ca`, `make_leaf`), JWS and COSE envelopes over a
``targetArtifact`` payload (`sign_jws`, `sign_cose`) with every header overridable so a test
can break exactly one rule, and an RFC 3161 countersignature when given a `countersign`
function (`tests.support.tsa.TestTSA.countersigner`), the signature manifest notation pushes
(`signature_manifest`), and trust policies (`trust_policy_document`, `write_trust_policy`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json"
SIGNATURE_ARTIFACT_TYPE = "application/vnd.cncf.notary.signature"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
JWS = "application/jose+json"
COSE = "application/cose"
SUBJECT = dict(C="US", ST="WA", L="Seattle", O="acme-rockets.io", OU="Finance", CN="SecureBuilder")
IDENTITY = "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_COSE_ALGORITHMS = {"PS256": -37, "PS384": -38, "PS512": -39, "ES256": -7, "ES384": -35, "ES512": -36}
_NAME_OIDS = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
}
REMOVE = object()  # a header value that removes the header
TIMESTAMP_HEADER = "io.cncf.notary.timestampSignature"
Countersign = Callable[[bytes], bytes]  # the primitive signature -> an RFC 3161 token


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate


def make_key(kind: str = "ec", size: int = 256) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    curve = {256: ec.SECP256R1(), 384: ec.SECP384R1(), 521: ec.SECP521R1()}[size]
    return ec.generate_private_key(curve)


def name(attributes: Mapping[str, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(_NAME_OIDS[k], v) for k, v in attributes.items()])


def make_ca(
    common_name: str = "Notation Test Root",
    *,
    key: PrivateKey | None = None,
    issuer: Issued | None = None,
    not_before: datetime = NOW - timedelta(days=365),
    not_after: datetime = NOW + timedelta(days=3650),
) -> Issued:
    """A root CA, or an intermediate when `issuer` is given."""
    key = key or make_key("ec", 384)
    subject = name({"C": "US", "ST": "WA", "O": "Notary", "CN": common_name})
    builder = _builder(subject, issuer.cert.subject if issuer else subject, key, not_before, not_after)
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    builder = builder.add_extension(_usage(cert_sign=True), critical=True)
    return Issued(key, builder.sign(issuer.key if issuer else key, hashes.SHA384()))


def make_leaf(
    ca: Issued,
    *,
    subject: Mapping[str, str] = SUBJECT,
    key: PrivateKey | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CODE_SIGNING,),
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=365),
    crl_url: str | None = None,
) -> Issued:
    key = key or make_key("ec", 256)
    builder = _builder(name(subject), ca.cert.subject, key, not_before, not_after)
    builder = builder.add_extension(_usage(cert_sign=False), critical=True)
    if eku is not None and not eku:
        # An empty EKU is malformed (RFC 5280: SIZE (1..MAX)); cryptography 51 refuses to
        # build one, so its DER (an empty SEQUENCE) is written by hand.
        empty = x509.UnrecognizedExtension(ExtensionOID.EXTENDED_KEY_USAGE, b"\x30\x00")
        builder = builder.add_extension(empty, critical=False)
    elif eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if crl_url is not None:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def payload(digest: str, *, size: int = 528, media_type: str = OCI_MANIFEST) -> bytes:
    return json.dumps(
        {"targetArtifact": {"mediaType": media_type, "digest": digest, "size": size}}, separators=(",", ":")
    ).encode()


def algorithm_for(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return {2048: "PS256", 3072: "PS384", 4096: "PS512"}[key.key_size]
    return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]


def sign_raw(key: PrivateKey, algorithm: str, message: bytes) -> bytes:
    """A JWS / COSE signature: RSASSA-PSS (salt = hash length) or ECDSA as raw r || s."""
    hash_type: Callable[[], hashes.HashAlgorithm] = getattr(hashes, f"SHA{algorithm[2:]}")
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=padding.PSS.DIGEST_LENGTH)
        return key.sign(message, pss, hash_type())
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hash_type())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def signed_attributes(
    *,
    scheme: str = "notary.x509",
    signing_time: datetime = NOW - timedelta(hours=1),
    expiry: datetime | None = None,
) -> dict[str, Any]:
    """The io.cncf.notary.* protected headers and the crit list notation writes for them."""
    time_header = "signingTime" if scheme == "notary.x509" else "authenticSigningTime"
    headers: dict[str, Any] = {
        "io.cncf.notary.signingScheme": scheme,
        f"io.cncf.notary.{time_header}": signing_time,
    }
    crit = ["io.cncf.notary.signingScheme"]
    if scheme != "notary.x509":
        crit.append("io.cncf.notary.authenticSigningTime")
    if expiry is not None:
        headers["io.cncf.notary.expiry"] = expiry
        crit.append("io.cncf.notary.expiry")
    return {"crit": crit, **headers}


def sign_jws(
    signer: Issued,
    chain: Sequence[x509.Certificate],
    content: bytes,
    *,
    algorithm: str | None = None,
    headers: Mapping[str, Any] | None = None,
    unprotected: Mapping[str, Any] | None = None,
    countersign: Countersign | None = None,
    **attributes: Any,
) -> bytes:
    """A flattened JWS JSON envelope; `headers` override protected headers (REMOVE drops one)."""
    algorithm = algorithm or algorithm_for(signer.key)
    protected = {"alg": algorithm, "cty": PAYLOAD_TYPE, **signed_attributes(**attributes)}
    protected = _override(protected, headers)
    protected = {
        k: v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v
        for k, v in protected.items()
    }
    protected_b64 = _b64url(json.dumps(protected).encode())
    payload_b64 = _b64url(content)
    signature = sign_raw(signer.key, algorithm, f"{protected_b64}.{payload_b64}".encode())
    header = {
        "x5c": [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in chain],
        "io.cncf.notary.signingAgent": "pullgate-tests/1.0",
        **({TIMESTAMP_HEADER: base64.b64encode(countersign(signature)).decode()} if countersign else {}),
        **(unprotected or {}),
    }
    envelope = {
        "payload": payload_b64,
        "protected": protected_b64,
        "header": header,
        "signature": _b64url(signature),
    }
    return json.dumps(envelope).encode()


def sign_cose(
    signer: Issued,
    chain: Sequence[x509.Certificate],
    content: bytes | None,
    *,
    algorithm: str | None = None,
    headers: Mapping[Any, Any] | None = None,
    unprotected: Mapping[Any, Any] | None = None,
    tag: int | None = 18,
    countersign: Countersign | None = None,
    **attributes: Any,
) -> bytes:
    """A COSE_Sign1_Tagged envelope; `headers` override protected labels (REMOVE drops one)."""
    algorithm = algorithm or algorithm_for(signer.key)
    attrs = signed_attributes(**attributes)
    protected: dict[Any, Any] = {
        1: _COSE_ALGORITHMS.get(algorithm, algorithm),
        2: attrs.pop("crit"),
        3: PAYLOAD_TYPE,
    }
    protected.update(
        {k: cbor2.CBORTag(1, int(v.timestamp())) if isinstance(v, datetime) else v for k, v in attrs.items()}
    )
    protected_bytes = cbor2.dumps(_override(protected, headers))
    to_be_signed = cbor2.dumps(["Signature1", protected_bytes, b"", content or b""])
    signature = sign_raw(signer.key, algorithm, to_be_signed)
    header: dict[Any, Any] = {
        33: [c.public_bytes(Encoding.DER) for c in chain],
        "io.cncf.notary.signingAgent": "pullgate-tests/1.0",
        **({TIMESTAMP_HEADER: countersign(signature)} if countersign else {}),
    }
    message = [protected_bytes, _override(header, unprotected), content, signature]
    return cbor2.dumps(message if tag is None else cbor2.CBORTag(tag, message))


def descriptor(data: bytes, media_type: str) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def signature_manifest(
    envelope: bytes,
    media_type: str,
    subject: Mapping[str, Any],
    chain: Sequence[x509.Certificate],
    *,
    legacy: bool = False,
) -> bytes:
    """The image manifest `notation sign` pushes as a referrer of `subject`.

    OCI 1.1 form: artifactType ``application/vnd.cncf.notary.signature`` and the empty config;
    `legacy`: no artifactType, the config's media type says it is a Notation signature (what
    notation wrote for registries without artifactType support).
    """
    thumbprints = [hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in chain]
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if legacy:
        manifest["config"] = descriptor(b"{}", SIGNATURE_ARTIFACT_TYPE)
    else:
        manifest["artifactType"] = SIGNATURE_ARTIFACT_TYPE
        manifest["config"] = {**descriptor(b"{}", EMPTY_CONFIG), "data": "e30="}
    manifest["layers"] = [descriptor(envelope, media_type)]
    manifest["subject"] = dict(subject)
    manifest["annotations"] = {
        "io.cncf.notary.x509chain.thumbprint#S256": json.dumps(thumbprints, separators=(",", ":")),
        "org.opencontainers.image.created": NOW.isoformat().replace("+00:00", "Z"),
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def policy(
    name: str = "test-images",
    *,
    scopes: Sequence[str] = ("*",),
    level: str = "strict",
    override: Mapping[str, str] | None = None,
    stores: Sequence[str] = ("ca:acme-rockets",),
    identities: Sequence[str] = (IDENTITY,),
    verify_timestamp: str | None = None,
) -> dict[str, Any]:
    verification: dict[str, Any] = {"level": level}
    if override:
        verification["override"] = dict(override)
    if verify_timestamp:
        verification["verifyTimestamp"] = verify_timestamp
    entry: dict[str, Any] = {
        "name": name,
        "registryScopes": list(scopes),
        "signatureVerification": verification,
    }
    if stores:
        entry["trustStores"] = list(stores)
    if identities:
        entry["trustedIdentities"] = list(identities)
    return entry


def trust_policy_document(*policies: Mapping[str, Any]) -> dict[str, Any]:
    return {"version": "1.0", "trustPolicies": [dict(p) for p in policies or (policy(),)]}


def write_trust_policy(directory: Path, document: Mapping[str, Any]) -> Path:
    path = directory / "trustpolicy.oci.json"
    path.write_text(json.dumps(document, indent=4))
    return path


def _builder(
    subject: x509.Name, issuer: x509.Name, key: PrivateKey, not_before: datetime, not_after: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    # digitalSignature for a leaf; keyCertSign and cRLSign for a CA; nothing else.
    return x509.KeyUsage(not cert_sign, False, False, False, False, cert_sign, cert_sign, False, False)


def _override(base: dict[Any, Any], changes: Mapping[Any, Any] | None) -> dict[Any, Any]:
    result = {**base, **(changes or {})}
    return {k: v for k, v in result.items() if v is not REMOVE}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
