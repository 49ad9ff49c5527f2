"""RPM versions: ``[epoch:]version[-release]`` (EVR), ordered as rpm orders them.

`vercmp` is rpm's ``rpmvercmp`` (``rpmio/rpmvercmp.cc``): each string is read as segments of
ASCII digits or ASCII letters, anything else only separating them. ``~`` sorts before anything,
even the end of the string (``1.0~rc1 < 1.0``); ``^`` sorts after the end of the string but
before any further segment (``1.0 < 1.0^git1 < 1.0.1``). Digit segments compare as numbers and
beat letter segments; letter segments compare as bytes; the version with segments left over is
newer.

`compare` is rpm's ``rpmverCmp`` (``rpmio/rpmver.cc``), the order ``rpm.ver`` objects and
``rpm.vercmp`` on full EVR strings use: a missing epoch is 0, then version, then release,
where a missing release sorts before any release.

rpm compares any bytes; here characters outside printable ASCII, blanks, an empty version and
an empty release are refused, since rpm would treat the first as mere separators (two
versions differing only in a Greek letter would be equal) and the rest mean the string is
not an EVR at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.scanning.versions._common import checked
from proxy.scanning.versions.errors import InvalidVersion

__all__ = ["RpmVersion", "compare", "parse", "vercmp"]

_SCHEME = "rpm"


@dataclass(frozen=True, slots=True)
class RpmVersion:
    epoch: str | None  # digits as written ("" after a bare colon reads as "0"); None if absent
    version: str
    release: str | None  # None if absent


def parse(text: str) -> RpmVersion:
    """Split an EVR the way rpm's ``parseEVR`` does: the epoch is the leading digits before
    ``:``, the release is whatever follows the last ``-``."""
    evr = checked(_SCHEME, text)
    if not evr:
        raise InvalidVersion(_SCHEME, text, "empty")
    if not all("!" <= c <= "~" for c in evr):
        raise InvalidVersion(_SCHEME, text, "blanks or characters outside printable ASCII")
    digits = 0
    while digits < len(evr) and "0" <= evr[digits] <= "9":
        digits += 1
    epoch: str | None = None
    rest = evr
    if evr[digits : digits + 1] == ":":
        epoch = evr[:digits] or "0"
        rest = evr[digits + 1 :]
    version, hyphen, release = rest.rpartition("-")
    if not hyphen:
        version, release = rest, ""
    if not version:
        raise InvalidVersion(_SCHEME, text, "empty version")
    if hyphen and not release:
        raise InvalidVersion(_SCHEME, text, "empty release after '-'")
    return RpmVersion(epoch, version, release if hyphen else None)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as EVR `a` sorts before, with or after EVR `b`."""
    va, vb = parse(a), parse(b)
    return (
        vercmp(va.epoch or "0", vb.epoch or "0")
        or vercmp(va.version, vb.version)
        or _compare_optional(va.release, vb.release)
    )


def _compare_optional(a: str | None, b: str | None) -> int:
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return vercmp(a, b)


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _is_alpha(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def vercmp(a: str, b: str) -> int:
    """rpm's ``rpmvercmp`` on one field (epoch, version or release)."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i, j = _skip_separators(a, i), _skip_separators(b, j)
        ca, cb = a[i : i + 1], b[j : j + 1]  # "" at the end of the string
        if "~" in (ca, cb) or "^" in (ca, cb):
            result = _compare_marks(ca, cb)
            if result:
                return result
            i, j = i + 1, j + 1
            continue
        if not ca or not cb:
            break
        result, i, j = _compare_segments(a, i, b, j)
        if result:
            return result
    # Equal segment by segment; only separators differed, or one string has more left.
    return (i < len(a)) - (j < len(b))


def _compare_marks(ca: str, cb: str) -> int:
    """Order at a ``~`` or ``^`` in either string ("" is the end of the string)."""
    if ca == "~" or cb == "~":
        if ca == cb:
            return 0
        return -1 if ca == "~" else 1  # "~" sorts before anything, even the end
    # Like "~", except that the end of the string sorts below "^" (1.0 < 1.0^git1).
    if not ca or not cb:
        return -1 if not ca else 1
    if ca == cb:
        return 0
    return 1 if cb == "^" else -1


def _compare_segments(a: str, i: int, b: str, j: int) -> tuple[int, int, int]:
    """Compare the digit or letter segments at a[i] and b[j]; return the result and their ends."""
    numeric = _is_digit(a[i])
    kind = _is_digit if numeric else _is_alpha
    end_a, end_b = _run_end(a, i, kind), _run_end(b, j, kind)
    if end_b == j:
        # Different kinds of segment: the number is the newer one.
        return (1 if numeric else -1), end_a, end_b
    seg_a, seg_b = a[i:end_a], b[j:end_b]
    if numeric:
        # Leading zeros carry no value; then the longer number is the larger.
        seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
        if len(seg_a) != len(seg_b):
            return (1 if len(seg_a) > len(seg_b) else -1), end_a, end_b
    return (seg_a > seg_b) - (seg_a < seg_b), end_a, end_b


def _skip_separators(s: str, pos: int) -> int:
    while pos < len(s) and not (_is_digit(s[pos]) or _is_alpha(s[pos]) or s[pos] in "~^"):
        pos += 1
    return pos


def _run_end(s: str, pos: int, kind: Callable[[str], bool]) -> int:
    while pos < len(s) and kind(s[pos]):
        pos += 1
    return pos
