"""Semantic Versioning 2.0.0 (https://semver.org/spec/v2.0.0.html).

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``: numbers without leading zeros; pre-release and
build identifiers are non-empty runs of ``[0-9A-Za-z-]``, numeric pre-release identifiers
without leading zeros.

Precedence is §11: major, minor and patch numerically; a pre-release sorts before its release;
pre-release identifiers compare left to right, numbers numerically and below words, words in
ASCII order, and a longer list wins when one is a prefix of the other. Build metadata is
ignored, so ``1.0.0+a`` and ``1.0.0+b`` compare equal.

npm's parser (node-semver, non-loose mode) also takes surrounding whitespace and a leading
``v``, and Go's takes ``vMAJOR`` and ``vMAJOR.MINOR``; `parse` does either when asked (Go's
ordering is in `proxy.scanning.versions.golang`).
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.scanning.versions._common import checked
from proxy.scanning.versions.errors import InvalidVersion

__all__ = ["SemVer", "compare", "compare_npm", "compare_parsed", "parse"]

_SCHEME = "SemVer"
_IDENT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")


@dataclass(frozen=True, slots=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()


def parse(text: str, *, prefixed: bool = False, short_forms: bool = False, scheme: str = _SCHEME) -> SemVer:
    """Parse a strict SemVer string, or one of two ecosystems' relaxations of it.

    `prefixed` is npm's: surrounding whitespace and a leading ``v`` are dropped. `short_forms`
    is Go's: a leading ``v`` is dropped and ``MAJOR`` or ``MAJOR.MINOR`` without pre-release or
    build stand for ``MAJOR.0.0`` and ``MAJOR.MINOR.0``. `scheme` names the caller in errors.
    """
    version = checked(scheme, text)
    if prefixed:
        version = version.strip(" \t\n\r\f\v")
    if prefixed or short_forms:
        version = version.removeprefix("v")
    core, plus, build_text = version.partition("+")
    core, dash, pre_text = core.partition("-")
    numbers = core.split(".")
    if short_forms and len(numbers) < 3 and not (dash or plus):
        numbers += ["0"] * (3 - len(numbers))
    if len(numbers) != 3:
        raise InvalidVersion(scheme, text, "expected MAJOR.MINOR.PATCH")
    major, minor, patch = (_number(scheme, text, n, "version number") for n in numbers)
    prerelease = _identifiers(scheme, text, pre_text, numeric_rule=True) if dash else ()
    build = _identifiers(scheme, text, build_text, numeric_rule=False) if plus else ()
    return SemVer(major, minor, patch, prerelease, build)


def _number(scheme: str, text: str, digits: str, what: str) -> int:
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidVersion(scheme, text, f"{what} {digits!r} is not a number")
    if len(digits) > 1 and digits.startswith("0"):
        raise InvalidVersion(scheme, text, f"{what} {digits!r} has a leading zero")
    return int(digits)


def _identifiers(scheme: str, text: str, joined: str, *, numeric_rule: bool) -> tuple[str, ...]:
    identifiers = tuple(joined.split("."))
    for ident in identifiers:
        if not ident or not set(ident) <= _IDENT_CHARS:
            raise InvalidVersion(scheme, text, f"identifier {ident!r} is empty or not [0-9A-Za-z-]")
        if numeric_rule and ident.isdigit():
            _number(scheme, text, ident, "pre-release identifier")
    return identifiers


def compare_parsed(a: SemVer, b: SemVer) -> int:
    """SemVer §11 precedence of two parsed versions."""
    ca, cb = (a.major, a.minor, a.patch), (b.major, b.minor, b.patch)
    if ca != cb:
        return -1 if ca < cb else 1
    if a.prerelease == b.prerelease:
        return 0
    if not a.prerelease or not b.prerelease:
        return -1 if a.prerelease else 1  # 1.0.0-alpha < 1.0.0
    for x, y in zip(a.prerelease, b.prerelease, strict=False):
        if x != y:
            return _compare_identifiers(x, y)
    return -1 if len(a.prerelease) < len(b.prerelease) else 1


def _compare_identifiers(x: str, y: str) -> int:
    x_numeric, y_numeric = x.isdigit(), y.isdigit()
    if x_numeric and y_numeric:
        return -1 if int(x) < int(y) else 1
    if x_numeric != y_numeric:
        return -1 if x_numeric else 1  # numbers sort below words
    return -1 if x < y else 1


def compare(a: str, b: str, *, prefixed: bool = False) -> int:
    """-1, 0 or 1 as `a` has lower, equal or higher precedence than `b`."""
    return compare_parsed(parse(a, prefixed=prefixed), parse(b, prefixed=prefixed))


def compare_npm(a: str, b: str) -> int:
    """`compare` with npm's leniency: surrounding whitespace and a leading ``v``."""
    return compare(a, b, prefixed=True)
