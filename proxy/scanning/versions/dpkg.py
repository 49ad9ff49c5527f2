"""Debian package versions: ``[epoch:]upstream_version[-debian_revision]``.

Ordering is Debian Policy §5.6.12 as dpkg implements it (``lib/dpkg/version.c``): the epoch
compares as a number; upstream version and revision each compare as alternating runs of
non-digits and digits. In a non-digit run ``~`` sorts before everything, even the end of the
string, then the end of the string, then letters, then every other character; digit runs
compare as numbers.

Parsing follows ``dpkg --compare-versions``: what dpkg reports as an error is refused here
(empty version, embedded blanks, an epoch that is empty, not a number or too big, nothing after
the colon, an empty upstream version or revision), while what dpkg only warns about (upstream
not starting with a digit, characters outside the policy's alphabet) is compared as dpkg would.
One addition: characters outside printable ASCII are refused, because dpkg's order for them
depends on the platform's ``char`` signedness and no real Debian version carries them.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.scanning.versions._common import checked, sign
from proxy.scanning.versions.errors import InvalidVersion

__all__ = ["DebianVersion", "compare", "parse"]

_SCHEME = "dpkg"
# dpkg stores the epoch in an int and refuses anything above INT_MAX.
_MAX_EPOCH = 2**31 - 1
_BLANKS = " \t\n\r\f\v"


@dataclass(frozen=True, slots=True)
class DebianVersion:
    epoch: int
    upstream: str
    revision: str  # "" when absent; dpkg compares it like "0"


def parse(text: str) -> DebianVersion:
    """Split a version the way dpkg's ``parseversion`` does, refusing what it refuses."""
    version = checked(_SCHEME, text).strip(_BLANKS)
    if not version:
        raise InvalidVersion(_SCHEME, text, "version string is empty")
    if any(c in _BLANKS for c in version):
        raise InvalidVersion(_SCHEME, text, "version string has embedded spaces")
    if not all("!" <= c <= "~" for c in version):
        raise InvalidVersion(_SCHEME, text, "version string has characters outside printable ASCII")
    epoch = 0
    epoch_text, colon, rest = version.partition(":")
    if colon:
        epoch = _epoch(text, epoch_text)
        if not rest:
            raise InvalidVersion(_SCHEME, text, "nothing after colon in version number")
        version = rest
    # The revision starts after the last hyphen, so the upstream part may itself hold hyphens.
    upstream, hyphen, revision = version.rpartition("-")
    if not hyphen:
        upstream, revision = version, ""
    elif not revision:
        raise InvalidVersion(_SCHEME, text, "revision number is empty")
    if not upstream:
        raise InvalidVersion(_SCHEME, text, "version number is empty")
    return DebianVersion(epoch, upstream, revision)


def _epoch(text: str, epoch: str) -> int:
    if not epoch:
        raise InvalidVersion(_SCHEME, text, "epoch in version is empty")
    # dpkg reads the epoch with strtol, which also takes a "+" sign; "-" is refused as negative.
    digits = epoch.removeprefix("+")
    if not digits:
        raise InvalidVersion(_SCHEME, text, "epoch in version is empty")
    if not digits.isascii() or not digits.isdigit():
        raise InvalidVersion(_SCHEME, text, "epoch in version is not a non-negative number")
    value = int(digits)
    if value > _MAX_EPOCH:
        raise InvalidVersion(_SCHEME, text, "epoch in version is too big")
    return value


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` under ``dpkg --compare-versions``."""
    va, vb = parse(a), parse(b)
    if va.epoch != vb.epoch:
        return -1 if va.epoch < vb.epoch else 1
    return _compare_part(va.upstream, vb.upstream) or _compare_part(va.revision, vb.revision)


def _order(char: str) -> int:
    """A character's weight within a non-digit run; the end of the string weighs 0."""
    if char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _compare_part(a: str, b: str) -> int:
    """dpkg's ``verrevcmp``: alternate non-digit runs (by weight) and digit runs (by value)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            # A digit or the end of the string weighs 0: "1.0" vs "1" compares '.' with the end.
            wa = _order(a[i]) if i < len(a) and not _is_digit(a[i]) else 0
            wb = _order(b[j]) if j < len(b) and not _is_digit(b[j]) else 0
            if wa != wb:
                return sign(wa - wb)
            i, j = i + 1, j + 1
        start_a, start_b = i, j
        while i < len(a) and _is_digit(a[i]):
            i += 1
        while j < len(b) and _is_digit(b[j]):
            j += 1
        # Leading zeros carry no value; then the longer run is the larger number.
        da, db = a[start_a:i].lstrip("0"), b[start_b:j].lstrip("0")
        if da != db:
            return -1 if (len(da), da) < (len(db), db) else 1
    return 0
