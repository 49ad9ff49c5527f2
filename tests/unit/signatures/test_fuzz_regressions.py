"""Regression tests for what the fuzzing campaign (`python -m tests.fuzz`) and the property
tests found in the signature parsers: each input kept as data, named after what it broke.

The certificates in ``vectors/fuzz/`` are DER that cryptography loads but decodes only in
part: a name with an attribute of the wrong type, a BIT STRING attribute that is not a
uniqueIdentifier, an unknown version, a subjectAltName holding an x400Address. Each escaped
as ValueError, TypeError, InvalidVersion or UnsupportedGeneralNameType from ``describe()``,
issuer matching, chain building or the extensions. `load_certificate` now decodes every
part at load time, and every way a certificate enters pullgate says so in its own error.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509

from proxy.signatures.bundle_content import DsseEnvelope, check_statement_subject
from proxy.signatures.bundle_parse import parse_bundle
from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.keyless import _leaf
from proxy.signatures.notation.cose import verify_cose_envelope
from proxy.signatures.notation.envelope import load_certificates
from proxy.signatures.notation.jws import verify_jws_envelope
from proxy.signatures.rekor_body import check_dsse_body
from proxy.signatures.rfc3161 import parse_cosign_timestamp_annotation
from proxy.signatures.rfc3161_token import _certificate as timestamp_certificate
from proxy.signatures.trusted_root import TrustedRoot
from proxy.signatures.x509chain import load_certificate, load_pem_certificates

FOUND = Path(__file__).parent / "vectors" / "fuzz"
VECTORS = Path(__file__).parent / "vectors"
CERTIFICATES = sorted(FOUND.glob("certificate-*.der"))
BUNDLE = json.loads((VECTORS / "bundle-v03-server_linux_amd64.sigstore.json").read_text())
ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


def _pem(der: bytes) -> str:
    lines = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{lines}-----END CERTIFICATE-----\n"


def test_the_regression_inputs_are_there() -> None:
    assert len(CERTIFICATES) == 7 and len(list(FOUND.iterdir())) == 13


@pytest.mark.parametrize("path", CERTIFICATES, ids=lambda p: p.stem)
def test_a_partly_decodable_certificate_is_refused_where_it_enters(path: Path) -> None:
    der = path.read_bytes()
    with pytest.raises(ValueError):
        load_certificate(der)
    with pytest.raises(SignatureInvalid, match="certificate 0 of the chain cannot be read"):
        load_certificates([der])  # Notation envelopes (x5c, x5chain)
    with pytest.raises(SignatureInvalid, match="timestamp token carries a certificate"):
        timestamp_certificate(der)  # RFC 3161 tokens
    with pytest.raises(SignatureInvalid, match="annotation is not a PEM certificate"):
        _leaf({"dev.sigstore.cosign/certificate": _pem(der)})  # legacy keyless cosign
    with pytest.raises(TrustMaterialError, match="could not be read"):
        load_pem_certificates(_pem(der))  # CA bundles an admin stores
    bundle = {**BUNDLE, "verificationMaterial": {**BUNDLE["verificationMaterial"]}}
    bundle["verificationMaterial"]["certificate"] = {"rawBytes": base64.b64encode(der).decode()}
    with pytest.raises(SignatureInvalid, match="bundle certificate cannot be read"):
        parse_bundle(json.dumps(bundle).encode())
    authority = {"certChain": {"certificates": [{"rawBytes": base64.b64encode(der).decode()}]}}
    with pytest.raises(TrustMaterialError, match="is not a DER certificate"):
        TrustedRoot.parse(json.dumps({"mediaType": ROOT_MEDIA_TYPE, "certificateAuthorities": [authority]}))


@pytest.mark.parametrize(
    ("name", "parse"),
    [
        ("jws-x5c-certificate-invalid-version.json", verify_jws_envelope),
        ("cose-x5chain-certificate-invalid-version.cbor", verify_cose_envelope),
    ],
)
def test_envelopes_carrying_such_certificates_fail_verification(name: str, parse: object) -> None:
    with pytest.raises(SignatureInvalid, match="cannot be read"):
        parse((FOUND / name).read_bytes())  # type: ignore[operator]


@pytest.mark.parametrize("path", sorted(FOUND.glob("trusted-root-*.json")), ids=lambda p: p.stem)
def test_trusted_roots_carrying_such_certificates_are_refused(path: Path) -> None:
    with pytest.raises(TrustMaterialError, match="is not a DER certificate"):
        TrustedRoot.parse(path.read_bytes().decode("utf-8", "replace"))


def test_a_cosign_timestamp_annotation_with_non_ascii_base64() -> None:
    # base64.b64decode raises a plain ValueError (not binascii.Error) for non-ASCII text.
    text = (FOUND / "cosign-timestamp-annotation-non-ascii-base64.json").read_text(errors="replace")
    with pytest.raises(SignatureInvalid, match="not base64"):
        parse_cosign_timestamp_annotation(text)
    with pytest.raises(SignatureInvalid, match="not base64"):
        parse_cosign_timestamp_annotation('{"SignedRFC3161Timestamp": "MII\u00e9"}')


# Found by probing the parsers with the shapes the property tests generate.
@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"mediaType": ["application/vnd.dev.sigstore.bundle.v0.3+json"]}, "media type"),  # unhashable
        ({"mediaType": {"a": 1}}, "media type"),
    ],
)
def test_a_bundle_media_type_that_is_not_text(document: dict[str, object], message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        parse_bundle(json.dumps(document).encode())


@pytest.mark.parametrize("digits", [20, 4301, 5000])
def test_bundle_integers_past_the_digit_limit_are_out_of_range(digits: int) -> None:
    # int() refuses strings of more than 4300 digits with a plain ValueError.
    entry = {**BUNDLE["verificationMaterial"]["tlogEntries"][0], "logIndex": "9" * digits}
    bundle = {**BUNDLE, "verificationMaterial": {**BUNDLE["verificationMaterial"], "tlogEntries": [entry]}}
    with pytest.raises(SignatureInvalid, match="out of range"):
        parse_bundle(json.dumps(bundle).encode())


@pytest.mark.parametrize("field", ["kind", "apiVersion"])
def test_a_rekor_body_whose_kind_is_not_text(field: str) -> None:
    body = {"kind": "dsse", "apiVersion": "0.0.1", "spec": {}, field: ["dsse"]}
    cert = x509.load_der_x509_certificate(
        base64.b64decode(BUNDLE["verificationMaterial"]["certificate"]["rawBytes"])
    )
    with pytest.raises(SignatureInvalid, match="is of kind"):
        check_dsse_body(json.dumps(body).encode(), payload=b"", signature=b"", signer=cert)


def test_an_in_toto_statement_whose_type_is_not_text() -> None:
    statement = {"_type": ["https://in-toto.io/Statement/v1"], "subject": []}
    envelope = DsseEnvelope("application/vnd.in-toto+json", json.dumps(statement).encode(), b"")
    with pytest.raises(SignatureInvalid, match="not an in-toto Statement"):
        check_statement_subject(envelope, "sha256:" + "0" * 64)


@pytest.mark.parametrize(
    "document",
    [
        {"mediaType": [ROOT_MEDIA_TYPE]},
        {"mediaType": ROOT_MEDIA_TYPE, "tlogs": [{"publicKey": {"keyDetails": ["PKIX_ED25519"]}}]},
    ],
)
def test_trusted_root_enumerations_that_are_not_text(document: dict[str, object]) -> None:
    with pytest.raises(TrustMaterialError, match=r"not supported|unsupported"):
        TrustedRoot.parse(json.dumps(document))
