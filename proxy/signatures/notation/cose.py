"""Notation's COSE envelope (``application/cose``): decode it and check its signature.

signature-envelope-cose.md: a COSE_Sign1_Tagged message (CBOR tag 18 around
``[protected, unprotected, payload, signature]``, RFC 9052 §4.2). The protected header is a
byte string holding a CBOR map: ``1`` alg (-37/-38/-39 PS256/384/512, -7/-35/-36
ES256/384/512), ``2`` crit, ``3`` content type, and the ``io.cncf.notary.*`` attributes,
times as epoch date-times (CBOR tag 1, RFC 8949 §3.4.2, which notation-core-go requires).
The unprotected map carries ``33`` x5chain (RFC 9360), leaf first; the spec allows it in the
protected map instead. The signature covers the CBOR of
``["Signature1", protected bytes, h'', payload]``; ECDSA signatures are raw r || s.

Strictness: the message must be the whole input (no trailing bytes), map keys unique, a
label in only one of the two headers (RFC 9052 §3), the payload attached. COSE hash
envelopes (label 258) are not supported.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeGuard

import cbor2

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.notation.envelope import (
    H_AUTHENTIC_TIME,
    H_EXPIRY,
    H_SCHEME,
    H_SIGNING_AGENT,
    H_SIGNING_TIME,
    H_TIMESTAMP,
    MEDIA_TYPE_COSE,
    Envelope,
    load_certificates,
    signed_content,
    verify_signature,
)

__all__ = ["verify_cose_envelope"]

COSE_SIGN1_TAG = 18
EPOCH_TAG = 1
ALG, CRIT, CONTENT_TYPE, X5CHAIN, PAYLOAD_HASH_ALG = 1, 2, 3, 33, 258
_ALGORITHMS: Mapping[int, str] = MappingProxyType(
    {-37: "PS256", -38: "PS384", -39: "PS512", -7: "ES256", -35: "ES384", -36: "ES512"}
)


def verify_cose_envelope(data: bytes) -> Envelope:
    """The envelope's content once its signature verified with its leaf certificate's key."""
    protected_raw, unprotected, payload, signature = _sign1(_decode(data, "the COSE envelope"))
    # RFC 9052 encodes an empty protected header as an empty byte string; Notation needs one.
    protected = _decode(protected_raw, "the COSE protected header") if protected_raw else None
    if not isinstance(protected, Mapping) or not protected:
        raise SignatureInvalid("the COSE protected header is not a non-empty map")
    both = set(protected) & set(unprotected)
    if both:
        raise SignatureInvalid(
            f"COSE header labels {sorted(map(str, both))} are both protected and unprotected"
        )
    if PAYLOAD_HASH_ALG in protected:
        raise SignatureInvalid("COSE hash envelopes (payload hash alg, label 258) are not supported")
    certificates = load_certificates(_x5chain(protected.get(X5CHAIN, unprotected.get(X5CHAIN))))
    alg = protected.get(ALG)
    algorithm = _ALGORITHMS.get(alg) if _is_int(alg) else None
    if algorithm is None:
        raise SignatureInvalid(f"unsupported COSE algorithm {protected.get(ALG)!r}")
    to_be_signed = cbor2.dumps(["Signature1", protected_raw, b"", payload])
    verify_signature(certificates[0], algorithm, signature, to_be_signed)
    return signed_content(
        media_type=MEDIA_TYPE_COSE,
        algorithm=algorithm,
        payload=payload,
        content_type=protected.get(CONTENT_TYPE),
        present=protected.keys(),
        critical=protected.get(CRIT),
        is_registered=_is_registered_label,
        scheme=protected.get(H_SCHEME),
        signing_time=_time(protected, H_SIGNING_TIME),
        authentic_signing_time=_time(protected, H_AUTHENTIC_TIME),
        expiry=_time(protected, H_EXPIRY),
        certificates=certificates,
        signature=signature,
        timestamp_signature=_optional(unprotected.get(H_TIMESTAMP), bytes, H_TIMESTAMP),
        signing_agent=_optional(unprotected.get(H_SIGNING_AGENT), str, H_SIGNING_AGENT),
    )


def _decode(data: bytes, what: str) -> Any:
    """One CBOR item that is all of `data`; tag-0/1 date-times are left as tags to check here."""
    stream = io.BytesIO(data)
    keep = {tag: _keep_tag(tag) for tag in (0, EPOCH_TAG)}
    try:
        decoder = cbor2.CBORDecoder(stream, semantic_decoders=keep, allow_duplicate_keys=False)
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise SignatureInvalid(f"{what} is not valid CBOR: {exc}") from None
    if stream.tell() != len(data):
        raise SignatureInvalid(f"{what} has {len(data) - stream.tell()} bytes after its CBOR item")
    return value


def _keep_tag(tag: int) -> Any:
    return lambda value, immutable: cbor2.CBORTag(tag, value)


def _sign1(message: object) -> tuple[bytes, Mapping[Any, Any], bytes, bytes]:
    if not isinstance(message, cbor2.CBORTag) or message.tag != COSE_SIGN1_TAG:
        raise SignatureInvalid("the envelope is not a tagged COSE_Sign1 message (CBOR tag 18)")
    items = message.value
    if not isinstance(items, list | tuple) or len(items) != 4:
        raise SignatureInvalid("a COSE_Sign1 message is an array of four items")
    protected, unprotected, payload, signature = items
    if not isinstance(protected, bytes) or not isinstance(unprotected, Mapping):
        raise SignatureInvalid("the COSE_Sign1 headers are malformed")
    if not isinstance(payload, bytes):
        raise SignatureInvalid("the COSE_Sign1 payload is detached or not a byte string")
    if not isinstance(signature, bytes):
        raise SignatureInvalid("the COSE_Sign1 signature is not a byte string")
    return protected, unprotected, payload, signature


def _x5chain(value: object) -> list[object]:
    if isinstance(value, bytes):  # RFC 9360: a chain of one may be a lone byte string
        return [value]
    if not isinstance(value, list | tuple) or not value:
        raise SignatureInvalid("the COSE envelope has no x5chain certificate chain (label 33)")
    return list(value)


def _time(protected: Mapping[Any, Any], name: str) -> datetime | None:
    if name not in protected:
        return None
    value = protected[name]
    if not isinstance(value, cbor2.CBORTag) or value.tag != EPOCH_TAG:
        raise SignatureInvalid(f"header {name} is not an epoch date-time (CBOR tag 1)")
    seconds = value.value
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise SignatureInvalid(f"header {name} is not a number of seconds")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureInvalid(f"header {name} is out of range: {seconds!r}") from None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_registered_label(label: object) -> bool:
    # RFC 9052 §3.1 and the Notation spec: crit never lists the labels 0 to 8.
    return _is_int(label) and 0 <= label <= 8


def _optional(value: object, kind: type, name: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise SignatureInvalid(f"header {name} is not a {kind.__name__}")
    return value
