"""The JWS and COSE encodings read strictly: base64url, JSON members, CBOR tags and labels."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.notation.cose import verify_cose_envelope
from proxy.signatures.notation.jws import verify_jws_envelope
from tests.support.notation import NOW, REMOVE, payload, sign_cose, sign_jws
from tests.unit.signatures.notation.helpers import Pki

DIGEST = "sha256:" + "ab" * 32
CONTENT = payload(DIGEST)


def _jws(pki: Pki, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(sign_jws(pki.ec256, pki.chain(pki.ec256), CONTENT))
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(payload=d["payload"] + "="), "payload is not base64url"),
        (lambda d: d.update(payload=d["payload"].replace("e", "+", 1)), "payload is not base64url"),
        (
            lambda d: d.update(signature=d["signature"][:-1] + ("B" if d["signature"][-1] == "A" else "A")),
            "not canonical base64url|does not match",
        ),
        (lambda d: d.update(protected=d["protected"][:-1]), "protected|base64url"),
        (lambda d: d.update(signatures=[]), "exactly the members"),
        (lambda d: d.pop("header"), "exactly the members"),
        (lambda d: d["header"].update(x5c=["not base64!"]), "not standard base64"),
        (
            lambda d: d["header"].update(x5c=[base64.b64encode(b"junk").decode()]),
            "certificate 0 of the chain cannot be read",
        ),
        (lambda d: d["header"].update(alg="ES256"), "both protected and unprotected"),
        (lambda d: d.update(header=[]), "unprotected header is not an object"),
    ],
)
def test_jws_encoding_is_strict(pki: Pki, change: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        verify_jws_envelope(_jws(pki, change))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"payload": "", "payload": ""}', "appears twice"),
        (b"\xff" * 10, "not valid JSON"),
        (b"[" * 100000, "not valid JSON"),
    ],
)
def test_jws_garbage(data: bytes, message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        verify_jws_envelope(data)


def test_jws_times_are_rfc3339(pki: Pki) -> None:
    with pytest.raises(SignatureInvalid, match="not an RFC 3339 date-time"):
        verify_jws_envelope(
            sign_jws(
                pki.ec256, pki.chain(pki.ec256), CONTENT, headers={"io.cncf.notary.signingTime": "2025-06-01"}
            )
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tag": None}, "not a tagged COSE_Sign1 message"),
        ({"tag": 98}, "not a tagged COSE_Sign1 message"),
        (
            {"headers": {"io.cncf.notary.signingTime": int(NOW.timestamp())}},
            r"not an epoch date-time \(CBOR tag 1\)",
        ),
        (
            {"headers": {"io.cncf.notary.signingTime": cbor2.CBORTag(0, "2025-06-01T00:00:00Z")}},
            "not an epoch date-time",
        ),
        ({"headers": {1: -8}}, "unsupported COSE algorithm -8"),
        ({"headers": {1: "ES256"}}, "unsupported COSE algorithm 'ES256'"),
        ({"headers": {258: -16}}, "COSE hash envelopes"),
        ({"unprotected": {1: -7}}, "both protected and unprotected"),
        ({"unprotected": {33: REMOVE}}, "no x5chain"),
    ],
)
def test_cose_rules(pki: Pki, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        verify_cose_envelope(sign_cose(pki.ec256, pki.chain(pki.ec256), CONTENT, **kwargs))


def test_cose_x5chain_may_be_protected(pki: Pki) -> None:
    ders = [c.public_bytes(Encoding.DER) for c in pki.chain(pki.ec256)]
    envelope = sign_cose(
        pki.ec256, pki.chain(pki.ec256), CONTENT, headers={33: ders}, unprotected={33: REMOVE}
    )
    assert verify_cose_envelope(envelope).certificates == tuple(pki.chain(pki.ec256))


def test_cose_detached_payload(pki: Pki) -> None:
    with pytest.raises(SignatureInvalid, match="detached"):
        verify_cose_envelope(sign_cose(pki.ec256, pki.chain(pki.ec256), None))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid CBOR"),
        (b"\xff", "not valid CBOR"),
        (b"\x81" * 5000 + b"\x00", "not valid CBOR"),
        (b"\xd2\x84" + b"\x40" * 3, "not valid CBOR"),
        (cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])), "not a non-empty map"),
        (cbor2.dumps(cbor2.CBORTag(18, [b"\xa0", {}, b"", b""])), "not a non-empty map"),
        (
            cbor2.dumps(cbor2.CBORTag(18, [b"\xa1\x01\x26", {}, b"", b""])) + b"\x00",
            "1 bytes after its CBOR item",
        ),
        (cbor2.dumps(cbor2.CBORTag(18, [b"\xa1\x01\x26", [], b"", b""])), "headers are malformed"),
        (cbor2.dumps(cbor2.CBORTag(18, [b"\xa1\x01\x26", {}, b""])), "array of four items"),
        (
            bytes.fromhex("d284") + bytes.fromhex("43a10126") + bytes.fromhex("a2182101182102") + b"\x40\x40",
            "not valid CBOR",
        ),
    ],
)
def test_cose_garbage(data: bytes, message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        verify_cose_envelope(data)
