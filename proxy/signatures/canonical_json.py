"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes Rekor signs in a SignedEntryTimestamp.

https://www.rfc-editor.org/rfc/rfc8785 — a value is serialised as ECMAScript's ``JSON.stringify``
would, with no whitespace:

  * objects: members sorted by their names compared as arrays of UTF-16 code units (§3.2.3);
  * strings: only ``"``, ``\\`` and the C0 controls are escaped; ``\\b \\f \\n \\r \\t`` by their
    short forms, the other controls as ``\\u00xx`` in lower case; everything else as is, in UTF-8
    (§3.2.2.2);
  * numbers: IEEE 754 doubles printed as ECMAScript's Number.prototype.toString (§3.2.2.3):
    the shortest digits that round-trip, in plain notation from 1e-6 up to 1e21, exponential
    outside it; NaN and the infinities are not JSON and are refused.

Python ints are JSON integers: they are printed exactly while a double holds them exactly
(|n| <= 2**53) and refused beyond, where a JavaScript signer would already have lost digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

__all__ = ["CanonicalJsonError", "canonicalize"]

_MAX_EXACT_INT = 2**53
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class CanonicalJsonError(ValueError):
    """The value has no RFC 8785 form (NaN, infinity, a lone surrogate, an unsupported type)."""


def canonicalize(value: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (as `json.loads` returns them)."""
    parts: list[str] = []
    _write(value, parts)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates are not Unicode text (I-JSON, RFC 7493)
        raise CanonicalJsonError(f"string is not valid Unicode: {exc.reason}") from None


def _write(value: object, parts: list[str]) -> None:
    # bool before int: True is an int in Python.
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int):
        parts.append(_integer(value))
    elif isinstance(value, float):
        parts.append(_number(value))
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, Mapping):
        _object(value, parts)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        _array(value, parts)
    else:
        raise CanonicalJsonError(f"{type(value).__name__} is not a JSON value")


def _object(value: Mapping[object, object], parts: list[str]) -> None:
    for name in value:
        if not isinstance(name, str):
            raise CanonicalJsonError("object member names must be strings")
    # UTF-16BE bytes compare exactly as sequences of UTF-16 code units do.
    names = sorted(value, key=lambda name: str(name).encode("utf-16-be", "surrogatepass"))
    parts.append("{")
    for index, name in enumerate(names):
        if index:
            parts.append(",")
        parts.append(_string(str(name)))
        parts.append(":")
        _write(value[name], parts)
    parts.append("}")


def _array(value: Sequence[object], parts: list[str]) -> None:
    parts.append("[")
    for index, item in enumerate(value):
        if index:
            parts.append(",")
        _write(item, parts)
    parts.append("]")


def _string(text: str) -> str:
    out = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _integer(value: int) -> str:
    if abs(value) > _MAX_EXACT_INT:
        raise CanonicalJsonError(f"integer {value} cannot be represented exactly as an IEEE 754 double")
    return str(value)


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise CanonicalJsonError(f"{value} is not a JSON number")
    if value == 0:
        return "0"  # -0 too
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digits that round-trip, as ECMAScript requires; Decimal splits them.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)  # finite by the check above
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    k = len(digits)
    n = len(digit_tuple) + exponent  # value = 0.<digits> * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
