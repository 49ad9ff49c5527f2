"""Notation's JWS envelope (``application/jose+json``): decode it and check its signature.

signature-envelope-jws.md: a flattened JWS JSON serialization with exactly the members
``payload``, ``protected``, ``header`` and ``signature``. The protected header carries
``alg`` (PS256/384/512, ES256/384/512), ``cty``, ``crit`` and the ``io.cncf.notary.*``
attributes (times as RFC 3339 strings); the unprotected header carries ``x5c``, the
certificate chain leaf first, as standard base64 DER. The signature covers the ASCII of
``BASE64URL(protected) '.' BASE64URL(payload)`` exactly as the envelope spells them.

Strictness, because every lenient decoder is a second interpretation an attacker may use:
duplicate JSON member names, non-canonical base64url, a header in both the protected and the
unprotected part (RFC 7515 §7.2.1) and unknown top-level members all fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.notation.envelope import (
    ALGORITHM_NAMES,
    H_AUTHENTIC_TIME,
    H_EXPIRY,
    H_SCHEME,
    H_SIGNING_AGENT,
    H_SIGNING_TIME,
    H_TIMESTAMP,
    MEDIA_TYPE_JWS,
    Envelope,
    load_certificates,
    parse_rfc3339,
    signed_content,
    verify_signature,
)

__all__ = ["verify_jws_envelope"]

_MEMBERS = frozenset({"payload", "protected", "header", "signature"})
# RFC 7515 §4.1: defined by JWS itself, so "crit" must not list them.
_REGISTERED = frozenset({"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def verify_jws_envelope(data: bytes) -> Envelope:
    """The envelope's content once its signature verified with its leaf certificate's key."""
    envelope = _object(data, "the JWS envelope")
    if set(envelope) != _MEMBERS:
        raise SignatureInvalid(
            f"a Notation JWS envelope has exactly the members {sorted(_MEMBERS)}, not {sorted(envelope)}"
        )
    protected_b64, payload_b64, signature_b64 = (
        _string(envelope, key) for key in ("protected", "payload", "signature")
    )
    protected = _object(_base64url(protected_b64, "protected"), "the protected header")
    unprotected = envelope["header"]
    if not isinstance(unprotected, Mapping):
        raise SignatureInvalid("the JWS unprotected header is not an object")
    both = set(protected) & set(unprotected)
    if both:
        raise SignatureInvalid(f"headers {sorted(both)} are both protected and unprotected")
    certificates = load_certificates(_x5c(unprotected.get("x5c")))
    algorithm = protected.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHM_NAMES:
        raise SignatureInvalid(f"unsupported JWS algorithm {algorithm!r}")
    payload, signature = _base64url(payload_b64, "payload"), _base64url(signature_b64, "signature")
    signing_input = f"{protected_b64}.{payload_b64}".encode("ascii")
    verify_signature(certificates[0], algorithm, signature, signing_input)
    return signed_content(
        media_type=MEDIA_TYPE_JWS,
        algorithm=algorithm,
        payload=payload,
        content_type=protected.get("cty"),
        present=protected.keys(),
        critical=protected.get("crit"),
        is_registered=lambda name: name in _REGISTERED,
        scheme=protected.get(H_SCHEME),
        signing_time=_time(protected, H_SIGNING_TIME),
        authentic_signing_time=_time(protected, H_AUTHENTIC_TIME),
        expiry=_time(protected, H_EXPIRY),
        certificates=certificates,
        signature=signature,
        timestamp_signature=_timestamp(unprotected.get(H_TIMESTAMP)),
        signing_agent=_optional_string(unprotected.get(H_SIGNING_AGENT)),
    )


def _object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data, object_pairs_hook=_unique_members)
    except (ValueError, RecursionError) as exc:
        raise SignatureInvalid(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SignatureInvalid(f"{what} is not a JSON object")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"member {key!r} appears twice")
        result[key] = value
    return result


def _string(envelope: Mapping[str, Any], key: str) -> str:
    value = envelope[key]
    if not isinstance(value, str):
        raise SignatureInvalid(f"the JWS {key} is not a string")
    return value


def _base64url(text: str, what: str) -> bytes:
    """RFC 7515 base64url: no padding, no other characters, and canonical trailing bits."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise SignatureInvalid(f"the JWS {what} is not base64url")
    decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != text:
        raise SignatureInvalid(f"the JWS {what} is not canonical base64url")
    return decoded


def _x5c(value: object) -> list[bytes]:
    if not isinstance(value, list) or not value:
        raise SignatureInvalid("the JWS unprotected header has no x5c certificate chain")
    return [_base64(item, "an x5c certificate") for item in value]


def _base64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise SignatureInvalid(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(f"{what} is not standard base64") from None


def _time(protected: Mapping[str, Any], name: str) -> Any:
    return parse_rfc3339(protected[name], name) if name in protected else None


def _timestamp(value: object) -> bytes | None:
    return None if value is None else _base64(value, f"the {H_TIMESTAMP} header")


def _optional_string(value: object) -> str | None:
    return value if isinstance(value, str) else None
