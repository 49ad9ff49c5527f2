"""JWS and COSE envelopes: integrity, headers, algorithms; one broken rule per case."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import cbor2
import pytest

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.notation.cose import verify_cose_envelope
from proxy.signatures.notation.envelope import Envelope
from proxy.signatures.notation.jws import verify_jws_envelope
from tests.support.notation import NOW, REMOVE, payload, sign_cose, sign_jws
from tests.unit.signatures.notation.helpers import Pki

DIGEST = "sha256:" + "ab" * 32
CONTENT = payload(DIGEST)
FORMATS: dict[str, tuple[Callable[..., bytes], Callable[[bytes], Envelope]]] = {
    "jws": (sign_jws, verify_jws_envelope),
    "cose": (sign_cose, verify_cose_envelope),
}
SCHEME = "io.cncf.notary.signingScheme"
EXPIRY = "io.cncf.notary.expiry"


_LABELS = {"alg": 1, "crit": 2, "cty": 3}
_COSE_ALGS = {"PS256": -37, "PS384": -38, "ES256": -7, "ES384": -35}


def _cose_value(name: str, value: Any) -> Any:
    if name == "alg":
        return _COSE_ALGS[value]
    if name == "crit" and isinstance(value, list):
        return [_LABELS.get(item, item) for item in value]
    if isinstance(value, datetime):
        return cbor2.CBORTag(1, int(value.timestamp()))
    return value


def _headers(fmt: str, headers: dict[str, Any]) -> dict[Any, Any]:
    """Protected header overrides named as in JWS, translated to COSE labels for COSE."""
    if fmt == "jws":
        return headers
    translated: dict[Any, Any] = {}
    for name, value in headers.items():
        translated[_LABELS.get(name, name)] = _cose_value(name, value)
    return translated


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("leaf", "algorithm"), [("rsa2048", "PS256"), ("ec256", "ES256"), ("ec384", "ES384")]
)
def test_valid_envelopes(pki: Pki, fmt: str, leaf: str, algorithm: str) -> None:
    sign, verify = FORMATS[fmt]
    signer = getattr(pki, leaf)
    envelope = verify(sign(signer, pki.chain(signer), CONTENT, expiry=NOW + timedelta(days=1)))
    assert envelope.algorithm == algorithm
    assert envelope.payload == CONTENT
    assert envelope.signing_scheme == "notary.x509"
    assert envelope.signing_time == NOW - timedelta(hours=1)
    assert envelope.expiry == NOW + timedelta(days=1)
    assert envelope.certificates == tuple(pki.chain(signer))


@pytest.mark.parametrize("fmt", FORMATS)
def test_signing_authority_scheme(pki: Pki, fmt: str) -> None:
    sign, verify = FORMATS[fmt]
    envelope = verify(sign(pki.ec256, pki.chain(pki.ec256), CONTENT, scheme="notary.x509.signingAuthority"))
    assert envelope.authentic_signing_time == NOW - timedelta(hours=1)
    assert envelope.signing_time is None


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("leaf", "algorithm", "message"),
    [
        ("ec256", "PS256", "algorithm PS256 does not match the signing key, which requires ES256"),
        ("ec384", "ES256", "algorithm ES256 does not match the signing key, which requires ES384"),
        ("rsa2048", "PS384", "algorithm PS384 does not match the signing key, which requires PS256"),
        ("rsa2048", "ES256", "algorithm ES256 does not match"),
    ],
)
def test_algorithm_must_match_the_key(pki: Pki, fmt: str, leaf: str, algorithm: str, message: str) -> None:
    sign, verify = FORMATS[fmt]
    signer = getattr(pki, leaf)
    # Signed honestly with the leaf key, only the header lies: an algorithm substitution.
    with pytest.raises(SignatureInvalid, match=message):
        verify(sign(signer, pki.chain(signer), CONTENT, headers=_headers(fmt, {"alg": algorithm})))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("headers", "attributes", "message"),
    [
        (
            {"crit": [SCHEME, "com.example.audit"], "com.example.audit": "x"},
            {},
            "unknown critical header 'com.example.audit'",
        ),
        ({"crit": [SCHEME, EXPIRY]}, {}, f"header '{EXPIRY}' is listed as critical but absent"),
        (
            {"crit": [SCHEME]},
            {"expiry": NOW + timedelta(days=1)},
            f"header '{EXPIRY}' must be listed as critical",
        ),
        ({"crit": REMOVE}, {}, "no crit list"),
        ({"crit": []}, {}, "no crit list"),
        ({"crit": [SCHEME, SCHEME]}, {}, "names a header twice"),
        ({"crit": [SCHEME, "alg"]}, {}, "which the envelope format already defines"),
        ({SCHEME: "notary.x509.v2"}, {}, "unsupported signing scheme 'notary.x509.v2'"),
        ({"cty": "application/json"}, {}, "unsupported payload content type 'application/json'"),
        (
            {"io.cncf.notary.verificationPlugin": "com.example.plugin"},
            {},
            "requires a Notation verification plugin",
        ),
        ({"io.cncf.notary.signingTime": REMOVE}, {}, "needs io.cncf.notary.signingTime"),
        ({}, {"expiry": NOW - timedelta(days=1)}, "expires .* before it was made"),
    ],
)
def test_header_rules(
    pki: Pki, fmt: str, headers: dict[str, Any], attributes: dict[str, Any], message: str
) -> None:
    sign, verify = FORMATS[fmt]
    with pytest.raises(SignatureInvalid, match=message):
        verify(sign(pki.ec256, pki.chain(pki.ec256), CONTENT, headers=_headers(fmt, headers), **attributes))


@pytest.mark.parametrize("fmt", FORMATS)
def test_signing_authority_rules(pki: Pki, fmt: str) -> None:
    sign, verify = FORMATS[fmt]
    headers = _headers(fmt, {"io.cncf.notary.signingTime": NOW})
    with pytest.raises(
        SignatureInvalid,
        match=r"needs io\.cncf\.notary\.authenticSigningTime and no io\.cncf\.notary\.signingTime",
    ):
        verify(
            sign(
                pki.ec256,
                pki.chain(pki.ec256),
                CONTENT,
                scheme="notary.x509.signingAuthority",
                headers=headers,
            )
        )


@pytest.mark.parametrize("fmt", FORMATS)
def test_tampered_payload(pki: Pki, fmt: str) -> None:
    sign, verify = FORMATS[fmt]
    envelope = sign(pki.ec256, pki.chain(pki.ec256), CONTENT)
    other = payload("sha256:" + "cd" * 32)
    if fmt == "jws":
        document = json.loads(envelope)
        document["payload"] = base64.urlsafe_b64encode(other).rstrip(b"=").decode()
        tampered = json.dumps(document).encode()
    else:
        message = cbor2.loads(envelope)
        tampered = cbor2.dumps(
            cbor2.CBORTag(18, [message.value[0], dict(message.value[1]), other, message.value[3]])
        )
    with pytest.raises(SignatureInvalid, match="the signature does not match"):
        verify(tampered)


@pytest.mark.parametrize("fmt", FORMATS)
def test_chain_is_required(pki: Pki, fmt: str) -> None:
    sign, verify = FORMATS[fmt]
    with pytest.raises(SignatureInvalid, match=r"no x5c|no x5chain|carries no certificate"):
        verify(sign(pki.ec256, [], CONTENT))


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncations_and_bit_flips_never_raise_anything_but_signature_invalid(pki: Pki, fmt: str) -> None:
    sign, verify = FORMATS[fmt]
    envelope = sign(pki.rsa2048, pki.chain(pki.rsa2048), CONTENT)
    for cut in range(0, len(envelope), 97):
        with pytest.raises(SignatureInvalid):
            verify(envelope[:cut])
    for index in range(0, len(envelope), 61):
        flipped = bytearray(envelope)
        flipped[index] ^= 0x01
        try:
            verify(bytes(flipped))
        except SignatureInvalid:
            continue


ODD_VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], ["x"], [[]], {}, {"a": 1}]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "header",
    [
        "alg",
        "crit",
        "cty",
        SCHEME,
        "io.cncf.notary.signingTime",
        EXPIRY,
        "io.cncf.notary.authenticSigningTime",
    ],
)
def test_odd_header_values_only_ever_fail_as_invalid(pki: Pki, fmt: str, header: str) -> None:
    sign, verify = FORMATS[fmt]
    label = _LABELS.get(header, header) if fmt == "cose" else header
    for value in ODD_VALUES:
        odd = tuple(value) if fmt == "cose" and isinstance(value, list) else value
        envelope = sign(pki.ec256, pki.chain(pki.ec256), CONTENT, headers={label: odd})
        with pytest.raises(SignatureInvalid):
            verify(envelope)


@pytest.mark.parametrize("fmt", FORMATS)
def test_odd_unprotected_values_only_ever_fail_as_invalid(pki: Pki, fmt: str) -> None:
    sign, verify = FORMATS[fmt]
    chain_label = 33 if fmt == "cose" else "x5c"
    for value in ODD_VALUES:
        envelope = sign(pki.ec256, pki.chain(pki.ec256), CONTENT, unprotected={chain_label: value})
        with pytest.raises(SignatureInvalid):
            verify(envelope)
