"""Pull tokens as JSON Web Tokens (RFC 7519), signed HS256 (RFC 7515 compact JWS, RFC 7518 §3.2).

HMAC rather than a key pair: pullgate both issues and verifies its tokens, every replica
holds the one shared key, and verifying is one HMAC-SHA256 per request. Clients treat the
token as opaque (distribution's token specification), so nothing outside pullgate needs
a public key.

`verify` checks, in order: (1) three base64url parts, no padding, bounded size; (2) the
header is a JSON object whose ``alg`` is exactly ``HS256`` (never ``none``, never another
algorithm chosen by the token) and whose ``kid`` names a key we hold; (3) the signature,
compared in constant time; (4) the payload is a JSON object. Claims (expiry, audience...)
are the caller's to judge. Every failure is an `InvalidToken` naming the step.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_TOKEN_LENGTH", "InvalidToken", "sign", "verify"]

MAX_TOKEN_LENGTH = 8192
_PART = re.compile(r"[A-Za-z0-9_-]*")


class InvalidToken(ValueError):
    """The token is not one of ours, or was altered."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    if not _PART.fullmatch(part) or len(part) % 4 == 1:
        raise InvalidToken("a part is not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("a part is not base64url") from exc


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidToken(f"the {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken(f"the {what} is not a JSON object")
    return value


def _mac(secret: bytes, signing_input: str) -> bytes:
    return hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()


def sign(claims: Mapping[str, Any], secret: bytes, kid: str) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    return f"{signing_input}.{_b64(_mac(secret, signing_input))}"


def verify(token: str, keys: Mapping[str, bytes]) -> dict[str, Any]:
    """The claims of a token signed with one of `keys` (by kid). Raises InvalidToken."""
    # 1. Shape.
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("the token is too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("the token is not a compact JWS (three dot-separated parts)")
    if not all(_PART.fullmatch(part) for part in parts):
        raise InvalidToken("a part is not base64url")
    header_part, payload_part, signature_part = parts
    # 2. Header: the algorithm is ours to choose, not the token's.
    header = _json_object(_unb64(header_part), "header")
    if header.get("alg") != "HS256":
        raise InvalidToken(f"algorithm {str(header.get('alg'))[:20]!r} is not accepted")
    kid = header.get("kid")
    secret = keys.get(kid) if isinstance(kid, str) else None
    if secret is None:
        raise InvalidToken("the token was not signed with a key of this pullgate")
    # 3. Signature, in constant time.
    if not hmac.compare_digest(_unb64(signature_part), _mac(secret, f"{header_part}.{payload_part}")):
        raise InvalidToken("the signature does not match")
    # 4. Payload.
    return _json_object(_unb64(payload_part), "payload")
