"""HS256 compact JWS: our algorithm, our key, our signature, or nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from proxy.gate.auth.jwt import MAX_TOKEN_LENGTH, InvalidToken, sign, verify

KEY = b"k" * 32
KEYS = {"kid1": KEY}


def _b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_signed_token_verifies_to_its_claims() -> None:
    token = sign({"sub": "robot:ci", "exp": 1}, KEY, "kid1")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "kid1"}
    assert verify(token, KEYS) == {"sub": "robot:ci", "exp": 1}


def test_tampering_and_foreign_keys_are_refused() -> None:
    header, payload, signature = sign({"sub": "robot:ci"}, KEY, "kid1").split(".")
    cases = {
        f"{header}.{_b64({'sub': 'robot:root'})}.{signature}": "signature",
        sign({"sub": "robot:ci"}, b"x" * 32, "kid1"): "signature",
        sign({"sub": "robot:ci"}, KEY, "kid2"): "not signed with a key",
        f"{_b64({'alg': 'none', 'kid': 'kid1'})}.{payload}.": "algorithm 'none'",
        f"{_b64({'alg': 'HS512', 'kid': 'kid1'})}.{payload}.{signature}": "algorithm 'HS512'",
        f"{_b64({'alg': 'RS256', 'kid': 'kid1'})}.{payload}.{signature}": "algorithm",
        f"{_b64({'alg': 'HS256', 'kid': 7})}.{payload}.{signature}": "not signed with a key",
        f"{_b64([1])}.{payload}.{signature}": "header is not a JSON object",
        f"{_b64(b'nope')}.{payload}.{signature}": "header is not JSON",
        f"{header}.{payload}": "three dot-separated parts",
        f"{header}.{payload}.{signature}.x": "three dot-separated parts",
        f"{header}.{payload}.{signature}=": "not base64url",
        f"{header}.é.{signature}": "not base64url",
        f"{header}.{payload}.A": "not base64url",
        "a" * (MAX_TOKEN_LENGTH + 1): "too long",
    }
    for token, message in cases.items():
        with pytest.raises(InvalidToken, match=message):
            verify(token, KEYS)


def test_a_signed_payload_that_is_not_an_object_is_refused() -> None:
    header = _b64({"alg": "HS256", "kid": "kid1"})
    token = sign({"x": 1}, KEY, "kid1")
    # A list payload signed with the right key: the shape check still refuses it.
    payload = _b64([1, 2])
    mac = hmac.new(KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken, match="payload is not a JSON object"):
        verify(f"{header}.{payload}.{_b64(mac)}", KEYS)
    assert verify(token, KEYS) == {"x": 1}
