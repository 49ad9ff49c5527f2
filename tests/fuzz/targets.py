"""What each fuzz target feeds to which parser, and which exceptions are that parser's own.

A target is a function of the fuzzer's bytes. It may raise only the exceptions in its
`domain`; `run.py` records anything else as a finding. Where the parser needs more than the
bytes (a content type, a compression), the first byte chooses it. The ``*-signed`` targets
sign whatever the fuzzer writes as the protected header, so the checks behind the signature
(critical headers, times, signing schemes) are reached too, not only the decoding in front
of it.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import cbor2
import zstandard
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from proxy.oci import mediatypes
from proxy.oci.manifest import InvalidManifestError, parse_manifest
from proxy.scanning.layers import Limits, analyse_layer
from proxy.signatures.bundle_content import IN_TOTO_PAYLOAD_TYPE, DsseEnvelope, check_statement_subject
from proxy.signatures.bundle_parse import parse_bundle
from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.notation.certs import check_chain_requirements, names_revocation_source
from proxy.signatures.notation.cose import verify_cose_envelope
from proxy.signatures.notation.jws import verify_jws_envelope
from proxy.signatures.rekor_body import check_dsse_body, check_hashedrekord_body
from proxy.signatures.rfc3161 import parse_cosign_timestamp_annotation
from proxy.signatures.rfc3161_token import parse_timestamp, timestamp_accuracy
from proxy.signatures.simple_signing import parse_simple_signing
from proxy.signatures.trusted_root import TrustedRoot
from proxy.signatures.x509chain import CODE_SIGNING, describe, load_certificate, verify_chain

__all__ = ["TARGETS", "Target"]

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32
PAYLOAD = b'{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1","size":1}}'
_CONTENT_TYPES = (None, *mediatypes.MANIFEST_TYPES, "application/json", "text/plain; charset=x")
_LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
)
# Small enough that a decompression bomb ends in a problem within the per-input timeout.
_LIMITS = Limits(max_layer_bytes=32 * 1024 * 1024, max_file_bytes=4 * 1024 * 1024, max_entries=20_000)


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    domain: tuple[type[BaseException], ...]
    what: str


def _first(data: bytes) -> tuple[int, bytes]:
    return (data[0], data[1:]) if data else (0, b"")


def manifest(data: bytes) -> None:
    choice, rest = _first(data)
    parse_manifest(rest, _CONTENT_TYPES[choice % len(_CONTENT_TYPES)])


def layer(data: bytes) -> None:
    """The first byte: how the rest is wrapped (as is, gzip, zstd) and the declared media type."""
    choice, rest = _first(data)
    wrap = choice % 3
    if wrap == 1:
        rest = gzip.compress(rest, compresslevel=1, mtime=0)
    elif wrap == 2:
        rest = zstandard.ZstdCompressor(level=1).compress(rest)
    media_type = _LAYER_TYPES[(choice // 3) % 3]
    analyse_layer(io.BytesIO(rest), digest=DIGEST, media_type=media_type, limits=_LIMITS)


def simple_signing(data: bytes) -> None:
    parse_simple_signing(data)


def bundle(data: bytes) -> None:
    parsed = parse_bundle(data)
    if parsed.envelope is not None:
        check_statement_subject(parsed.envelope, DIGEST)
    for entry in parsed.entries:
        rekor_body(entry.body)


def in_toto(data: bytes) -> None:
    check_statement_subject(DsseEnvelope(IN_TOTO_PAYLOAD_TYPE, data, b""), DIGEST)


def rekor_body(data: bytes) -> None:
    key = _signer().cert
    with contextlib.suppress(SignatureInvalid):
        check_hashedrekord_body(data, signature=b"sig", signer=key, sha256=b"\x00" * 32)
    check_dsse_body(data, payload=b"{}", signature=b"sig", signer=key)


def jws(data: bytes) -> None:
    verify_jws_envelope(data)


def cose(data: bytes) -> None:
    verify_cose_envelope(data)


def jws_signed(data: bytes) -> None:
    """The fuzzer's bytes are the protected header (JSON); the harness signs them."""
    signer = _signer()
    protected_b64 = _b64url(data)
    payload_b64 = _b64url(PAYLOAD)
    signature = _raw_signature(
        signer.key.sign(f"{protected_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    )
    envelope = (
        f'{{"payload":"{payload_b64}","protected":"{protected_b64}","signature":"{_b64url(signature)}",'
        f'"header":{{"x5c":["{base64.b64encode(signer.cert.public_bytes(Encoding.DER)).decode()}"]}}}}'
    )
    verify_jws_envelope(envelope.encode())


def cose_signed(data: bytes) -> None:
    """The fuzzer's bytes are the protected header (a CBOR map); the harness signs them."""
    signer = _signer()
    to_be_signed = cbor2.dumps(["Signature1", data, b"", PAYLOAD])
    signature = _raw_signature(signer.key.sign(to_be_signed, ec.ECDSA(hashes.SHA256())))
    message = [data, {33: [signer.cert.public_bytes(Encoding.DER)]}, PAYLOAD, signature]
    verify_cose_envelope(cbor2.dumps(cbor2.CBORTag(18, message)))


def rfc3161(data: bytes) -> None:
    """Bit 0 of the first byte: a bare token only; bit 1: the cosign annotation's JSON form."""
    choice, rest = _first(data)
    if choice & 2:
        rest = parse_cosign_timestamp_annotation(rest.decode("utf-8", "replace"))
    token = parse_timestamp(rest, token_only=bool(choice & 1))
    timestamp_accuracy(token)


def trusted_root(data: bytes) -> None:
    root = TrustedRoot.parse(data.decode("utf-8", "replace"))
    for authority in (*root.authorities_at(NOW), *root.timestamp_authorities_at(NOW)):
        _ = (authority.anchors, authority.intermediates)


def certificate(data: bytes) -> None:
    """Untrusted DER as an envelope or a bundle carries it: loaded, then every check run on it."""
    try:
        cert = load_certificate(data)
    except ValueError:  # the loader's refusal
        return
    anchor = _signer().cert
    describe(cert)
    names_revocation_source(cert)
    for chain in ([cert], [cert, anchor]):
        with contextlib.suppress(SignatureInvalid):
            check_chain_requirements(chain)
    for anchors in ([anchor], [cert]):
        with contextlib.suppress(SignatureInvalid):
            verify_chain(cert, [cert], anchors, NOW, required_eku=CODE_SIGNING)


@dataclass(frozen=True)
class _Signer:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@cache
def _signer() -> _Signer:
    """One P-256 code-signing certificate, self-issued: made once per process."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Signer(key, cert)


def _raw_signature(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_SIG = (SignatureInvalid,)
TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("manifest", manifest, (InvalidManifestError,), "proxy.oci.manifest.parse_manifest"),
        Target("layer", layer, (), "proxy.scanning.layers.analyse_layer (tar, gzip, zstd; never raises)"),
        Target("simple-signing", simple_signing, _SIG, "cosign simple-signing payload"),
        Target("bundle", bundle, _SIG, "sigstore bundle JSON, its DSSE statement and Rekor bodies"),
        Target("rekor-body", rekor_body, _SIG, "Rekor entry bodies (hashedrekord, dsse, intoto)"),
        Target("in-toto", in_toto, _SIG, "in-toto statements in DSSE envelopes (attestations)"),
        Target("jws", jws, _SIG, "Notation JWS envelope"),
        Target("jws-signed", jws_signed, _SIG, "Notation JWS protected header, signed by the harness"),
        Target("cose", cose, _SIG, "Notation COSE_Sign1 envelope"),
        Target("cose-signed", cose_signed, _SIG, "Notation COSE protected header, signed by the harness"),
        Target("rfc3161", rfc3161, _SIG, "RFC 3161 TimeStampResp / token, and cosign's annotation"),
        Target("trusted-root", trusted_root, (TrustMaterialError,), "sigstore trusted_root.json"),
        Target("certificate", certificate, (*_SIG, TrustMaterialError), "untrusted DER certificates"),
    )
}
