"""HTTP Range for blob GETs: one byte range, strictly parsed (RFC 9110 §14).

    Range = range-unit "=" range-set;  range-set = 1#range-spec
    range-spec = first-pos "-" [ last-pos ] / "-" suffix-length   (1*DIGIT each)

`parse_range` answers the part to send, or None to send the whole blob with 200:
  * a unit other than ``bytes`` (compared case-insensitively, §14.1) is ignored, as §14.2
    requires of an origin server;
  * a satisfiable suffix range of an empty blob is the whole (empty) blob: no 206 can
    describe zero bytes (``bytes 0--1/0``).
A malformed or unsatisfiable range answers 416 `RANGE_INVALID` instead of being ignored
(§14.2 allows rejecting an invalid one): a client that sends one has a bug worth seeing.
Several ranges in one request are refused too; no registry client asks for them. Empty list
elements (``bytes=0-9,``) are skipped, as the list syntax requires (§5.6.1.2), and optional
whitespace around an element is allowed. Positions are
ASCII digits of any length: a position beyond any blob is clamped or unsatisfiable, never an
overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.oci.errors import ErrorCode, RegistryError

__all__ = ["ByteRange", "parse_range"]

_DIGITS = frozenset("0123456789")
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = " \t"
# Past this many significant digits a position exceeds any blob (and int() would do work
# proportional to an attacker's header): it counts as "beyond the end".
_MAX_DIGITS = 19
_BEYOND = 10**_MAX_DIGITS


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"

    @property
    def length(self) -> int:
        return self.end - self.start


def parse_range(header: str, size: int) -> ByteRange | None:
    """The byte range `header` asks of a blob of `size` bytes; None: send the whole blob."""
    unit, equals, range_set = header.strip(_OWS).partition("=")
    if not equals or not unit or not _TCHAR.issuperset(unit):
        raise _invalid(f"malformed Range header {header[:100]!r} (expected bytes=START-END)", size)
    if unit.lower() != "bytes":
        return None
    specs = [spec.strip(_OWS) for spec in range_set.split(",")]
    specs = [spec for spec in specs if spec]
    if not specs:
        raise _invalid("Range names no range", size)
    if len(specs) > 1:
        raise _invalid(f"Range asks for {len(specs)} ranges; only one is served", size)
    first, dash, last = specs[0].partition("-")
    if not dash or not (first or last) or not _digits(first) or not _digits(last):
        raise _invalid(f"malformed Range header {header[:100]!r} (expected bytes=START-END)", size)
    if not first:  # suffix range: the last N bytes
        count = _number(last)
        if count == 0:
            raise _invalid("a suffix range of zero bytes is unsatisfiable", size)
        return ByteRange(max(0, size - count), size) if size else None
    start = _number(first)
    end = size if not last else _number(last) + 1
    if end <= start:
        raise _invalid(f"range end {last[:40]} is before its start {first[:40]}", size)
    if start >= size:
        raise _invalid(f"range starts at {first[:40]}, beyond the blob's {size} bytes", size)
    return ByteRange(start, min(end, size))


def _digits(text: str) -> bool:
    """Empty, or ASCII digits only (str.isdigit would take '٣' and '²')."""
    return _DIGITS.issuperset(text)


def _number(text: str) -> int:
    significant = text.lstrip("0")
    return _BEYOND if len(significant) > _MAX_DIGITS else int(significant or "0")


def _invalid(message: str, size: int) -> RegistryError:
    return RegistryError(ErrorCode.RANGE_INVALID, message, headers={"Content-Range": f"bytes */{size}"})
